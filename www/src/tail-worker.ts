// The guard's second worker: decodes the second part of a large JPEG (`jpegTail`) and computes
// the file's exact hashes while the guard's worker decodes the first part
// (`Filter.startImage`), so that two cores hash one photo.
// Started by guard-worker.ts as a module worker. It sees the file's bytes and nothing else,
// and answers each request once, in order.

import type * as Glue from '../pkg/web/schoon.js';
import { digestHex } from './digest.js';
import { loadModule } from './modules.js';
import type { ModuleName } from './options.js';

export type TailRequest =
  | { type: 'init'; id: number; module: ModuleName; wasm: WebAssembly.Module }
  | { type: 'tail'; id: number; bytes: Uint8Array; split: number; maxPixels: number; maxInputBytes: number; exact: ExactKind[] };

export type ExactKind = 'md5' | 'sha1' | 'sha256';

/** `tail`: the encoded part, or undefined where the split does not apply or failed; the
 * exact hashes asked for, as lowercase hex. */
export interface TailResponse {
  id: number;
  ok: boolean;
  tail?: Uint8Array;
  md5?: string;
  sha1?: string;
  sha256?: string;
}

interface Scope {
  postMessage(message: TailResponse, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<TailRequest>) => void): void;
}
const scope = self as unknown as Scope;
let glue: Promise<typeof Glue> | undefined;

scope.addEventListener('message', (event) => {
  const req = event.data;
  void (async (): Promise<void> => {
    try {
      if (req.type === 'init') {
        glue = loadModule(req.module, req.wasm);
        await glue;
        scope.postMessage({ id: req.id, ok: true });
        return;
      }
      const g = await (glue ?? Promise.reject(new Error('not initialised')));
      const out: TailResponse = { id: req.id, ok: true };
      // The digests first (crypto.subtle hashes on the calling thread in Chromium).
      for (const kind of req.exact) {
        if (kind === 'md5') out.md5 = g.md5(req.bytes);
        else if (kind === 'sha1') out.sha1 = await digestHex('SHA-1', req.bytes, g.sha1);
        else out.sha256 = await digestHex('SHA-256', req.bytes, g.sha256);
      }
      const options = { mode: 'fast' as const, maxPixels: req.maxPixels, maxInputBytes: req.maxInputBytes };
      const tail = g.jpegTail(req.bytes, req.split, options);
      if (tail === undefined) {
        scope.postMessage(out);
      } else {
        out.tail = tail;
        scope.postMessage(out, [tail.buffer]);
      }
    } catch {
      scope.postMessage({ id: req.id, ok: false });
    }
  })();
});

export {};
