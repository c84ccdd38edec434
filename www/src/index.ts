// `schoon` in browsers and Web Workers: the WebAssembly module with the JPEG and PNG decoders and
// the `Filter` (wasm-pack `web` target, www/pkg/web; WebP, GIF and BMP are decoded by the
// browser in the guard, or by `schoon/full`). Call `init()` once, or use `hash()`, which does;
// `HashWorker` hashes off the main thread; `createGuard` is the upload guard.

import * as glue from '../pkg/web/schoon.js';
import { makeApi, webLoader } from './api.js';

export type * from './api.js';
export { HashWorker, type HashWorkerOptions, type WorkerHashOptions } from './client.js';
export { createGuard, type Guard } from './guard.js';
export type * from './guard.js';
export { defineSchoonUpload, schoonUploadClass } from './element.js';
export { DEFAULT_MESSAGES } from './protect.js';
export { GUARD_DEFAULTS } from './options.js';

const api = makeApi(webLoader(glue));

/** The module's `Filter` class (construct after `init()`; `loadFilter` checks that). */
export const Filter = glue.Filter;

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
  sniffFormat,
  md5,
  sha1,
  sha256,
  loadFilter,
} = api;
export default init;
