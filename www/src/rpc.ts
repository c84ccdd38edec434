// The one request/response protocol of the package's workers (worker.ts, guard-worker.ts,
// tail-worker.ts). A request is `{ id, name, args }`; the worker answers it once with
// `{ id, ok: true, result }` or `{ id, ok: false, error }`, after any `{ id, event }` the handler
// sends (the guard's progress). Errors cross as one shape, `WireError`, and become `Error`s
// again on the other side with the same name, kind and code.
//
// In a worker: `serve({ name: handler, ... })`. On the other side: `call(worker, name, args)`, or
// JobQueue (job-queue.ts), which posts `{ id, name, args }` and hands the replies to its owner.

/** An error as it crosses `postMessage` (structured clone drops an `Error`'s own fields). */
export interface WireError {
  name: string;
  message: string;
  kind?: string;
  code?: string;
}

/** What a handler can do besides answering. */
export interface Context<E = unknown> {
  /** Sends an event (e.g. progress) ahead of the answer. */
  emit(event: E): void;
  /** Hands these buffers of the answer over instead of copying them. */
  transfer(...list: Transferable[]): void;
}

/** A worker's requests: one handler per name, taking one argument (and the context). */
export type Api = Record<string, (args: never, ctx: Context<never>) => unknown>;

/** The argument of request `N`. */
export type Args<A extends Api, N extends keyof A> = Parameters<A[N]>[0];

/** The answer to request `N`. */
export type Result<A extends Api, N extends keyof A> = Awaited<ReturnType<A[N]>>;

/** Any one request of `A` without its id: `{ name, args }`. */
export type Call<A extends Api> = { [N in keyof A & string]: { name: N; args: Args<A, N> } }[keyof A & string];

/** A request as it goes to the worker. */
export type Request<A extends Api = Api> = Call<A> & { id: number };

/** A message from the worker: an event for request `id`, or its answer. */
export type Reply<E = unknown> =
  | { id: number; event: E }
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: WireError };

/** `err` as it crosses to the other side. */
export function toWire(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const out: WireError = { name: err.name, message: err.message };
  const { kind, code } = err as { kind?: unknown; code?: unknown };
  if (typeof kind === 'string') out.kind = kind;
  if (typeof code === 'string') out.code = code;
  return out;
}

/** The error again, as an `Error` with the same name, message, kind and code. */
export function fromWire(e: WireError): Error {
  const err = new Error(e.message) as Error & { kind?: string; code?: string };
  err.name = e.name;
  if (e.kind !== undefined) err.kind = e.kind;
  if (e.code !== undefined) err.code = e.code;
  return err;
}

/** The parts of `DedicatedWorkerGlobalScope` used here (the DOM lib types `self` as a window). */
interface Scope {
  postMessage(message: Reply, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<Request>) => void): void;
}

/** Answers the requests to this worker with `handlers`, each once, as they come. */
export function serve<A extends Api>(handlers: A): void {
  const scope = self as unknown as Scope;
  scope.addEventListener('message', (event) => {
    const { id, name, args } = event.data;
    const transfer: Transferable[] = [];
    const ctx: Context = {
      emit: (e) => scope.postMessage({ id, event: e }),
      transfer: (...list) => void transfer.push(...list),
    };
    void (async (): Promise<Reply> => {
      try {
        const handler = Object.hasOwn(handlers, name) ? handlers[name] : undefined;
        if (handler === undefined) throw new Error(`unknown request '${name}'`);
        return { id, ok: true, result: await handler(args as never, ctx as Context<never>) };
      } catch (err) {
        transfer.length = 0;
        return { id, ok: false, error: toWire(err) };
      }
    })().then((reply) => scope.postMessage(reply, transfer));
  });
}

interface Pending {
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

const pending = new WeakMap<Worker, Map<number, Pending>>();
let nextId = 1;

/** The answers `worker` owes, listening to it from the first call on. When it fails (its
 * script does not load, or it throws outside a request), they reject. */
function waitingOn(worker: Worker): Map<number, Pending> {
  let waiting = pending.get(worker);
  if (waiting) return waiting;
  const w = new Map<number, Pending>();
  pending.set(worker, w);
  worker.addEventListener('message', (event: MessageEvent<Reply>) => {
    const reply = event.data;
    if ('event' in reply) return;
    const p = w.get(reply.id);
    w.delete(reply.id);
    if (reply.ok) p?.resolve(reply.result);
    else p?.reject(fromWire(reply.error));
  });
  worker.addEventListener('error', (event: ErrorEvent) => {
    for (const p of w.values()) p.reject(new Error(`the worker failed: ${event.message}`));
    w.clear();
  });
  return w;
}

/** Sends request `name` to `worker` (served by `serve`); resolves with its answer, rejects
 * with its error. `transfer` lists the buffers of `args` to hand over instead of copying. */
export function call<A extends Api, N extends keyof A & string>(
  worker: Worker,
  name: N,
  args: Args<A, N>,
  transfer: Transferable[] = [],
): Promise<Result<A, N>> {
  const waiting = waitingOn(worker);
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
    worker.postMessage({ id, name, args }, transfer);
  });
}
