// `schoon/bundler`: for bundlers with WebAssembly ES-module integration (webpack's
// `experiments.asyncWebAssembly`, Vite with a wasm plugin): the bundler instantiates the
// module (www/pkg/bundler), so `init()` resolves at once.

import * as glue from '../pkg/bundler/schoon.js';
import { makeApi, preloaded } from './api.js';

export type * from './api.js';

const api = makeApi(preloaded(glue));

/** The module's `Filter` class. */
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
