// The guard worker's state, in one object owned by this module: the configuration, the filter
// cache, the instantiated modules, the verified filter held and the second worker. Every other
// part of the worker (guard-*.ts) reads and writes it here.

import type { Filter } from '../pkg/web/schoon.js';
import type * as Glue from '../pkg/web/schoon.js';
import type { FilterStore } from './filter-store.js';
import type { WorkerConfig } from './guard-protocol.js';
import type { FilterStatus, ModuleName } from './options.js';
import type { ExactKind, TailAnswer } from './tail-worker.js';

/** The kinds of hashes a filter holds. */
export type HashKind = 'md5' | 'sha1' | 'sha256' | 'pdq';

/** One instantiated WebAssembly module and the filter loaded into it. */
export interface Engine {
  name: ModuleName;
  glue: typeof Glue;
  filter: Filter | undefined;
  /** The formats its decoders handle (`formats()`). */
  formats: string[];
  /** The compiled module (shared with the second worker). */
  module: WebAssembly.Module;
}

/** The verified filter's bytes and facts, shared by every engine. */
export interface Held {
  bytes: Uint8Array;
  version: number;
  status: FilterStatus;
  /** When the server last vouched for it (ms since the epoch). */
  fetchedAt: number;
  /** When to ask the server again: `fetchedAt + refreshInterval`, or sooner after a failed
   * attempt (so that an unreachable server costs one attempt a minute, not one per file). */
  due: number;
}

/** The second worker as the check sees it (guard-split.ts). */
export interface Helper {
  /** False once it failed (or before its module is loaded). */
  readonly usable: boolean;
  /** The encoded second part of `bytes` from `split` and the `exact` hashes; undefined if
   * the second worker failed or is late. `bytes` is handed over (empty afterwards). */
  tail(bytes: Uint8Array, split: number, exact: ExactKind[], c: WorkerConfig): Promise<TailAnswer | undefined>;
}

/** Everything the guard worker keeps between requests. */
export interface State {
  /** The options, from the `configure` request. */
  config: WorkerConfig | undefined;
  /** Where verified filters are kept (opened on first use). */
  store: FilterStore | undefined;
  /** The modules, instantiated on first use (a failed load is removed to be retried). */
  engines: Map<ModuleName, Promise<Engine>>;
  /** The verified filter in use. */
  held: Held | undefined;
  /** Why there is no filter, when there is none. */
  heldError: FilterStatus | undefined;
  /** The filter (re)load under way. */
  loading: Promise<void> | undefined;
  /** The second worker, once started. */
  helper: Helper | undefined;
  /** Whether starting the second worker was tried already. */
  helperStarted: boolean;
}

/** The one state of this worker. */
export const state: State = {
  config: undefined,
  store: undefined,
  engines: new Map(),
  held: undefined,
  heldError: undefined,
  loading: undefined,
  helper: undefined,
  helperStarted: false,
};

/** The configuration; throws before the `configure` request. */
export function need(): WorkerConfig {
  if (!state.config) throw new Error('guard worker used before it was configured');
  return state.config;
}

/** The module that checks files first, by the `decoder` option. */
export function primaryModule(c: WorkerConfig): ModuleName {
  if (c.decoder === 'wasm') return 'full';
  if (c.decoder === 'platform') return 'platform';
  return 'browser';
}

/** The filter's trust options from the configuration. */
export function trust(): { publicKey?: string; allowUnsigned?: boolean } {
  const c = need();
  return c.allowUnsigned ? { publicKey: c.publicKey, allowUnsigned: true } : { publicKey: c.publicKey };
}
