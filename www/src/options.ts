// The guard's options, results and events: every type of the upload-guard API, and every
// default in one place (`GUARD_DEFAULTS`), so that the compiler checks each option has one.

import type { HashKind } from '../pkg/web/schoon.js';

/** What an unusable filter, a failed hash or a failed confirmation means for the upload. */
export type FailMode = 'open' | 'closed';

/**
 * Where images are decoded:
 * - `'auto'` (default): JPEG and PNG in WebAssembly (the 12 MP JPEG fast path is the fastest
 *   measured path and bit-identical with the CLI), WebP, GIF and BMP by the browser's own
 *   decoder; the full WebAssembly decoders only where the browser has none for a format.
 * - `'wasm'`: every format in WebAssembly (a larger module: 300 KB gzip).
 * - `'platform'`: the smallest module (130 KB gzip); large JPEGs still take the WebAssembly
 *   fast path, everything else the browser's decoder.
 */
export type DecoderMode = 'auto' | 'wasm' | 'platform';

/** Where a verified filter is kept between page loads. */
export type FilterCache = 'cache-api' | 'none';

/** Options of `createGuard`. Only `filterUrl` and `publicKey` are required. */
export interface GuardOptions {
  /** URL of the signed filter (absolute, or relative to the page). Fetched with
   * `If-None-Match`, verified before use, kept in the Cache API. */
  filterUrl: string | URL;
  /** The list owner's Ed25519 public key: 64 hex digits or the text of a `.pub` file. A filter
   * signed by any other key is refused. */
  publicKey: string;
  /** Where filter hits are confirmed (POST JSON of the hashes only, the Worker's
   * `/v1/confirm` contract). Without it a filter hit blocks the upload. */
  confirmUrl?: string | URL | undefined;
  /** Extra request headers for the confirmation, e.g. `{ authorization: 'Bearer …' }`. */
  confirmHeaders?: Record<string, string>;
  /** Credentials mode of the confirmation request (default `'same-origin'`). */
  confirmCredentials?: RequestCredentials;
  /** Milliseconds to wait for a confirmation (default 10 000). */
  confirmTimeout?: number;
  /** Credentials mode of the filter request (default `'same-origin'`). */
  filterCredentials?: RequestCredentials;
  /** Milliseconds to wait for the filter download (default 30 000). */
  filterTimeout?: number;
  /** What happens when the filter is unusable (missing, tampered, older than the one held),
   * hashing fails or a confirmation fails: `'closed'` (default) blocks the upload, `'open'`
   * lets it through. Either way the result's verdict is `'error'`. */
  failMode?: FailMode;
  /** Where images are decoded (see `DecoderMode`; default `'auto'`). */
  decoder?: DecoderMode;
  /** Where the verified filter is kept between page loads (default `'cache-api'`; falls back
   * to memory where the Cache API is missing, e.g. on plain-http origins). */
  filterCache?: FilterCache;
  /** Milliseconds during which a kept filter is used without asking the server (default
   * 300 000, five minutes); after that the next check revalidates it (a 304 costs no
   * download). */
  refreshInterval?: number;
  /** Accept an unsigned filter (tests and local experiments only; default `false`). */
  allowUnsigned?: boolean;
  /** Files larger than this many bytes are not hashed (verdict `'error'`, kind `'limit'`;
   * default 256 MiB, the core's input limit). */
  maxFileBytes?: number;
  /** Largest image the decoders accept, in pixels (default 100 000 000). */
  maxPixels?: number;
  /** Also check an image's region windows (crops, small turns, captions of listed images)
   * when the filter holds region hashes and the whole-image PDQ misses (default `true`).
   * Costs about 25 ms per clean 12 MP photo in WebAssembly; `false` checks whole images only. */
  regions?: boolean;
  /** Split the decoding of a large JPEG (a camera photo: sequential, 1 MB or more) between
   * the guard's worker and a second worker, so that two cores hash one photo (default
   * `true` where `navigator.hardwareConcurrency` is 2 or more). The hashes are the same bit
   * for bit; `false` keeps one worker. */
  parallel?: boolean;
  /** The guard's worker script (default: `guard-worker.js` next to this module). */
  workerUrl?: string | URL | undefined;
  /** Where the WebAssembly modules are, when not next to their glue (custom hosting). */
  wasmUrls?: Partial<Record<ModuleName, string | URL>>;
}

/** The WebAssembly modules the worker may load (see `DecoderMode`). */
export type ModuleName = 'browser' | 'platform' | 'full';

/** Every option with its default (`filterUrl` and `publicKey` have none). */
export const GUARD_DEFAULTS: Required<Omit<GuardOptions, 'filterUrl' | 'publicKey'>> = {
  confirmUrl: undefined,
  confirmHeaders: {},
  confirmCredentials: 'same-origin',
  confirmTimeout: 10_000,
  filterCredentials: 'same-origin',
  filterTimeout: 30_000,
  failMode: 'closed',
  decoder: 'auto',
  filterCache: 'cache-api',
  refreshInterval: 300_000,
  allowUnsigned: false,
  maxFileBytes: 256 * 1024 * 1024,
  maxPixels: 100_000_000,
  regions: true,
  parallel: true,
  workerUrl: undefined,
  wasmUrls: {},
};

/** One list entry a file matched (or, without a confirmation, a filter hit: then `distance`
 * is `null` and `list`/`category` name the filter's list when it has only one). */
export interface GuardMatch {
  list: string | null;
  category: string | null;
  kind: HashKind;
  distance: number | null;
  /** For PDQ: the rotation or mirror of the file that matched (`'original'`, `'rot90'`, …). */
  variant?: string;
  /** For a region match (a crop, small turn or caption of a listed image): the listed region
   * that matched (`'centre 80%x80%'`, …). */
  region?: string;
}

/** The hashes computed for a file: only the kinds the filter holds. They stay in the page
 * unless the filter flags them (then only the flagged kinds go to `confirmUrl`). */
export interface FileHashes {
  bytes: number;
  md5?: string;
  sha1?: string;
  sha256?: string;
  pdq?: string;
  quality?: number;
  /** The 8 rotations and mirrors (original, rot90, rot180, rot270, flipx, flipy, flipplus1,
   * flipminus1). */
  pdqDihedral?: string[];
  /** PDQ hashes of the region windows the filter flagged (present only then): crops, small
   * turns and captions of listed images. */
  windows?: string[];
  format?: string;
  width?: number;
  height?: number;
  /** How the image was decoded: `'wasm'` (this module), `'platform'` (the browser's decoder
   * feeding the core's PDQ) or `'none'` (not an image, or no PDQ in the filter). */
  decoder?: 'wasm' | 'platform' | 'none';
  /** 2 when a second worker decoded part of a large JPEG (option `parallel`; same hashes). */
  parts?: number;
  /** Why there is no PDQ although the filter holds PDQ (the file did not decode). */
  pdqError?: string;
}

/** Why a check ended in `'error'`. */
export type GuardErrorKind =
  | 'filter' // no usable filter (network, tampered, unsigned, older than the one held)
  | 'read' // the file could not be read
  | 'limit' // the file is larger than `maxFileBytes`
  | 'hash' // hashing failed (the worker crashed or ran out of memory)
  | 'confirm'; // the confirmation request failed or answered nonsense

/** Milliseconds spent per phase (absent phases were skipped). */
export interface Timings {
  /** Loading and verifying the filter (0 when it was already loaded). */
  filter: number;
  read: number;
  /** PDQ (decode + hash + filter probes). */
  pdq: number;
  /** Exact hashes (MD5 in WebAssembly, SHA-1/SHA-256 by `crypto.subtle`, concurrently). */
  exact: number;
  confirm: number;
  /** From the call to the verdict. */
  total: number;
}

/** The answer of `guard.check()`. */
export interface CheckResult {
  /** `'clean'`: nothing matched (nothing was sent anywhere). `'blocked'`: a confirmed match
   * (or a filter hit without `confirmUrl`). `'error'`: see `error` and `allowed`. */
  verdict: 'clean' | 'blocked' | 'error';
  /** Whether the upload may proceed: `true` for clean, `false` for blocked, the fail mode's
   * answer for errors. */
  allowed: boolean;
  matches?: GuardMatch[];
  hashes?: FileHashes;
  error?: { kind: GuardErrorKind; message: string; code?: string };
  /** The version of the filter the file was checked against. */
  filterVersion?: number;
  /** Whether a confirmation request was made (only for filter hits). */
  confirmed: boolean;
  timings: Timings;
}

/** Phases reported by `onProgress`, in order (some may be skipped). */
export type Phase = 'filter' | 'reading' | 'decoding' | 'hashing' | 'checking' | 'confirming';

/** A progress report. `loaded`/`total` (bytes) are given while reading. */
export interface Progress {
  phase: Phase;
  loaded?: number;
  total?: number;
}

/** Per-check options. */
export interface CheckOptions {
  /** Aborting rejects the check with the signal's reason (an `AbortError` by default). */
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
}

/** The state of the guard's filter (`guard.filter()`). */
export interface FilterStatus {
  state: 'ready' | 'error';
  version?: number;
  created?: number;
  lists?: { name: string; category: string; md5: number; sha1: number; sha256: number; pdq: number }[];
  kinds?: HashKind[];
  /** `'network'` (downloaded and verified), `'revalidated'` (a 304 for the kept copy),
   * `'cache'` (kept copy, not yet due for revalidation). */
  source?: 'network' | 'revalidated' | 'cache';
  /** Why the filter is unusable (`state: 'error'`), or why the last download was refused while
   * a verified filter is held (`state: 'ready'`). */
  error?: { message: string; code?: string };
  /** Milliseconds to load and verify. */
  loadMs?: number;
  bytes?: number;
}
