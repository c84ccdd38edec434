// The guard's second worker (tail-worker.ts): decodes the second part of large JPEGs and
// computes their exact hashes while the guard's worker decodes the first part.

import type { FileBytes } from '../pkg/web/schoon.js';
import type { WorkerConfig } from './guard-protocol.js';
import { engine } from './guard-engine.js';
import { need, primaryModule, state, type Engine, type Helper } from './guard-state.js';
import type { ModuleName } from './options.js';
import type { SniffedFormat } from './platform-decode.js';
import { call } from './rpc.js';
import type { ExactKind, TailAnswer, TailApi } from './tail-worker.js';

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
class TailHelper implements Helper {
  readonly #worker: Worker;
  /** Resolves true once the module is loaded there. */
  readonly ready: Promise<boolean>;
  usable = false;

  constructor(name: ModuleName, wasm: WebAssembly.Module) {
    this.#worker = new Worker(new URL('./tail-worker.js', import.meta.url), { type: 'module' });
    this.#worker.addEventListener('error', () => (this.usable = false));
    this.ready = call<TailApi, 'init'>(this.#worker, 'init', { module: name, wasm }).then(
      () => (this.usable = true),
      () => (this.usable = false),
    );
  }

  /** The encoded second part of `bytes` from `split` and the `exact` hashes; undefined if
   * the second worker failed or is late. The bytes are handed over, not copied: `bytes` is
   * empty (detached) afterwards. */
  tail(bytes: Uint8Array, split: number, exact: ExactKind[], c: WorkerConfig): Promise<TailAnswer | undefined> {
    const args = { bytes, split, maxPixels: c.maxPixels, maxInputBytes: c.maxFileBytes, exact };
    const answer = call<TailApi, 'tail'>(this.#worker, 'tail', args, [bytes.buffer]).catch(() => undefined);
    const late = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), TAIL_TIMEOUT_MS));
    return Promise.race([answer, late]);
  }
}

/** Starts the second worker (once) where it can help: two cores or more, option on. It gets
 * the primary engine's compiled module. */
export async function startHelper(): Promise<void> {
  const c = need();
  const cores = typeof navigator !== 'undefined' ? (navigator.hardwareConcurrency ?? 1) : 1;
  if (state.helperStarted || !c.parallel || cores < 2 || typeof Worker === 'undefined') return;
  const name = primaryModule(c);
  if (name === 'full') return; // the full module is built without the split (size)
  state.helperStarted = true;
  try {
    state.helper = new TailHelper(name, (await engine(name)).module);
  } catch {
    // No nested workers here: one worker does everything.
  }
}

/** A split decode of a large JPEG: the file in the primary module's memory, and the second
 * worker's answer (its part and the exact hashes), on its way while this worker decodes the
 * first part. */
export interface Split {
  at: number;
  file: FileBytes;
  answer: Promise<TailAnswer | undefined>;
}

/** Starts a split decode of `bytes` in `e` (the primary engine): copies them into its memory
 * and hands them to the second worker (`bytes` is then empty). */
export function startSplit(bytes: Uint8Array, format: SniffedFormat | undefined, exact: ExactKind[], e: Engine): Split | undefined {
  if (format !== 'jpeg' || bytes.length < SPLIT_MIN_BYTES || !state.helper?.usable) return undefined;
  // Equal times: this worker decodes the fraction `f`, the other `1 - f` and hashes.
  const mb = bytes.length / (1 << 20);
  const extra = exact.reduce((ms, k) => ms + EXACT_MS_PER_MB[k], 0) + TAIL_START_MS / mb;
  const f = Math.min(0.9, Math.max(0.3, (TAIL_MS_PER_MB + extra) / (HEAD_MS_PER_MB + TAIL_MS_PER_MB)));
  const at = Math.floor(bytes.length * f);
  const file = new e.glue.FileBytes(bytes);
  return { at, file, answer: state.helper.tail(bytes, at, exact, need()).catch(() => undefined) };
}
