// Messages between the guard (guard.ts, any thread) and its dedicated worker
// (guard-worker.ts). Every request is answered once by a `done` message with its id; a check
// may send `progress` messages before.

import type {
  CheckResult,
  DecoderMode,
  FailMode,
  FilterCache,
  FilterStatus,
  ModuleName,
  Phase,
} from './options.js';

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

export type GuardRequest =
  | { id: number; type: 'configure'; config: WorkerConfig }
  | { id: number; type: 'filter'; refresh: boolean }
  | { id: number; type: 'check'; file: Blob };

export type GuardResponse =
  | { id: number; type: 'progress'; phase: Phase; loaded?: number; total?: number }
  | { id: number; type: 'done'; ok: true; result: CheckResult | FilterStatus | null }
  | { id: number; type: 'done'; ok: false; error: { name: string; message: string } };
