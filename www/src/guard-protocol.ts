// The requests of the guard (guard.ts, any thread) to its dedicated worker (guard-worker.ts),
// as rpc.ts carries them: each is answered once; a check sends its progress as events before.

import type {
  CheckResult,
  DecoderMode,
  FailMode,
  FilterCache,
  FilterStatus,
  ModuleName,
  Progress,
} from './options.js';
import type { Context } from './rpc.js';

/** What the worker needs of the options: URLs resolved against the page. */
export interface WorkerConfig {
  filterUrl: string;
  publicKey: string;
  allowUnsigned: boolean;
  confirmUrl: string | undefined;
  confirmHeaders: Record<string, string>;
  confirmCredentials: RequestCredentials;
  confirmTimeout: number;
  filterCredentials: RequestCredentials;
  filterTimeout: number;
  failMode: FailMode;
  decoder: DecoderMode;
  filterCache: FilterCache;
  refreshInterval: number;
  maxFileBytes: number;
  maxPixels: number;
  regions: boolean;
  parallel: boolean;
  wasmUrls: Partial<Record<ModuleName, string>>;
}

/** The guard worker's requests. */
export type GuardApi = {
  /** Sets the options (sent first, with id 0). */
  configure(config: WorkerConfig): null;
  /** Loads the filter (or revalidates it now, with `refresh`). */
  filter(args: { refresh: boolean }): Promise<FilterStatus>;
  /** Checks a file, with progress events. */
  check(args: { file: Blob }, ctx: Context<Progress>): Promise<CheckResult>;
};
