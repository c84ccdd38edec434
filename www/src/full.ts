// `schoon/full`: every decoder (JPEG, PNG, WebP, GIF) and the `Filter` in one module
// (www/pkg/web-full, about 300 KB gzip): for pages that want every format decoded in
// WebAssembly, identical to the CLI. The guard fetches it only where the browser cannot decode a
// format itself.

import * as glue from '../pkg/web-full/schoon.js';
import { makeApi, webLoader } from './api.js';

export type * from './api.js';

// The full module is built without the two-worker split (`jpegTail`, `Filter.startImage`),
// which the loader never calls.
const api = makeApi(webLoader(glue as unknown as Parameters<typeof webLoader>[0]));

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
