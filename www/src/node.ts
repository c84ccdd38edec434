// `schoon` in Node (>= 20): the wasm-pack `nodejs` target (www/pkg/node, CommonJS), which
// reads and instantiates the module synchronously when first imported; `init()` resolves at
// once and is kept so that code can be shared with browsers. This build has every decoder,
// the `Filter` and the `Index`: a Node server can confirm filter candidates itself.
//
//   import { Index } from 'schoon';
//   const index = new Index(readFileSync('lists.index'), { publicKey });
//   app.post('/v1/confirm', (req, res) => res.json(index.lookup(req.body)));

import { createRequire } from 'node:module';
import type * as NodeGlue from '../pkg/node/schoon.js';
import { makeApi, preloaded, toUint8Array, type Bindings, type Bytes } from './api.js';

export type * from './api.js';
export type {
  Index as IndexInstance,
  IndexMatch,
  IndexOptions,
  LookupOptions,
  LookupQuery,
  LookupResult,
} from '../pkg/node/schoon.js';

const glue = createRequire(import.meta.url)('../pkg/node/schoon.js') as typeof NodeGlue;
const api = makeApi(preloaded(glue as unknown as Bindings));

/** The `Filter` class (verify with `new Filter(bytes, { publicKey })`). */
export const Filter = glue.Filter;
/** The `Index` class: the authoritative lookup (`new Index(bytes, { publicKey })`). */
export const Index = glue.Index;

/** Verifies and loads an index (see `Index`). */
export function loadIndex(bytes: Bytes, options: NodeGlue.IndexOptions): NodeGlue.Index {
  return new glue.Index(toUint8Array(bytes), options);
}

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
