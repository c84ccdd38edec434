// The guard's second worker: decodes the second part of a large JPEG (`jpegTail`) while the
// guard's worker decodes the first (`Filter.startImage`), so that two cores hash one photo.
// Started by guard-worker.ts as a module worker. It sees the file's bytes and nothing else,
// and answers each request once, in order.

import type * as Glue from '../pkg/web/schoon.js';
import { loadModule } from './modules.js';
import type { ModuleName } from './options.js';

export type TailRequest =
  | { type: 'init'; id: number; module: ModuleName; wasmUrl?: string }
  | { type: 'tail'; id: number; bytes: Uint8Array; split: number; maxPixels: number; maxInputBytes: number };

/** `tail`: the encoded part, or undefined where the split does not apply or failed. */
export interface TailResponse {
  id: number;
  ok: boolean;
  tail?: Uint8Array;
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
        glue = loadModule(req.module, req.wasmUrl);
        await glue;
        scope.postMessage({ id: req.id, ok: true });
        return;
      }
      const g = await (glue ?? Promise.reject(new Error('not initialised')));
      const options = { mode: 'fast' as const, maxPixels: req.maxPixels, maxInputBytes: req.maxInputBytes };
      const tail = g.jpegTail(req.bytes, req.split, options);
      if (tail === undefined) scope.postMessage({ id: req.id, ok: true });
      else scope.postMessage({ id: req.id, ok: true, tail }, [tail.buffer]);
    } catch {
      scope.postMessage({ id: req.id, ok: false });
    }
  })();
});

export {};
