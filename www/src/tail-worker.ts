// The guard's second worker: decodes the second part of a large JPEG (`jpegTail`) and computes
// the file's exact hashes while the guard's worker decodes the first part
// (`Filter.startImage`), so that two cores hash one photo.
// Started by guard-worker.ts as a module worker. It sees the file's bytes and nothing else,
// and answers each request once (rpc.ts).

import type * as Glue from '../pkg/web/schoon.js';
import { digestHex } from './digest.js';
import { loadModule } from './modules.js';
import type { ModuleName } from './options.js';
import { serve, type Context } from './rpc.js';

export type ExactKind = 'md5' | 'sha1' | 'sha256';

/** `tail`'s answer: the encoded part, or undefined where the split does not apply; the exact
 * hashes asked for, as lowercase hex. */
export interface TailAnswer {
  tail?: Uint8Array;
  md5?: string;
  sha1?: string;
  sha256?: string;
}

let glue: Promise<typeof Glue> | undefined;

/** The requests of the second worker. */
export type TailApi = {
  /** Instantiates `module` from the guard worker's compiled module. */
  init(args: { module: ModuleName; wasm: WebAssembly.Module }): Promise<null>;
  /** The second part of `bytes` from `split` and the `exact` hashes. */
  tail(
    args: { bytes: Uint8Array; split: number; maxPixels: number; maxInputBytes: number; exact: ExactKind[] },
    ctx: Context,
  ): Promise<TailAnswer>;
};

serve<TailApi>({
  async init({ module, wasm }) {
    glue = loadModule(module, wasm);
    await glue;
    return null;
  },
  async tail(req, ctx) {
    const g = await (glue ?? Promise.reject(new Error('not initialised')));
    const out: TailAnswer = {};
    // The digests first (crypto.subtle hashes on the calling thread in Chromium).
    for (const kind of req.exact) {
      if (kind === 'md5') out.md5 = g.md5(req.bytes);
      else if (kind === 'sha1') out.sha1 = await digestHex('SHA-1', req.bytes, g.sha1);
      else out.sha256 = await digestHex('SHA-256', req.bytes, g.sha256);
    }
    const options = { mode: 'fast' as const, maxPixels: req.maxPixels, maxInputBytes: req.maxInputBytes };
    const tail = g.jpegTail(req.bytes, req.split, options);
    if (tail !== undefined) {
      out.tail = tail;
      ctx.transfer(tail.buffer);
    }
    return out;
  },
});
