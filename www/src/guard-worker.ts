// The upload guard's dedicated worker: keeps the verified filter and checks files against it,
// off the page's thread. Started by guard.ts as a module worker; answers each request
// (guard-protocol.ts) once (rpc.ts), in order, with `progress` messages before a check's answer.
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
import type { GuardApi } from './guard-protocol.js';
import { state } from './guard-state.js';
import type { Phase, Progress } from './options.js';
import { serve } from './rpc.js';

// One request at a time, in order: the guard sends the next when this one is answered.
serve<GuardApi>({
  configure(config) {
    state.config = config;
    return null;
  },
  filter({ refresh }) {
    return ensureFilter(refresh);
  },
  check({ file }, ctx) {
    const progress = (phase: Phase, loaded?: number, total?: number) => {
      const p: Progress = { phase };
      if (loaded !== undefined) p.loaded = loaded;
      if (total !== undefined) p.total = total;
      ctx.emit(p);
    };
    return check(file, progress);
  },
});
