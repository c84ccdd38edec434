// `schoon/platform`: the small module without image decoders (www/pkg/web-platform): exact
// hashes, `pdqFromPixels` / `pdqFromBlockMeans` for pixels the browser decoded, and the JPEG
// fast path for large JPEGs. `hashBytes` reports other images as `errorKind: 'unsupported'`.

import * as glue from '../pkg/web-platform/schoon.js';
import { makeApi, webLoader } from './api.js';

export type * from './api.js';

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
