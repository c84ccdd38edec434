// Checking one file in the guard worker: read it, hash it (the exact digests beside PDQ, or
// in the second worker for a large JPEG), probe the filter and, for a flagged file, ask
// `confirmUrl`.

import { digestHex } from './digest.js';
import { confirm, filterMatches } from './guard-confirm.js';
import { engineWithFilter } from './guard-engine.js';
import { GuardError, messageOf } from './guard-errors.js';
import { ensureFilter } from './guard-filter.js';
import { checkPdq } from './guard-pdq.js';
import { startSplit } from './guard-split.js';
import { need, primaryModule, state, type HashKind } from './guard-state.js';
import type { CheckResult, FileHashes, GuardErrorKind, Phase, Timings } from './options.js';
import { platformFormat } from './platform-decode.js';
import type { ExactKind } from './tail-worker.js';

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

/** Checks `file` against the held filter (loading it when due); `progress` hears each phase. */
export async function check(file: Blob, progress: (p: Phase, loaded?: number, total?: number) => void): Promise<CheckResult> {
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
    if (state.held) out.filterVersion = state.held.version;
    return out;
  };
  const fail = (kind: GuardErrorKind, message: string, code?: string, hashes?: FileHashes): CheckResult =>
    finish({
      verdict: 'error',
      allowed: c.failMode === 'open',
      error: code === undefined ? { kind, message } : { kind, message, code },
      ...(hashes ? { hashes } : {}),
    });

  if (!state.held || Date.now() >= state.held.due) {
    progress('filter');
    await ensureFilter(false);
  }
  timings.filter = performance.now() - t0;
  if (!state.held) {
    return fail('filter', state.heldError?.error?.message ?? 'no filter loaded', state.heldError?.error?.code);
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
  const format = platformFormat(primary.glue.sniffFormat(bytes));
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
