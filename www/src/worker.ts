// The dedicated Web Worker behind `HashWorker`: hashes off the main thread. Start it as a
// module worker (`new Worker(url, { type: 'module' })`); it answers each request of `HashApi`
// (protocol.ts) once, in order (rpc.ts). Cancel by terminating it.

import type { Api } from './api.js';
import type { HashApi } from './protocol.js';
import { serve } from './rpc.js';

let ready: Promise<Api> | undefined;

/** The entry point of a module, imported only when asked for (static paths, for bundlers). */
async function load(module: 'browser' | 'full', wasm?: WebAssembly.Module | string): Promise<Api> {
  const api: Api = module === 'full' ? await import('./full.js') : await import('./index.js');
  await api.init(wasm);
  return api;
}

async function bytesOf(input: Uint8Array | Blob): Promise<Uint8Array> {
  return input instanceof Uint8Array ? input : new Uint8Array(await input.arrayBuffer());
}

// Requests are handled one after the other: hashing is synchronous, and the client sends the
// next request only when the previous one is answered.
serve<HashApi>({
  async init({ module, wasm }) {
    ready = load(module, wasm);
    await ready;
    return null;
  },
  async hash({ input, options }) {
    const api = await (ready ??= load('browser'));
    return api.hashBytes(await bytesOf(input), options);
  },
  async exactHashes({ input }) {
    const api = await (ready ??= load('browser'));
    return api.exactHashes(await bytesOf(input));
  },
});
