// `schoon` in Node (>= 20): the wasm-pack `nodejs` target (www/pkg/node, CommonJS), which
// reads and instantiates the module synchronously when first imported; `init()` resolves at
// once and is kept so that code can be shared with browsers.

import { createRequire } from 'node:module';
import { makeApi, preloaded, type Bindings } from './api.js';

export type * from './api.js';

const glue = createRequire(import.meta.url)('../pkg/node/schoon.js') as Bindings;
const api = makeApi(preloaded(glue));

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
