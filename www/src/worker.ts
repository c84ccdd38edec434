// The dedicated Web Worker behind `HashWorker`: hashes off the main thread. Start it as a
// module worker (`new Worker(url, { type: 'module' })`); it answers each `Request` (see
// protocol.ts) with one `Response` carrying the same id, in order. Cancel by terminating it.

import type { Api } from './api.js';
import type { Request, Response, WireError } from './protocol.js';

/** The parts of `DedicatedWorkerGlobalScope` used here (the DOM lib types `self` as a
 * window). */
interface Scope {
  postMessage(message: Response): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<Request>) => void): void;
}

const scope = self as unknown as Scope;
let ready: Promise<Api> | undefined;

/** The entry point of a module, imported only when asked for (static paths, for bundlers). */
async function load(module: 'browser' | 'full', wasm?: WebAssembly.Module | string): Promise<Api> {
  const api: Api = module === 'full' ? await import('./full.js') : await import('./index.js');
  await api.init(wasm);
  return api;
}

function toWire(err: unknown): WireError {
  if (err instanceof Error) {
    const kind = (err as Error & { kind?: unknown }).kind;
    return typeof kind === 'string'
      ? { name: err.name, message: err.message, kind: kind as NonNullable<WireError['kind']> }
      : { name: err.name, message: err.message };
  }
  return { name: 'Error', message: String(err) };
}

async function bytesOf(input: Uint8Array | Blob): Promise<Uint8Array> {
  return input instanceof Uint8Array ? input : new Uint8Array(await input.arrayBuffer());
}

async function handle(req: Request): Promise<Response> {
  try {
    if (req.type === 'init') {
      ready = load(req.module, req.wasm);
      await ready;
      return { id: req.id, ok: true, result: undefined };
    }
    const api = await (ready ??= load('browser'));
    const bytes = await bytesOf(req.input);
    const result = req.type === 'hash' ? api.hashBytes(bytes, req.options) : api.exactHashes(bytes);
    return { id: req.id, ok: true, result };
  } catch (err) {
    return { id: req.id, ok: false, error: toWire(err) };
  }
}

// Requests are handled one after the other: hashing is synchronous, and the client sends the
// next request only when the previous one is answered.
scope.addEventListener('message', (event) => {
  void handle(event.data).then((response) => scope.postMessage(response));
});
