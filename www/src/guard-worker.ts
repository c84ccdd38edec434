// The upload guard's dedicated worker: keeps the verified filter and checks files against it,
// off the page's thread. Started by guard.ts as a module worker; answers each request
// (guard-protocol.ts) once, in order, with `progress` messages before a check's answer.
//
// Per file: read the Blob; start SHA-256 and SHA-1 with `crypto.subtle` (they run on the
// browser's own threads) for the kinds the filter holds; meanwhile decode and hash PDQ and
// probe the filter in WebAssembly (`filter.checkImage`, where the DCT coefficients are) or,
// for formats left to the platform, decode with the browser and `filter.checkPixels`; MD5 in
// WebAssembly only when the filter holds MD5. Nothing leaves the worker unless the filter
// flags the file; then only the flagged kinds of hashes go to `confirmUrl`.
//
// The parts: guard-state.ts (what the worker keeps), guard-engine.ts (the WebAssembly modules),
// guard-filter.ts (loading and verifying the filter), guard-check.ts (checking a file),
// guard-pdq.ts (PDQ), guard-split.ts (the second worker), guard-confirm.ts (the
// confirmation), guard-errors.ts.

import { check } from './guard-check.js';
import { ensureFilter } from './guard-filter.js';
import type { GuardRequest, GuardResponse } from './guard-protocol.js';
import { state } from './guard-state.js';
import type { Phase } from './options.js';

/** The parts of `DedicatedWorkerGlobalScope` used here (the DOM lib types `self` as a window). */
interface Scope {
  postMessage(message: GuardResponse): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<GuardRequest>) => void): void;
}
const scope = self as unknown as Scope;

async function handle(req: GuardRequest): Promise<GuardResponse> {
  try {
    switch (req.type) {
      case 'configure':
        state.config = req.config;
        return { id: req.id, type: 'done', ok: true, result: null };
      case 'filter':
        return { id: req.id, type: 'done', ok: true, result: await ensureFilter(req.refresh) };
      case 'check': {
        const progress = (phase: Phase, loaded?: number, total?: number) => {
          const p: GuardResponse = { id: req.id, type: 'progress', phase };
          if (loaded !== undefined) p.loaded = loaded;
          if (total !== undefined) p.total = total;
          scope.postMessage(p);
        };
        return { id: req.id, type: 'done', ok: true, result: await check(req.file, progress) };
      }
    }
  } catch (e) {
    const error = e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
    return { id: req.id, type: 'done', ok: false, error };
  }
}

// One request at a time, in order: the guard sends the next when this one is answered.
scope.addEventListener('message', (event) => {
  void handle(event.data).then((response) => scope.postMessage(response));
});

export {};

