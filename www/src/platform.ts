// `schoon/platform`: the small module without image decoders (www/pkg/web-platform): exact
// hashes, the `Filter`, `pdqFromPixels` / `pdqFromBlockMeans` / `filter.checkPixels` for pixels
// the browser decoded, and the JPEG fast path for large JPEGs. `hashBytes` reports other
// images as `errorKind: 'unsupported'`.

import * as glue from '../pkg/web-platform/schoon.js';
import { makeApi, webLoader } from './api.js';

export type * from './api.js';

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
