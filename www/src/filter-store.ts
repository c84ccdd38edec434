// Keeps the last verified filter between page loads, in the Cache API (available in windows
// and workers of secure contexts, including http://127.0.0.1), with its ETag, its set version
// and when the server last vouched for it. The version is what a newer download must beat:
// an older filter, even validly signed, is refused (a replay).
//
// Whatever is read back is verified again before use: the store is a cache, not a trust root.

import type { FilterCache } from './options.js';

/** A kept filter. */
export interface StoredFilter {
  bytes: Uint8Array;
  etag: string | null;
  version: number;
  /** When the server last answered for it (200 or 304), ms since the epoch. */
  fetchedAt: number;
}

/** Where the filter is kept. */
export interface FilterStore {
  readonly kind: 'cache-api' | 'memory';
  get(url: string): Promise<StoredFilter | undefined>;
  put(url: string, filter: StoredFilter): Promise<void>;
}

const CACHE_NAME = 'schoon-filter-v1';

class MemoryStore implements FilterStore {
  readonly kind = 'memory' as const;
  readonly #entries = new Map<string, StoredFilter>();
  async get(url: string): Promise<StoredFilter | undefined> {
    return this.#entries.get(url);
  }
  async put(url: string, filter: StoredFilter): Promise<void> {
    this.#entries.set(url, filter);
  }
}

class CacheApiStore implements FilterStore {
  readonly kind = 'cache-api' as const;
  readonly #memory = new MemoryStore();

  async get(url: string): Promise<StoredFilter | undefined> {
    try {
      const cache = await caches.open(CACHE_NAME);
      const res = await cache.match(url);
      if (!res) return this.#memory.get(url);
      const version = Number(res.headers.get('x-schoon-version'));
      const fetchedAt = Number(res.headers.get('x-schoon-fetched-at'));
      if (!Number.isSafeInteger(version) || !Number.isFinite(fetchedAt)) return undefined;
      return {
        bytes: new Uint8Array(await res.arrayBuffer()),
        etag: res.headers.get('x-schoon-etag'),
        version,
        fetchedAt,
      };
    } catch {
      // Storage disabled or evicted (private browsing, quota): behave as if nothing is kept.
      return this.#memory.get(url);
    }
  }

  async put(url: string, filter: StoredFilter): Promise<void> {
    await this.#memory.put(url, filter);
    try {
      const cache = await caches.open(CACHE_NAME);
      const headers: Record<string, string> = {
        'content-type': 'application/octet-stream',
        'x-schoon-version': String(filter.version),
        'x-schoon-fetched-at': String(filter.fetchedAt),
      };
      if (filter.etag !== null) headers['x-schoon-etag'] = filter.etag;
      await cache.put(url, new Response(filter.bytes as Uint8Array<ArrayBuffer>, { headers }));
    } catch {
      // Quota or storage errors only lose persistence; the memory copy serves this session.
    }
  }
}

/** The store for a `filterCache` option (memory where the Cache API is missing). */
export function openStore(mode: FilterCache): FilterStore {
  if (mode === 'cache-api' && typeof caches !== 'undefined') return new CacheApiStore();
  return new MemoryStore();
}
