// `HashWorker`: hashes in a dedicated Web Worker (worker.ts) so that decoding never blocks
// the page. One request runs at a time (job-queue.ts); cancelling the running one terminates
// the worker and loses nothing else.

import type { ExactHashes, HashOptions, HashResult, Input } from './api.js';
import { JobQueue } from './job-queue.js';
import type { HashApi } from './protocol.js';
import { fromWire, type Call, type Reply, type Request } from './rpc.js';

/** Options of `new HashWorker()`. */
export interface HashWorkerOptions {
  /** The worker script (default: `worker.js` next to this module). */
  workerUrl?: string | URL;
  /**
   * Where the worker gets the WebAssembly: a URL or a compiled `WebAssembly.Module` (compile
   * once, start many workers). Default: the `.wasm` next to the glue.
   */
  wasm?: WebAssembly.Module | string | URL;
  /**
   * Which module the worker hashes with: `'browser'` (default; JPEG and PNG decoders, 240 KB
   * gzip) or `'full'` (every decoder, 300 KB gzip). `wasm`, if given, must be that module.
   */
  module?: 'browser' | 'full';
}

/** Per-request options: the hashing options plus cancellation. */
export interface WorkerHashOptions extends HashOptions {
  /** Aborting rejects the request with the signal's reason (an `AbortError` by default);
   * if it is running, the worker is terminated and a new one serves the next request. */
  signal?: AbortSignal;
}

type Body = Exclude<Call<HashApi>, { name: 'init' }>;

function abortError(signal: AbortSignal | undefined, message: string): unknown {
  return signal?.reason ?? new DOMException(message, 'AbortError');
}

/** Only `Uint8Array`s and `Blob`s cross to the worker (views are copied by `postMessage`). */
function wireInput(input: Input): Uint8Array | Blob {
  if (typeof Blob !== 'undefined' && input instanceof Blob) return input;
  if (input instanceof Uint8Array) return input;
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  return new Uint8Array(input as ArrayBuffer);
}

/**
 * Hashes off the main thread.
 *
 * ```ts
 * const hasher = new HashWorker();
 * const controller = new AbortController();
 * const r = await hasher.hash(file, { mode: 'fast', signal: controller.signal });
 * hasher.terminate(); // when done with it
 * ```
 */
export class HashWorker {
  readonly #options: HashWorkerOptions;
  readonly #jobs: JobQueue<Body>;

  constructor(options: HashWorkerOptions = {}) {
    this.#options = options;
    this.#jobs = new JobQueue<Body>(() => this.#spawn(), (signal) => abortError(signal, 'aborted'));
  }

  /** `hashBytes` in the worker. Blobs are read there. */
  hash(input: Input, options: WorkerHashOptions = {}): Promise<HashResult> {
    const { signal, ...hashOptions } = options;
    return this.#jobs.submit({ name: 'hash', args: { input: wireInput(input), options: hashOptions } }, signal, {}) as Promise<HashResult>;
  }

  /** `exactHashes` in the worker. */
  exactHashes(input: Input, options: { signal?: AbortSignal } = {}): Promise<ExactHashes> {
    return this.#jobs.submit({ name: 'exactHashes', args: { input: wireInput(input) } }, options.signal, {}) as Promise<ExactHashes>;
  }

  /** Stops the worker; pending requests reject with an `AbortError`. The next request
   * starts a new worker. */
  terminate(): void {
    this.#jobs.close(new DOMException('HashWorker terminated', 'AbortError'));
  }

  #spawn(): Worker {
    const url = this.#options.workerUrl ?? new URL('./worker.js', import.meta.url);
    const worker = new Worker(url, { type: 'module' });
    worker.addEventListener('message', (event: MessageEvent<Reply>) => {
      const response = event.data;
      // id 0 is the init reply: a failure is reported to the requests, which then fail in turn.
      if (response.id === 0 || 'event' in response) return;
      this.#jobs.answer(response.id, () => (response.ok ? [true, response.result] : [false, fromWire(response.error)]));
    });
    worker.addEventListener('error', (event: ErrorEvent) => {
      // The script failed to load or threw outside a request: fail the running request.
      event.preventDefault();
      this.#jobs.crashed(() => [false, new Error(`schoon worker failed: ${event.message}`)]);
    });
    const wasm = this.#options.wasm;
    const module = this.#options.module ?? 'browser';
    if (wasm !== undefined || module !== 'browser') {
      const init: Request<HashApi> = { id: 0, name: 'init', args: wasm === undefined ? { module } : { module, wasm: wasm instanceof URL ? wasm.href : wasm } };
      worker.postMessage(init);
    }
    return worker;
  }
}
