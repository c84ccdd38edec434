// Requests to a dedicated worker, one at a time: the others wait here, not in the worker, so
// that cancelling the running one (which terminates the worker: nothing else stops a
// synchronous computation) loses nothing else. Shared by `HashWorker` (client.ts) and the
// upload guard (guard.ts), which own the worker's messages and say how each ends. A job's body
// is an rpc.ts request without its id (`{ name, args }`).

/** A queued request: `body` goes to the worker as `{ id, ...body }` (an rpc.ts request). */
export interface Job<B> {
  readonly id: number;
  readonly body: B;
  readonly signal: AbortSignal | undefined;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  onAbort(): void;
}

/** How a job ends: resolved with a value (`ok`) or rejected with a reason. */
export type Outcome = [ok: boolean, value: unknown];

/**
 * ```ts
 * const queue = new JobQueue<Body>(spawn, (signal) => signal?.reason ?? new DOMException('aborted', 'AbortError'));
 * const answer = await queue.submit({ name: 'hash', args: { input } }, signal, {});
 * // in the worker's message listener:
 * queue.answer(response.id, () => [response.ok, response.ok ? response.result : response.error]);
 * ```
 */
export class JobQueue<B extends object, X extends object = object> {
  readonly #spawn: () => Worker;
  readonly #abortReason: (signal: AbortSignal | undefined) => unknown;
  #worker: Worker | undefined;
  #running: (Job<B> & X) | undefined;
  readonly #queue: (Job<B> & X)[] = [];
  #nextId = 1;

  /** `spawn` starts a worker (with its listeners); `abortReason` is what an aborted job
   * rejects with. */
  constructor(spawn: () => Worker, abortReason: (signal: AbortSignal | undefined) => unknown) {
    this.#spawn = spawn;
    this.#abortReason = abortReason;
  }

  /** Queues a request; `extra` rides along with the job (e.g. a progress callback). */
  submit(body: B, signal: AbortSignal | undefined, extra: X): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(this.#abortReason(signal));
        return;
      }
      const job: Job<B> & X = { ...extra, id: this.#nextId++, body, resolve, reject, signal, onAbort: () => this.#abort(job) };
      signal?.addEventListener('abort', job.onAbort, { once: true });
      this.#queue.push(job);
      this.#pump();
    });
  }

  /** The running job if `id` is its id (otherwise an answer to an aborted request). */
  running(id: number): (Job<B> & X) | undefined {
    return this.#running?.id === id ? this.#running : undefined;
  }

  /** The worker's final answer to request `id`: `outcome` says how the running job ends, and
   * the next one starts. */
  answer(id: number, outcome: (job: Job<B> & X) => Outcome): void {
    const job = this.running(id);
    if (!job) return;
    this.#running = undefined;
    this.#finish(job, outcome(job));
    this.#pump();
  }

  /** The worker failed (its script did not load, or it died): it is ended, `outcome` says
   * how the running job ends, and the next one starts in a new worker. */
  crashed(outcome: (job: Job<B> & X) => Outcome): void {
    const job = this.#running;
    this.#kill();
    this.#running = undefined;
    if (job) this.#finish(job, outcome(job));
    this.#pump();
  }

  /** Ends the worker; every pending job rejects with `reason`. The next request starts a
   * new worker. */
  close(reason: unknown): void {
    this.#kill();
    const jobs = this.#running ? [this.#running, ...this.#queue] : [...this.#queue];
    this.#running = undefined;
    this.#queue.length = 0;
    for (const job of jobs) this.#finish(job, [false, reason]);
  }

  #abort(job: Job<B> & X): void {
    if (this.#running === job) {
      this.#kill();
      this.#running = undefined;
    } else {
      const i = this.#queue.indexOf(job);
      if (i >= 0) this.#queue.splice(i, 1);
    }
    this.#finish(job, [false, this.#abortReason(job.signal)]);
    this.#pump();
  }

  #finish(job: Job<B>, [ok, value]: Outcome): void {
    job.signal?.removeEventListener('abort', job.onAbort);
    if (ok) job.resolve(value);
    else job.reject(value);
  }

  #kill(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
  }

  #pump(): void {
    if (this.#running) return;
    const job = this.#queue.shift();
    if (!job) return;
    this.#running = job;
    this.#worker ??= this.#spawn();
    this.#worker.postMessage({ id: job.id, ...job.body });
  }
}
