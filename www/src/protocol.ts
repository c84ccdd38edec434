// Messages between `HashWorker` (client.ts) and the dedicated worker (worker.ts).

import type { ErrorKind, HashOptions } from './api.js';

/** Client to worker. `id` is unique per client; the worker answers every request once. */
export type Request =
  /** Hash with this module (`'browser'` or `'full'`), instantiated from this compiled module
   * or URL instead of the `.wasm` next to the glue. */
  | { id: number; type: 'init'; module: 'browser' | 'full'; wasm?: WebAssembly.Module | string }
  | { id: number; type: 'hash'; input: Uint8Array | Blob; options?: HashOptions }
  | { id: number; type: 'exactHashes'; input: Uint8Array | Blob };

/** An error as it crosses `postMessage` (structured clone drops an `Error`'s extra fields). */
export interface WireError {
  name: string;
  message: string;
  kind?: ErrorKind;
}

/** Worker to client. */
export type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: WireError };
