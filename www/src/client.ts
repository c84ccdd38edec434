// `HashWorker`: hashes in a dedicated Web Worker (worker.ts) so that decoding never blocks
// the page. One request runs at a time; the others wait here, not in the worker, so that
// cancelling the running one (which terminates the worker) loses nothing else.

import type { ExactHashes, HashOptions, HashResult, Input } from './api.js';
import type { Request, Response, WireError } from './protocol.js';

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

type Body =
  | { type: 'hash'; input: Uint8Array | Blob; options?: HashOptions }
  | { type: 'exactHashes'; input: Uint8Array | Blob };

interface Job {
  id: number;
  body: Body;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

function abortError(signal: AbortSignal | undefined, message: string): unknown {
  return signal?.reason ?? new DOMException(message, 'AbortError');
}

function fromWire(e: WireError): Error {
  const err = new Error(e.message) as Error & { kind?: string };
  err.name = e.name;
  if (e.kind !== undefined) err.kind = e.kind;
  return err;
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
  #worker: Worker | undefined;
  #running: Job | undefined;
  readonly #queue: Job[] = [];
  #nextId = 1;

  constructor(options: HashWorkerOptions = {}) {
    this.#options = options;
  }

  /** `hashBytes` in the worker. Blobs are read there. */
  hash(input: Input, options: WorkerHashOptions = {}): Promise<HashResult> {
    const { signal, ...hashOptions } = options;
    return this.#submit({ type: 'hash', input: wireInput(input), options: hashOptions }, signal) as Promise<HashResult>;
  }

  /** `exactHashes` in the worker. */
  exactHashes(input: Input, options: { signal?: AbortSignal } = {}): Promise<ExactHashes> {
    return this.#submit({ type: 'exactHashes', input: wireInput(input) }, options.signal) as Promise<ExactHashes>;
  }

  /** Stops the worker; pending requests reject with an `AbortError`. The next request
   * starts a new worker. */
  terminate(): void {
    this.#kill();
    const jobs = this.#running ? [this.#running, ...this.#queue] : [...this.#queue];
    this.#running = undefined;
    this.#queue.length = 0;
    for (const job of jobs) this.#finish(job, false, new DOMException('HashWorker terminated', 'AbortError'));
  }

  #submit(body: Body, signal: AbortSignal | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortError(signal, 'aborted'));
        return;
      }
      const job: Job = { id: this.#nextId++, body, resolve, reject, signal, onAbort: () => this.#abort(job) };
      signal?.addEventListener('abort', job.onAbort, { once: true });
      this.#queue.push(job);
      this.#pump();
    });
  }

  #abort(job: Job): void {
    if (this.#running === job) {
      // The only way to stop a synchronous computation: end the worker.
      this.#kill();
      this.#running = undefined;
    } else {
      const i = this.#queue.indexOf(job);
      if (i >= 0) this.#queue.splice(i, 1);
    }
    this.#finish(job, false, abortError(job.signal, 'aborted'));
    this.#pump();
  }

  #finish(job: Job, ok: boolean, value: unknown): void {
    job.signal?.removeEventListener('abort', job.onAbort);
    if (ok) job.resolve(value);
    else job.reject(value);
  }

  #kill(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
  }

  #spawn(): Worker {
    const url = this.#options.workerUrl ?? new URL('./worker.js', import.meta.url);
    const worker = new Worker(url, { type: 'module' });
    worker.addEventListener('message', (event: MessageEvent<Response>) => this.#onMessage(event.data));
    worker.addEventListener('error', (event: ErrorEvent) => {
      // The script failed to load or threw outside a request: fail the running request.
      event.preventDefault();
      const job = this.#running;
      this.#kill();
      this.#running = undefined;
      if (job) this.#finish(job, false, new Error(`schoon worker failed: ${event.message}`));
      this.#pump();
    });
    const wasm = this.#options.wasm;
    const module = this.#options.module ?? 'browser';
    if (wasm !== undefined || module !== 'browser') {
      const init: Request = { id: 0, type: 'init', module };
      if (wasm !== undefined) init.wasm = wasm instanceof URL ? wasm.href : wasm;
      worker.postMessage(init);
    }
    return worker;
  }

  #onMessage(response: Response): void {
    const job = this.#running;
    if (response.id === 0) {
      // The init reply: a failure is reported to the requests, which then fail in turn.
      return;
    }
    if (!job || job.id !== response.id) return; // a reply to an aborted request
    this.#running = undefined;
    if (response.ok) this.#finish(job, true, response.result);
    else this.#finish(job, false, fromWire(response.error));
    this.#pump();
  }

  #pump(): void {
    if (this.#running) return;
    const job = this.#queue.shift();
    if (!job) return;
    this.#running = job;
    this.#worker ??= this.#spawn();
    const request: Request = { id: job.id, ...job.body };
    this.#worker.postMessage(request);
  }
}
