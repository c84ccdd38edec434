// The requests of `HashWorker` (client.ts) to its dedicated worker (worker.ts), as rpc.ts
// carries them.

import type { ExactHashes, HashOptions, HashResult } from './api.js';

/** The dedicated worker's requests. */
export type HashApi = {
  /** Hash with this module (`'browser'` or `'full'`), instantiated from this compiled module
   * or URL instead of the `.wasm` next to the glue. */
  init(args: { module: 'browser' | 'full'; wasm?: WebAssembly.Module | string }): Promise<null>;
  hash(args: { input: Uint8Array | Blob; options?: HashOptions }): Promise<HashResult>;
  exactHashes(args: { input: Uint8Array | Blob }): Promise<ExactHashes>;
};
