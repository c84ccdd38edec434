// The guard worker's WebAssembly modules: compiled and instantiated once each, on first use,
// and the held filter loaded into them.

import { GuardError } from './guard-errors.js';
import { state, trust, type Engine } from './guard-state.js';
import { compileModule, loadModule } from './modules.js';
import type { ModuleName } from './options.js';

/** The module `name`, instantiated (once; a failed load is tried again by the next call). */
export async function engine(name: ModuleName): Promise<Engine> {
  let e = state.engines.get(name);
  if (!e) {
    e = (async () => {
      const module = await compileModule(name, state.config?.wasmUrls[name]);
      const glue = await loadModule(name, module);
      return { name, glue, filter: undefined, formats: glue.formats(), module };
    })();
    state.engines.set(name, e);
    e.catch(() => state.engines.delete(name)); // let a later call retry (e.g. a network error)
  }
  return e;
}

/** The engine with the held filter loaded into it (verified again: each module keeps its own). */
export async function engineWithFilter(name: ModuleName): Promise<Engine> {
  const e = await engine(name);
  if (!state.held) throw new GuardError('filter', state.heldError?.error?.message ?? 'no filter loaded', state.heldError?.error?.code);
  if (!e.filter || e.filter.version !== state.held.version) {
    e.filter?.free();
    e.filter = new e.glue.Filter(state.held.bytes, trust());
  }
  return e;
}
