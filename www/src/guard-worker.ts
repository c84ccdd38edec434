// The upload guard's dedicated worker: keeps the verified filter and checks files against it,
// off the page's thread. Started by guard.ts as a module worker; answers each request
// (guard-protocol.ts) once, in order, with `progress` messages before a check's answer.
//
// Per file: read the Blob; start SHA-256 and SHA-1 with `crypto.subtle` (they run on the
// browser's own threads) for the kinds the filter holds; meanwhile decode and hash PDQ and
// probe the filter in WebAssembly (`filter.checkImage`, where the DCT coefficients are) or,
// for formats left to the platform, decode with the browser and `filter.checkPixels`; MD5 in
// WebAssembly only when the filter holds MD5. Nothing leaves the worker unless the filter
// flags the file; then only the flagged kinds of hashes go to `confirmUrl`.

import type { FileBytes, Filter } from '../pkg/web/schoon.js';
import type * as Glue from '../pkg/web/schoon.js';
import { openStore, type FilterStore, type StoredFilter } from './filter-store.js';
import type { GuardRequest, GuardResponse, WorkerConfig } from './guard-protocol.js';
import type {
  CheckResult,
  FileHashes,
  FilterStatus,
  GuardErrorKind,
  GuardMatch,
  ModuleName,
  Phase,
  Timings,
} from './options.js';
import { digestHex } from './digest.js';
import { compileModule, loadModule } from './modules.js';
import type { ExactKind, TailRequest, TailResponse } from './tail-worker.js';
import { decodeWithPlatform, hasPlatformDecoder, sniff, type SniffedFormat } from './platform-decode.js';

type HashKind = 'md5' | 'sha1' | 'sha256' | 'pdq';

/** The parts of `DedicatedWorkerGlobalScope` used here (the DOM lib types `self` as a window). */
interface Scope {
  postMessage(message: GuardResponse): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<GuardRequest>) => void): void;
}
const scope = self as unknown as Scope;

/** One instantiated WebAssembly module and the filter loaded into it. */
interface Engine {
  name: ModuleName;
  glue: typeof Glue;
  filter: Filter | undefined;
  /** The formats its decoders handle (`formats()`). */
  formats: string[];
  /** The compiled module (shared with the second worker). */
  module: WebAssembly.Module;
}


let config: WorkerConfig | undefined;
let store: FilterStore | undefined;
const engines = new Map<ModuleName, Promise<Engine>>();

/** The verified filter's bytes and facts, shared by every engine. */
interface Held {
  bytes: Uint8Array;
  version: number;
  status: FilterStatus;
  /** When the server last vouched for it (ms since the epoch). */
  fetchedAt: number;
  /** When to ask the server again: `fetchedAt + refreshInterval`, or sooner after a failed
   * attempt (so that an unreachable server costs one attempt a minute, not one per file). */
  due: number;
}

/** How long after a failed revalidation the held filter is used before trying again. */
const RETRY_MS = 60_000;
let held: Held | undefined;
let heldError: FilterStatus | undefined;
let loading: Promise<void> | undefined;

class GuardError extends Error {
  constructor(
    readonly kind: GuardErrorKind,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function primaryModule(c: WorkerConfig): ModuleName {
  if (c.decoder === 'wasm') return 'full';
  if (c.decoder === 'platform') return 'platform';
  return 'browser';
}

async function engine(name: ModuleName): Promise<Engine> {
  let e = engines.get(name);
  if (!e) {
    e = (async () => {
      const module = await compileModule(name, config?.wasmUrls[name]);
      const glue = await loadModule(name, module);
      return { name, glue, filter: undefined, formats: glue.formats(), module };
    })();
    engines.set(name, e);
    e.catch(() => engines.delete(name)); // let a later call retry (e.g. a network error)
  }
  return e;
}

/** The engine with the held filter loaded into it (verified again: each module keeps its own). */
async function engineWithFilter(name: ModuleName): Promise<Engine> {
  const e = await engine(name);
  if (!held) throw new GuardError('filter', heldError?.error?.message ?? 'no filter loaded', heldError?.error?.code);
  if (!e.filter || e.filter.version !== held.version) {
    e.filter?.free();
    e.filter = new e.glue.Filter(held.bytes, trust());
  }
  return e;
}

function trust(): { publicKey?: string; allowUnsigned?: boolean } {
  const c = need();
  return c.allowUnsigned ? { publicKey: c.publicKey, allowUnsigned: true } : { publicKey: c.publicKey };
}

function need(): WorkerConfig {
  if (!config) throw new Error('guard worker used before it was configured');
  return config;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Verifies bytes in the primary module; returns the status, or throws a refusal. */
async function verify(bytes: Uint8Array, newerThan: number | undefined): Promise<{ status: FilterStatus; version: number }> {
  const e = await engine(primaryModule(need()));
  const t = performance.now();
  const options = newerThan === undefined ? trust() : { ...trust(), newerThan };
  const filter = new e.glue.Filter(bytes, options);
  const loadMs = performance.now() - t;
  e.filter?.free();
  e.filter = filter;
  const status: FilterStatus = {
    state: 'ready',
    version: filter.version,
    created: filter.created,
    lists: filter.lists.map(({ name, category, md5, sha1, sha256, pdq }) => ({ name, category, md5, sha1, sha256, pdq })),
    kinds: filter.kinds,
    loadMs,
    bytes: bytes.length,
  };
  return { status, version: filter.version };
}

/**
 * Makes sure a verified filter is held: the kept copy while it is fresh, otherwise a
 * conditional download. A refused download (tampered, unsigned, older than the kept version)
 * never replaces a verified filter; without one the guard has no filter (fail mode).
 */
async function loadFilter(refresh: boolean): Promise<void> {
  const c = need();
  store ??= openStore(c.filterCache);
  const now = Date.now();
  if (!held) {
    const kept = await store.get(c.filterUrl);
    if (kept) {
      try {
        const { status } = await verify(kept.bytes, undefined);
        held = {
          bytes: kept.bytes,
          version: kept.version,
          status: { ...status, source: 'cache' },
          fetchedAt: kept.fetchedAt,
          due: kept.fetchedAt + c.refreshInterval,
        };
      } catch {
        // A kept copy that no longer verifies (another key pinned now) is ignored.
      }
    }
  }
  if (held && !refresh && now < held.due) return;

  const kept = await store.get(c.filterUrl);
  const headers: Record<string, string> = {};
  if (held && kept?.etag && sameBytes(kept.bytes, held.bytes)) headers['if-none-match'] = kept.etag;
  let res: Response;
  let bytes: Uint8Array;
  try {
    res = await fetch(c.filterUrl, {
      headers,
      cache: 'no-store',
      credentials: c.filterCredentials,
      signal: AbortSignal.timeout(c.filterTimeout),
    });
    bytes = res.status === 304 ? new Uint8Array(0) : new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    return refuse(`the filter could not be downloaded: ${messageOf(e)}`, 'network');
  }
  const vouched = async (etag: string | null) => {
    if (!held) return;
    held.fetchedAt = now;
    held.due = now + c.refreshInterval;
    held.status = { ...held.status, source: 'revalidated' };
    delete held.status.error;
    await store?.put(c.filterUrl, { bytes: held.bytes, etag: etag ?? kept?.etag ?? null, version: held.version, fetchedAt: now });
  };
  if (res.status === 304 && held) return vouched(res.headers.get('etag'));
  if (!res.ok) return refuse(`the filter could not be downloaded: HTTP ${res.status}`, 'http');
  if (held && sameBytes(bytes, held.bytes)) return vouched(res.headers.get('etag'));
  try {
    // A different file must be strictly newer than the one held (a replayed older filter is
    // refused even when validly signed).
    const { status, version } = await verify(bytes, (held ?? kept)?.version);
    held = { bytes, version, status: { ...status, source: 'network' }, fetchedAt: now, due: now + c.refreshInterval };
    heldError = undefined;
    const entry: StoredFilter = { bytes, etag: res.headers.get('etag'), version, fetchedAt: now };
    await store.put(c.filterUrl, entry);
  } catch (e) {
    // Refused: a held filter stays in use (the constructor threw before replacing it).
    return refuse(messageOf(e), codeOf(e));
  }
}

/** Records why the filter could not be (re)loaded. With a verified filter held, it stays. */
function refuse(message: string, code: string | undefined): void {
  const error = code === undefined ? { message } : { message, code };
  if (held) {
    held.status = { ...held.status, error };
    held.due = Date.now() + Math.min(RETRY_MS, need().refreshInterval);
  } else {
    heldError = { state: 'error', error };
  }
}

async function ensureFilter(refresh: boolean): Promise<FilterStatus> {
  loading ??= loadFilter(refresh).finally(() => {
    loading = undefined;
  });
  await loading;
  if (held) await startHelper();
  return held ? held.status : (heldError ?? { state: 'error', error: { message: 'no filter loaded' } });
}

// ---- the second worker ----------------------------------------------------------------------

/** JPEGs from this size on are decoded in two parts (a 12 MP photo has 2 to 5 MB). */
const SPLIT_MIN_BYTES = 1 << 20;
/** What the two workers' shares cost (measured in Chromium on 12 MP photos): ms per MB of
 * entropy decoding here and in the second worker, which also computes the exact hashes
 * (`crypto.subtle`; MD5 in the module) and starts a little later (the bytes are handed over
 * once they are in this worker's module). The guard's worker takes the larger part of the
 * decode (about 65 % of a 3 MB photo for a SHA-256 + PDQ filter). */
const HEAD_MS_PER_MB = 7;
const TAIL_MS_PER_MB = 8;
const TAIL_START_MS = 0.2;
const EXACT_MS_PER_MB: Record<ExactKind, number> = { md5: 3.2, sha1: 1.4, sha256: 1.6 };
/** A tail later than this is not waited for (the first part then decodes the rest). */
const TAIL_TIMEOUT_MS = 5_000;

/** The second worker: decodes the second part of large JPEGs (tail-worker.ts). */
class TailHelper {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, (r: TailResponse) => void>();
  #next = 1;
  /** Resolves true once the module is loaded there. */
  readonly ready: Promise<boolean>;
  usable = false;

  constructor(name: ModuleName, wasm: WebAssembly.Module) {
    this.#worker = new Worker(new URL('./tail-worker.js', import.meta.url), { type: 'module' });
    this.#worker.addEventListener('message', (e: MessageEvent<TailResponse>) => {
      const done = this.#waiting.get(e.data.id);
      this.#waiting.delete(e.data.id);
      done?.(e.data);
    });
    this.#worker.addEventListener('error', () => this.#fail());
    const init: TailRequest = { type: 'init', id: 0, module: name, wasm };
    this.ready = this.#send(init, []).then((r) => (this.usable = r.ok));
  }

  #send(req: TailRequest, transfer: Transferable[]): Promise<TailResponse> {
    return new Promise((resolve) => {
      this.#waiting.set(req.id, resolve);
      this.#worker.postMessage(req, transfer);
    });
  }

  #fail(): void {
    this.usable = false;
    for (const [id, done] of this.#waiting) done({ id, ok: false });
    this.#waiting.clear();
  }

  /** The encoded second part of `bytes` from `split` and the `exact` hashes; undefined if
   * the second worker failed or is late. The bytes are handed over, not copied: `bytes` is
   * empty (detached) afterwards. */
  tail(bytes: Uint8Array, split: number, exact: ExactKind[], c: WorkerConfig): Promise<TailResponse | undefined> {
    const req: TailRequest = { type: 'tail', id: this.#next++, bytes, split, maxPixels: c.maxPixels, maxInputBytes: c.maxFileBytes, exact };
    const answer = this.#send(req, [bytes.buffer]).then((r) => (r.ok ? r : undefined));
    const late = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), TAIL_TIMEOUT_MS));
    return Promise.race([answer, late]);
  }
}

let helper: TailHelper | undefined;
let helperStarted = false;

/** Starts the second worker (once) where it can help: two cores or more, option on. It gets
 * the primary engine's compiled module. */
async function startHelper(): Promise<void> {
  const c = need();
  const cores = typeof navigator !== 'undefined' ? (navigator.hardwareConcurrency ?? 1) : 1;
  if (helperStarted || !c.parallel || cores < 2 || typeof Worker === 'undefined') return;
  const name = primaryModule(c);
  if (name === 'full') return; // the full module is built without the split (size)
  helperStarted = true;
  try {
    helper = new TailHelper(name, (await engine(name)).module);
  } catch {
    // No nested workers here: one worker does everything.
  }
}

/** A split decode of a large JPEG: the file in the primary module's memory, and the second
 * worker's answer (its part and the exact hashes), on its way while this worker decodes the
 * first part. */
interface Split {
  at: number;
  file: FileBytes;
  answer: Promise<TailResponse | undefined>;
}

/** Starts a split decode of `bytes` in `e` (the primary engine): copies them into its memory
 * and hands them to the second worker (`bytes` is then empty). */
function startSplit(bytes: Uint8Array, format: SniffedFormat | undefined, exact: ExactKind[], e: Engine): Split | undefined {
  if (format !== 'jpeg' || bytes.length < SPLIT_MIN_BYTES || !helper?.usable) return undefined;
  // Equal times: this worker decodes the fraction `f`, the other `1 - f` and hashes.
  const mb = bytes.length / (1 << 20);
  const extra = exact.reduce((ms, k) => ms + EXACT_MS_PER_MB[k], 0) + TAIL_START_MS / mb;
  const f = Math.min(0.9, Math.max(0.3, (TAIL_MS_PER_MB + extra) / (HEAD_MS_PER_MB + TAIL_MS_PER_MB)));
  const at = Math.floor(bytes.length * f);
  const file = new e.glue.FileBytes(bytes);
  return { at, file, answer: helper.tail(bytes, at, exact, need()).catch(() => undefined) };
}

// ---- checking a file ------------------------------------------------------------------------

async function readBlob(file: Blob, progress: (p: Phase, loaded?: number, total?: number) => void): Promise<Uint8Array> {
  const total = file.size;
  progress('reading', 0, total);
  if (total < 4 << 20 || typeof file.stream !== 'function') {
    const bytes = new Uint8Array(await file.arrayBuffer());
    progress('reading', total, total);
    return bytes;
  }
  // Large files: one buffer, filled chunk by chunk, with progress.
  const out = new Uint8Array(total);
  const reader = file.stream().getReader();
  let loaded = 0;
  let last = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > total) throw new Error('the file grew while it was read');
    out.set(value, loaded);
    loaded += value.length;
    if (loaded - last >= 1 << 20) {
      last = loaded;
      progress('reading', loaded, total);
    }
  }
  progress('reading', loaded, total);
  return loaded === total ? out : out.subarray(0, loaded);
}

interface PdqOutcome {
  hits: HashKind[];
  hashes: Partial<FileHashes>;
}

const WASM_PREFERRED: ReadonlySet<string> = new Set(['jpeg', 'png']);

/** PDQ and the PDQ prefilter's answer, through the module or the platform decoder. */
async function checkPdq(
  bytesOf: () => Uint8Array,
  format: SniffedFormat,
  split: Split | undefined,
  progress: (p: Phase) => void,
): Promise<PdqOutcome> {
  const c = need();
  const primary = await engineWithFilter(primaryModule(c));
  const limits = { mode: 'fast' as const, maxPixels: c.maxPixels, maxInputBytes: c.maxFileBytes, regions: c.regions };
  const viaWasm = async (e: Engine, split?: Split): Promise<PdqOutcome> => {
    // A large photo: this worker decodes the first part while the second worker decodes the
    // rest; the joined answer is checkImage's, bit for bit.
    let tail: Uint8Array | undefined;
    let r;
    if (split) {
      const head = e.filter!.startImage(split.file, split.at, limits);
      tail = head.split ? (await split.answer)?.tail : undefined;
      r = e.filter!.finishImage(head, split.file, tail);
    } else {
      r = e.filter!.checkImage(bytesOf(), limits);
    }
    const parts = tail !== undefined ? { parts: 2 } : {};
    return {
      hits: r.kinds as HashKind[],
      hashes: { pdq: r.pdq, quality: r.quality, pdqDihedral: r.pdqDihedral, ...windowsOf(r.windows), format: r.format, width: r.width, height: r.height, decoder: 'wasm', ...parts },
    };
  };
  // 1. This module decodes the format (or, for large JPEGs, takes the fast path without a
  //    decoder): the measured fastest path, identical to the CLI.
  if (primary.formats.includes(format) || format === 'jpeg') {
    progress('hashing');
    try {
      return await viaWasm(primary, split);
    } catch (e) {
      if ((e as { kind?: string }).kind !== 'unsupported') throw e;
      // The platform module has no JPEG decoder for small or unusual JPEGs: fall through.
    }
  }
  // 2. The browser's decoder, pixels into the core's PDQ.
  const preferWasm = c.decoder === 'wasm' || (c.decoder === 'auto' && WASM_PREFERRED.has(format));
  if (!preferWasm && hasPlatformDecoder()) {
    progress('decoding');
    try {
      const px = await decodeWithPlatform(bytesOf(), format);
      progress('hashing');
      const r = primary.filter!.checkPixels(px.data, px.width, px.height, 4, { mode: 'fast', maxPixels: c.maxPixels, regions: c.regions });
      return {
        hits: r.kinds as HashKind[],
        hashes: { pdq: r.pdq, quality: r.quality, pdqDihedral: r.pdqDihedral, ...windowsOf(r.windows), format, width: px.width, height: px.height, decoder: 'platform' },
      };
    } catch {
      // No usable platform decoder for this file: try the full module.
    }
  }
  // 3. The module with every decoder, fetched only now.
  progress('decoding');
  const full = await engineWithFilter('full');
  progress('hashing');
  return await viaWasm(full);
}

/** The region windows the filter flagged, if any (a crop, small turn or caption). */
function windowsOf(windows: string[] | undefined): { windows?: string[] } {
  return windows !== undefined && windows.length > 0 ? { windows } : {};
}

function filterMatches(kinds: HashKind[]): GuardMatch[] {
  const lists = held?.status.lists ?? [];
  const only = lists.length === 1 ? lists[0] : undefined;
  return kinds.map((kind) => ({ list: only?.name ?? null, category: only?.category ?? null, kind, distance: null }));
}

/** The confirmation: only the hashes of the kinds the filter flagged. */
async function confirm(hashes: FileHashes, kinds: HashKind[]): Promise<{ verdict: 'match' | 'clean'; matches: GuardMatch[] }> {
  const c = need();
  const body: Record<string, unknown> = {};
  for (const k of kinds) {
    if (k === 'pdq') {
      body.pdq = hashes.pdq;
      body.quality = hashes.quality;
      body.pdq_dihedral = hashes.pdqDihedral;
      if (hashes.windows !== undefined) body.windows = hashes.windows;
    } else {
      body[k] = hashes[k];
    }
  }
  let res: Response;
  try {
    res = await fetch(c.confirmUrl as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...c.confirmHeaders },
      body: JSON.stringify(body),
      credentials: c.confirmCredentials,
      cache: 'no-store',
      signal: AbortSignal.timeout(c.confirmTimeout),
    });
  } catch (e) {
    throw new GuardError('confirm', `the confirmation request failed: ${messageOf(e)}`);
  }
  if (!res.ok) throw new GuardError('confirm', `the confirmation request failed: HTTP ${res.status}`);
  let answer: unknown;
  try {
    answer = await res.json();
  } catch {
    throw new GuardError('confirm', 'the confirmation answer is not JSON');
  }
  const a = answer as { verdict?: unknown; matches?: unknown };
  if ((a.verdict !== 'match' && a.verdict !== 'clean') || !Array.isArray(a.matches)) {
    throw new GuardError('confirm', 'the confirmation answer has no verdict');
  }
  const matches: GuardMatch[] = a.matches.map((m: Record<string, unknown>) => {
    const out: GuardMatch = {
      list: typeof m.list === 'string' ? m.list : null,
      category: typeof m.category === 'string' ? m.category : null,
      kind: m.kind as HashKind,
      distance: typeof m.distance === 'number' ? m.distance : null,
    };
    if (typeof m.variant === 'string') out.variant = m.variant;
    if (typeof m.region === 'string') out.region = m.region;
    return out;
  });
  return { verdict: a.verdict, matches };
}

async function check(file: Blob, progress: (p: Phase, loaded?: number, total?: number) => void): Promise<CheckResult> {
  const cleanup: (() => void)[] = [];
  try {
    return await checkFile(file, progress, cleanup);
  } finally {
    for (const f of cleanup) f();
  }
}

/** `check`; what it leaves to free goes into `cleanup`. */
async function checkFile(
  file: Blob,
  progress: (p: Phase, loaded?: number, total?: number) => void,
  cleanup: (() => void)[],
): Promise<CheckResult> {
  const c = need();
  const t0 = performance.now();
  const timings: Timings = { filter: 0, read: 0, pdq: 0, exact: 0, confirm: 0, total: 0 };
  const finish = (r: Omit<CheckResult, 'timings' | 'confirmed'> & { confirmed?: boolean }): CheckResult => {
    timings.total = performance.now() - t0;
    const out: CheckResult = { confirmed: false, ...r, timings };
    if (held) out.filterVersion = held.version;
    return out;
  };
  const fail = (kind: GuardErrorKind, message: string, code?: string, hashes?: FileHashes): CheckResult =>
    finish({
      verdict: 'error',
      allowed: c.failMode === 'open',
      error: code === undefined ? { kind, message } : { kind, message, code },
      ...(hashes ? { hashes } : {}),
    });

  if (!held || Date.now() >= held.due) {
    progress('filter');
    await ensureFilter(false);
  }
  timings.filter = performance.now() - t0;
  if (!held) {
    return fail('filter', heldError?.error?.message ?? 'no filter loaded', heldError?.error?.code);
  }
  if (file.size > c.maxFileBytes) {
    return fail('limit', `the file has ${file.size} bytes, more than the limit of ${c.maxFileBytes}`);
  }

  let bytes: Uint8Array;
  const tRead = performance.now();
  try {
    bytes = await readBlob(file, progress);
  } catch (e) {
    return fail('read', `the file could not be read: ${messageOf(e)}`);
  }
  timings.read = performance.now() - tRead;

  const primary = await engineWithFilter(primaryModule(c));
  const filter = primary.filter!;
  const kinds = filter.kinds as HashKind[];
  const hashes: FileHashes = { bytes: bytes.length };

  // A large JPEG: the bytes go into the module's memory, and on to the second worker (handed
  // over, not copied), which decodes the second part and computes the exact hashes while
  // this one decodes the first part. Otherwise the platform's digests start here
  // (synchronously, in Chromium) and PDQ follows.
  const format = sniff(bytes);
  const exactKinds = kinds.filter((k): k is ExactKind => k !== 'pdq');
  const split = kinds.includes('pdq') ? startSplit(bytes, format, exactKinds, primary) : undefined;
  if (split) cleanup.push(() => split.file.free());
  // After a split the bytes are in the module (and the second worker); a fallback that
  // needs them here gets a copy.
  const bytesOf = (): Uint8Array => {
    if (split && bytes.byteLength !== hashes.bytes) bytes = split.file.toBytes();
    return bytes;
  };
  const tExact = performance.now();
  const digest = (algo: 'SHA-256' | 'SHA-1', fallback: (b: Uint8Array) => string): Promise<string> =>
    digestHex(algo, bytesOf(), fallback);
  const sha256 = !split && kinds.includes('sha256') ? digest('SHA-256', primary.glue.sha256) : undefined;
  const sha1 = !split && kinds.includes('sha1') ? digest('SHA-1', primary.glue.sha1) : undefined;
  // Keep both promises observed so a rejection is never unhandled while PDQ runs.
  sha256?.catch(() => undefined);
  sha1?.catch(() => undefined);

  let pdqHits: HashKind[] = [];
  if (kinds.includes('pdq')) {
    const tPdq = performance.now();
    if (format === undefined) {
      hashes.decoder = 'none';
      hashes.pdqError = 'not an image format schoon knows';
    } else {
      try {
        const out = await checkPdq(bytesOf, format, split, progress);
        pdqHits = out.hits;
        Object.assign(hashes, out.hashes);
      } catch (e) {
        if (e instanceof GuardError) return fail(e.kind, e.message, e.code);
        const kind = (e as { name?: unknown; kind?: unknown }).kind;
        if ((e as { name?: unknown }).name !== 'SchoonError') {
          // Not the file's fault (a module failed to load, the platform decoder broke).
          return fail('hash', `hashing failed: ${messageOf(e)}`);
        }
        if (kind === 'limit') return fail('limit', messageOf(e));
        // The file does not decode: the exact hashes still decide, as for `schoon scan`.
        hashes.decoder = 'none';
        hashes.pdqError = messageOf(e);
      }
    }
    timings.pdq = performance.now() - tPdq;
  } else {
    hashes.decoder = 'none';
  }

  progress('hashing');
  // From the second worker when it had the file (here if it failed).
  const helped = split ? await split.answer : undefined;
  if (kinds.includes('md5')) hashes.md5 = helped?.md5 ?? primary.glue.md5(bytesOf());
  try {
    if (kinds.includes('sha1')) hashes.sha1 = helped?.sha1 ?? (await (sha1 ?? digest('SHA-1', primary.glue.sha1)));
    if (kinds.includes('sha256')) hashes.sha256 = helped?.sha256 ?? (await (sha256 ?? digest('SHA-256', primary.glue.sha256)));
  } catch (e) {
    return fail('hash', `hashing failed: ${messageOf(e)}`);
  }
  timings.exact = performance.now() - tExact - timings.pdq;

  progress('checking');
  const exact: { md5?: string; sha1?: string; sha256?: string } = {};
  if (hashes.md5 !== undefined) exact.md5 = hashes.md5;
  if (hashes.sha1 !== undefined) exact.sha1 = hashes.sha1;
  if (hashes.sha256 !== undefined) exact.sha256 = hashes.sha256;
  const exactCheck = filter.checkExact(exact);
  // A file on the set's allow-list of known innocent images (by an exact hash) is clean, whatever
  // its PDQ hit: the index would give it no matches of any kind.
  if (exactCheck.allowed !== undefined) return finish({ verdict: 'clean', allowed: true, hashes });
  const exactHits = exactCheck.kinds as HashKind[];
  const flagged = [...exactHits, ...pdqHits];
  if (flagged.length === 0) return finish({ verdict: 'clean', allowed: true, hashes });

  if (c.confirmUrl === undefined) {
    return finish({ verdict: 'blocked', allowed: false, matches: filterMatches(flagged), hashes });
  }
  progress('confirming');
  const tConfirm = performance.now();
  try {
    const answer = await confirm(hashes, flagged);
    timings.confirm = performance.now() - tConfirm;
    return answer.verdict === 'match'
      ? finish({ verdict: 'blocked', allowed: false, matches: answer.matches, hashes, confirmed: true })
      : finish({ verdict: 'clean', allowed: true, hashes, confirmed: true });
  } catch (e) {
    timings.confirm = performance.now() - tConfirm;
    return fail('confirm', messageOf(e), undefined, hashes);
  }
}

// ---- messages -------------------------------------------------------------------------------

async function handle(req: GuardRequest): Promise<GuardResponse> {
  try {
    switch (req.type) {
      case 'configure':
        config = req.config;
        return { id: req.id, type: 'done', ok: true, result: null };
      case 'filter':
        return { id: req.id, type: 'done', ok: true, result: await ensureFilter(req.refresh) };
      case 'check': {
        const progress = (phase: Phase, loaded?: number, total?: number) => {
          const p: GuardResponse = { id: req.id, type: 'progress', phase };
          if (loaded !== undefined) p.loaded = loaded;
          if (total !== undefined) p.total = total;
          scope.postMessage(p);
        };
        return { id: req.id, type: 'done', ok: true, result: await check(req.file, progress) };
      }
    }
  } catch (e) {
    const error = e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
    return { id: req.id, type: 'done', ok: false, error };
  }
}

// One request at a time, in order: the guard sends the next when this one is answered.
scope.addEventListener('message', (event) => {
  void handle(event.data).then((response) => scope.postMessage(response));
});

export {};
