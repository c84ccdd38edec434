// `schoon` in browsers and Web Workers: the WebAssembly module with JPEG, PNG, WebP and GIF
// decoders (wasm-pack `web` target, www/pkg/web). Call `init()` once, or use `hash()`,
// which does, or `HashWorker` to hash off the main thread.

import * as glue from '../pkg/web/schoon.js';
import { makeApi, webLoader } from './api.js';

export type * from './api.js';
export { HashWorker, type HashWorkerOptions, type WorkerHashOptions } from './client.js';

const api = makeApi(webLoader(glue));

export const {
  init,
  initSync,
  isReady,
  hashBytes,
  hash,
  hashImage,
  exactHashes,
  pdqFromPixels,
  pdqFromBlockMeans,
  version,
  formats,
} = api;
export default init;
