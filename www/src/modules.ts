// The WebAssembly modules the guard's workers load, as static import expressions (and asset
// URLs) so that bundlers see and ship each one.

import type * as Glue from '../pkg/web/schoon.js';
import type { ModuleName } from './options.js';

export const MODULES: Record<ModuleName, () => Promise<typeof Glue>> = {
  browser: () => import('../pkg/web/schoon.js'),
  platform: () => import('../pkg/web-platform/schoon.js') as Promise<typeof Glue>,
  full: () => import('../pkg/web-full/schoon.js') as Promise<typeof Glue>,
};

const WASM: Record<ModuleName, () => URL> = {
  browser: () => new URL('../pkg/web/schoon_bg.wasm', import.meta.url),
  platform: () => new URL('../pkg/web-platform/schoon_bg.wasm', import.meta.url),
  full: () => new URL('../pkg/web-full/schoon_bg.wasm', import.meta.url),
};

/** Compiles a module's .wasm (`wasmUrl`: where it is, if not next to its glue). The compiled
 * module can be posted to another worker, which then shares its machine code (and its
 * optimised tier) instead of compiling its own. */
export async function compileModule(name: ModuleName, wasmUrl?: string): Promise<WebAssembly.Module> {
  const url = wasmUrl ?? WASM[name]().href;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`failed to fetch ${url}: HTTP ${res.status}`);
  if (typeof WebAssembly.compileStreaming === 'function' && res.headers.get('content-type') === 'application/wasm') {
    return WebAssembly.compileStreaming(res);
  }
  return WebAssembly.compile(await res.arrayBuffer());
}

/** Loads a module's glue and instantiates it from `wasm` (compiled, or where its .wasm is). */
export async function loadModule(name: ModuleName, wasm?: string | WebAssembly.Module): Promise<typeof Glue> {
  const glue = await MODULES[name]();
  await glue.default(wasm === undefined ? undefined : { module_or_path: wasm });
  return glue;
}
