// The typed API every entry point (browser, platform, bundler, Node) exposes, built over one
// of the wasm-pack outputs. The WebAssembly does the work; this file only normalises inputs
// and guards against calls before the module is ready.

import type * as Glue from '../pkg/web/schoon.js';
import type {
  ExactHashes,
  Filter,
  FilterOptions,
  HashOptions,
  HashResult,
  ImageFormat,
  ImageHashes,
  InitInput,
  PdqResult,
} from '../pkg/web/schoon.js';

export type {
  ErrorKind,
  ExactHashes,
  ExactQuery,
  Filter,
  FilterCheck,
  FilterOptions,
  HashedImage,
  HashKind,
  HashOptions,
  HashResult,
  ImageCheck,
  ImageFormat,
  ImageHashes,
  InitInput,
  ListInfo,
  PdqCheck,
  PdqQuery,
  PdqResult,
  SchoonError,
  SignatureStatus,
  TrustOptions,
  UndecodedFile,
} from '../pkg/web/schoon.js';

/** The functions every build of the WebAssembly module exports. */
export type Bindings = Pick<
  typeof Glue,
  | 'hashBytes'
  | 'hashImage'
  | 'exactHashes'
  | 'pdqFromPixels'
  | 'pdqFromBlockMeans'
  | 'version'
  | 'formats'
  | 'sniffFormat'
  | 'md5'
  | 'sha1'
  | 'sha256'
  | 'Filter'
>;

/** Bytes in any of the usual containers (views are not copied before the call). */
export type Bytes = Uint8Array | ArrayBuffer | ArrayBufferView;

/** A file's content: bytes, or a `Blob`/`File` (read with `arrayBuffer()`). */
export type Input = Bytes | Blob;

/** What the `init` of an entry point accepts: a URL or path of the `.wasm`, its bytes, a
 * `Response`, or a compiled `WebAssembly.Module` (e.g. a Cloudflare Workers wasm import). */
export type ModuleOrPath = InitInput | Promise<InitInput>;

/** The API of one entry point. */
export interface Api {
  /**
   * Loads and instantiates the WebAssembly module; resolves when the other functions can be
   * called. Idempotent. Without an argument the `.wasm` next to the JS glue is fetched
   * (`new URL('schoon_bg.wasm', import.meta.url)`); pass a URL, bytes, a `Response` or a
   * compiled `WebAssembly.Module` where that does not work (no `import.meta.url`, strict CSP,
   * Cloudflare Workers).
   */
  init(moduleOrPath?: ModuleOrPath): Promise<void>;
  /** Instantiates synchronously from bytes or a compiled module (allowed off the main thread,
   * or for small modules). Idempotent. */
  initSync(module: BufferSource | WebAssembly.Module): void;
  /** Whether `init` or `initSync` has completed. */
  isReady(): boolean;
  /** Exact hashes and, when the bytes decode, PDQ (see the WebAssembly `hashBytes`). Never
   * throws because of the bytes; throws a `SchoonError` of kind `'caller'` for bad options. */
  hashBytes(bytes: Bytes, options?: HashOptions): HashResult;
  /** `init()` if needed, reads a `Blob`, then `hashBytes`. */
  hash(input: Input, options?: HashOptions): Promise<HashResult>;
  /** PDQ, format and size without the exact hashes (hash the bytes elsewhere meanwhile, e.g.
   * `crypto.subtle.digest`). Throws a `SchoonError` when the bytes do not decode. */
  hashImage(bytes: Bytes, options?: HashOptions): ImageHashes;
  /** MD5, SHA-1 and SHA-256 without decoding. */
  exactHashes(bytes: Bytes): ExactHashes;
  /** PDQ of platform-decoded pixels (`channels` 1 to 4; a canvas gives RGBA, 4). */
  pdqFromPixels(
    pixels: Uint8Array | Uint8ClampedArray,
    width: number,
    height: number,
    channels: 1 | 2 | 3 | 4,
  ): PdqResult;
  /** PDQ of an image known by the luma means of its blocks (platform decodes at reduced
   * size); see the WebAssembly `pdqFromBlockMeans`. */
  pdqFromBlockMeans(
    plane: Float32Array,
    blockWidth: number,
    blockHeight: number,
    fullWidth: number,
    fullHeight: number,
  ): PdqResult;
  /** The schoon version the module was built from. */
  version(): string;
  /** The image formats this build decodes. */
  formats(): ImageFormat[];
  /**
   * The image format the bytes' signature announces (`'jpeg'`, ..., or one left to the
   * platform such as `'avif'`), from the core's one table; `undefined` for no known image.
   */
  sniffFormat(bytes: Bytes): string | undefined;
  /** MD5 of the bytes, hex (`crypto.subtle` has none). */
  md5(bytes: Bytes): string;
  /** SHA-1 of the bytes, hex (prefer `crypto.subtle.digest` where it exists). */
  sha1(bytes: Bytes): string;
  /** SHA-256 of the bytes, hex (prefer `crypto.subtle.digest` where it exists). */
  sha256(bytes: Bytes): string;
  /**
   * Verifies and loads a filter (`new Filter(bytes, options)` of the module): throws a
   * `SchoonError` with `code` `'set'`, `'signature'` or `'stale'` when it is refused.
   */
  loadFilter(bytes: Bytes, options: FilterOptions): Filter;
}

/** A `Uint8Array` over the same memory (no copy). */
export function toUint8Array(bytes: Bytes): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return new Uint8Array(bytes);
}

async function read(input: Input): Promise<Uint8Array> {
  if (typeof Blob !== 'undefined' && input instanceof Blob) {
    return new Uint8Array(await input.arrayBuffer());
  }
  return toUint8Array(input as Bytes);
}

/** How an entry point loads its module. */
export interface Loader {
  /** The module's exports once instantiated (`undefined` before). */
  bindings(): Bindings | undefined;
  load(moduleOrPath?: ModuleOrPath): Promise<void>;
  loadSync(module: BufferSource | WebAssembly.Module): void;
}

/** Builds the API over a loader. */
export function makeApi(loader: Loader): Api {
  let loading: Promise<void> | undefined;
  const ready = (): Bindings => {
    const b = loader.bindings();
    if (b === undefined) {
      const e = new Error('schoon is not initialised: await init() first') as Error & {
        kind: string;
      };
      e.name = 'SchoonError';
      e.kind = 'caller';
      throw e;
    }
    return b;
  };
  const api: Api = {
    init(moduleOrPath) {
      if (loader.bindings() !== undefined) return Promise.resolve();
      loading ??= loader.load(moduleOrPath).catch((e: unknown) => {
        loading = undefined; // let a later call retry, e.g. after a network error
        throw e;
      });
      return loading;
    },
    initSync(module) {
      if (loader.bindings() === undefined) loader.loadSync(module);
    },
    isReady: () => loader.bindings() !== undefined,
    hashBytes: (bytes, options) => ready().hashBytes(toUint8Array(bytes), options),
    async hash(input, options) {
      await api.init();
      return ready().hashBytes(await read(input), options);
    },
    hashImage: (bytes, options) => ready().hashImage(toUint8Array(bytes), options),
    exactHashes: (bytes) => ready().exactHashes(toUint8Array(bytes)),
    pdqFromPixels: (pixels, width, height, channels) =>
      ready().pdqFromPixels(pixels, width, height, channels),
    pdqFromBlockMeans: (plane, bw, bh, fw, fh) => ready().pdqFromBlockMeans(plane, bw, bh, fw, fh),
    version: () => ready().version(),
    formats: () => ready().formats(),
    sniffFormat: (bytes) => ready().sniffFormat(toUint8Array(bytes)),
    md5: (bytes) => ready().md5(toUint8Array(bytes)),
    sha1: (bytes) => ready().sha1(toUint8Array(bytes)),
    sha256: (bytes) => ready().sha256(toUint8Array(bytes)),
    loadFilter: (bytes, options) => new (ready().Filter)(toUint8Array(bytes), options),
  };
  return api;
}

/** A loader over wasm-bindgen's `web` target glue (explicit async or sync instantiation). */
export function webLoader(glue: typeof Glue): Loader {
  let loaded = false;
  return {
    bindings: () => (loaded ? glue : undefined),
    async load(moduleOrPath) {
      await glue.default(moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath });
      loaded = true;
    },
    loadSync(module) {
      glue.initSync({ module });
      loaded = true;
    },
  };
}

/** A loader over glue that instantiated itself on import (`nodejs` and `bundler` targets). */
export function preloaded(glue: Bindings): Loader {
  return {
    bindings: () => glue,
    load: () => Promise.resolve(),
    loadSync: () => undefined,
  };
}
