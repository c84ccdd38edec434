// The WebAssembly modules the guard's workers load, as static import expressions so that
// bundlers see and ship each one.

import type * as Glue from '../pkg/web/schoon.js';
import type { ModuleName } from './options.js';

export const MODULES: Record<ModuleName, () => Promise<typeof Glue>> = {
  browser: () => import('../pkg/web/schoon.js'),
  platform: () => import('../pkg/web-platform/schoon.js') as Promise<typeof Glue>,
  full: () => import('../pkg/web-full/schoon.js') as Promise<typeof Glue>,
};

/** Loads and instantiates a module (`wasmUrl`: where its .wasm is, if not next to its glue). */
export async function loadModule(name: ModuleName, wasmUrl?: string): Promise<typeof Glue> {
  const glue = await MODULES[name]();
  await glue.default(wasmUrl === undefined ? undefined : { module_or_path: wasmUrl });
  return glue;
}
