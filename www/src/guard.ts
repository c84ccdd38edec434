// `createGuard`: the upload guard. Hashing, the filter and confirmations live in a dedicated
// worker (guard-worker.ts); this side queues checks, reports progress and cancels. Aborting a
// running check terminates the worker (nothing else stops a synchronous computation); the next
// check starts a new one, which takes the filter from the cache without a download while it
// is fresh.

import type { GuardApi, WorkerConfig } from './guard-protocol.js';
import { JobQueue, type Outcome } from './job-queue.js';
import {
  GUARD_DEFAULTS,
  type CheckOptions,
  type CheckResult,
  type FilterStatus,
  type GuardOptions,
  type ModuleName,
  type Progress,
} from './options.js';
import { protect, type ProtectOptions, type Protection } from './protect.js';
import type { Call, Reply, Request } from './rpc.js';

export type * from './options.js';
export type { ProtectOptions, Protection, GuardMessages } from './protect.js';

/** The upload guard. */
export interface Guard {
  /** The options in effect (defaults filled in). */
  readonly options: Readonly<Required<Omit<GuardOptions, 'confirmUrl' | 'workerUrl'>>> &
    Pick<GuardOptions, 'confirmUrl' | 'workerUrl'>;
  /**
   * Checks a file: resolves with `{ verdict, allowed, matches?, hashes?, error?, timings }`.
   * Never rejects because of the file, the filter or the network (those give verdict
   * `'error'`, with `allowed` from `failMode`); rejects with the signal's reason on abort.
   */
  check(file: Blob, options?: CheckOptions): Promise<CheckResult>;
  /** Loads (or returns) the filter: call early to have it ready before the first file. */
  filter(): Promise<FilterStatus>;
  /** Revalidates the filter with the server now (a conditional request). */
  refresh(): Promise<FilterStatus>;
  /** Guards the file inputs of a form (or one input, or a container): see `ProtectOptions`. */
  protect(target: Element | string, options?: ProtectOptions): Protection;
  /** Stops the worker; pending checks reject with an `AbortError`. A later call starts anew. */
  close(): void;
}

type Body = Exclude<Call<GuardApi>, { name: 'configure' }>;

/** What a guard's job carries besides its request. */
interface Extra {
  onProgress: ((p: Progress) => void) | undefined;
}

function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException('the check was aborted', 'AbortError');
}

function absolute(url: string | URL): string {
  const base = typeof document !== 'undefined' ? document.baseURI : (globalThis as { location?: Location }).location?.href;
  return new URL(url, base).href;
}

/** The worker script next to this module, written out so bundlers (Vite, webpack 5) bundle it. */
function defaultWorker(): Worker {
  return new Worker(new URL('./guard-worker.js', import.meta.url), { type: 'module' });
}

function callerError(message: string): Error {
  const e = new TypeError(message) as TypeError & { kind: string };
  e.kind = 'caller';
  return e;
}

class GuardImpl implements Guard {
  readonly options: Guard['options'];
  readonly #config: WorkerConfig;
  readonly #jobs = new JobQueue<Body, Extra>(() => this.#spawn(), abortReason);

  constructor(options: GuardOptions) {
    if (options === null || typeof options !== 'object') throw callerError('createGuard needs an options object');
    if (!options.filterUrl) throw callerError('createGuard: filterUrl is required');
    if (typeof options.publicKey !== 'string' || options.publicKey.trim() === '') {
      throw callerError('createGuard: publicKey is required (the list owner’s Ed25519 key, hex)');
    }
    const known = new Set([...Object.keys(GUARD_DEFAULTS), 'filterUrl', 'publicKey']);
    for (const key of Object.keys(options)) {
      if (!known.has(key)) throw callerError(`createGuard: unknown option '${key}'`);
    }
    const merged = { ...GUARD_DEFAULTS, ...options };
    if (merged.failMode !== 'open' && merged.failMode !== 'closed') {
      throw callerError(`createGuard: failMode must be 'open' or 'closed', got '${String(merged.failMode)}'`);
    }
    if (!['auto', 'wasm', 'platform'].includes(merged.decoder)) {
      throw callerError(`createGuard: decoder must be 'auto', 'wasm' or 'platform', got '${String(merged.decoder)}'`);
    }
    this.options = merged;
    const wasmUrls: Partial<Record<ModuleName, string>> = {};
    for (const [name, url] of Object.entries(merged.wasmUrls) as [ModuleName, string | URL][]) {
      wasmUrls[name] = absolute(url);
    }
    this.#config = {
      filterUrl: absolute(merged.filterUrl),
      publicKey: merged.publicKey,
      allowUnsigned: merged.allowUnsigned,
      confirmUrl: merged.confirmUrl === undefined ? undefined : absolute(merged.confirmUrl),
      confirmHeaders: { ...merged.confirmHeaders },
      confirmCredentials: merged.confirmCredentials,
      confirmTimeout: merged.confirmTimeout,
      filterCredentials: merged.filterCredentials,
      filterTimeout: merged.filterTimeout,
      failMode: merged.failMode,
      decoder: merged.decoder,
      filterCache: merged.filterCache,
      refreshInterval: merged.refreshInterval,
      maxFileBytes: merged.maxFileBytes,
      maxPixels: merged.maxPixels,
      regions: merged.regions,
      parallel: merged.parallel,
      wasmUrls,
    };
  }

  check(file: Blob, options: CheckOptions = {}): Promise<CheckResult> {
    if (typeof Blob === 'undefined' || !(file instanceof Blob)) {
      return Promise.reject(callerError('guard.check needs a File or Blob'));
    }
    return this.#jobs.submit({ name: 'check', args: { file } }, options.signal, { onProgress: options.onProgress }) as Promise<CheckResult>;
  }

  filter(): Promise<FilterStatus> {
    return this.#jobs.submit({ name: 'filter', args: { refresh: false } }, undefined, { onProgress: undefined }) as Promise<FilterStatus>;
  }

  refresh(): Promise<FilterStatus> {
    return this.#jobs.submit({ name: 'filter', args: { refresh: true } }, undefined, { onProgress: undefined }) as Promise<FilterStatus>;
  }

  protect(target: Element | string, options: ProtectOptions = {}): Protection {
    return protect(this, target, options);
  }

  close(): void {
    this.#jobs.close(new DOMException('the guard was closed', 'AbortError'));
  }

  #spawn(): Worker {
    const url = this.options.workerUrl;
    const worker = url === undefined ? defaultWorker() : new Worker(url, { type: 'module' });
    worker.addEventListener('message', (event: MessageEvent<Reply<Progress>>) => this.#onMessage(event.data));
    worker.addEventListener('error', (event: ErrorEvent) => {
      // The script failed to load or died (e.g. out of memory): fail the running request.
      event.preventDefault();
      this.#jobs.crashed((job) => this.#workerFailed(job.body, event.message || 'the guard worker failed'));
    });
    const configure: Request<GuardApi> = { id: 0, name: 'configure', args: this.#config };
    worker.postMessage(configure);
    return worker;
  }

  /** A crashed worker is an error verdict for a check (fail mode decides), an error status
   * for the filter. */
  #workerFailed(body: Body, message: string): Outcome {
    if (body.name === 'check') {
      const result: CheckResult = {
        verdict: 'error',
        allowed: this.options.failMode === 'open',
        error: { kind: 'hash', message: `the guard worker failed: ${message}` },
        confirmed: false,
        timings: { filter: 0, read: 0, pdq: 0, exact: 0, confirm: 0, total: 0 },
      };
      return [true, result];
    }
    return [true, { state: 'error', error: { message: `the guard worker failed: ${message}` } }];
  }

  #onMessage(response: Reply<Progress>): void {
    if (response.id === 0) return; // the configuration's answer
    if ('event' in response) {
      const onProgress = this.#jobs.running(response.id)?.onProgress;
      if (onProgress) {
        try {
          onProgress(response.event);
        } catch (e) {
          reportError(e);
        }
      }
      return;
    }
    this.#jobs.answer(response.id, (job): Outcome => {
      if (response.ok) return [true, response.result];
      if (job.body.name === 'check') return this.#workerFailed(job.body, response.error.message);
      return [true, { state: 'error', error: { message: response.error.message } }];
    });
  }
}

function reportError(e: unknown): void {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(e);
  else setTimeout(() => {
    throw e;
  });
}

/**
 * Creates an upload guard.
 *
 * ```ts
 * const guard = createGuard({ filterUrl: '/schoon/filter', publicKey: '6992b9aa…', confirmUrl: '/v1/confirm' });
 * guard.protect(document.querySelector('form')!);
 * ```
 */
export function createGuard(options: GuardOptions): Guard {
  if (typeof Worker === 'undefined') {
    throw callerError('createGuard needs Web Workers (a browser page or a dedicated worker)');
  }
  return new GuardImpl(options);
}
