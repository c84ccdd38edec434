// The guard worker's filter: the kept copy while it is fresh, otherwise a conditional download,
// verified in the primary module before it replaces the one held.

import { openStore, type StoredFilter } from './filter-store.js';
import { engine } from './guard-engine.js';
import { codeOf, messageOf } from './guard-errors.js';
import { startHelper } from './guard-split.js';
import { need, primaryModule, state, trust } from './guard-state.js';
import type { FilterStatus } from './options.js';

/** How long after a failed revalidation the held filter is used before trying again. */
const RETRY_MS = 60_000;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Verifies bytes in the primary module; returns the status, or throws a refusal. */
async function verify(bytes: Uint8Array, newerThan: number | undefined): Promise<{ status: FilterStatus; version: number }> {
  const e = await engine(primaryModule(need()));
  const t = performance.now();
  const options = newerThan === undefined ? trust() : { ...trust(), newerThan };
  const filter = new e.glue.Filter(bytes, options);
  const loadMs = performance.now() - t;
  e.filter?.free();
  e.filter = filter;
  const status: FilterStatus = {
    state: 'ready',
    version: filter.version,
    created: filter.created,
    lists: filter.lists.map(({ name, category, md5, sha1, sha256, pdq }) => ({ name, category, md5, sha1, sha256, pdq })),
    kinds: filter.kinds,
    loadMs,
    bytes: bytes.length,
  };
  return { status, version: filter.version };
}

/**
 * Makes sure a verified filter is held: the kept copy while it is fresh, otherwise a
 * conditional download. A refused download (tampered, unsigned, older than the kept version)
 * never replaces a verified filter; without one the guard has no filter (fail mode).
 */
async function loadFilter(refresh: boolean): Promise<void> {
  const c = need();
  state.store ??= openStore(c.filterCache);
  const now = Date.now();
  if (!state.held) {
    const kept = await state.store.get(c.filterUrl);
    if (kept) {
      try {
        const { status } = await verify(kept.bytes, undefined);
        state.held = {
          bytes: kept.bytes,
          version: kept.version,
          status: { ...status, source: 'cache' },
          fetchedAt: kept.fetchedAt,
          due: kept.fetchedAt + c.refreshInterval,
        };
      } catch {
        // A kept copy that no longer verifies (another key pinned now) is ignored.
      }
    }
  }
  if (state.held && !refresh && now < state.held.due) return;

  const kept = await state.store.get(c.filterUrl);
  const headers: Record<string, string> = {};
  if (state.held && kept?.etag && sameBytes(kept.bytes, state.held.bytes)) headers['if-none-match'] = kept.etag;
  let res: Response;
  let bytes: Uint8Array;
  try {
    res = await fetch(c.filterUrl, {
      headers,
      cache: 'no-store',
      credentials: c.filterCredentials,
      signal: AbortSignal.timeout(c.filterTimeout),
    });
    bytes = res.status === 304 ? new Uint8Array(0) : new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    return refuse(`the filter could not be downloaded: ${messageOf(e)}`, 'network');
  }
  const vouched = async (etag: string | null) => {
    if (!state.held) return;
    state.held.fetchedAt = now;
    state.held.due = now + c.refreshInterval;
    state.held.status = { ...state.held.status, source: 'revalidated' };
    delete state.held.status.error;
    await state.store?.put(c.filterUrl, { bytes: state.held.bytes, etag: etag ?? kept?.etag ?? null, version: state.held.version, fetchedAt: now });
  };
  if (res.status === 304 && state.held) return vouched(res.headers.get('etag'));
  if (!res.ok) return refuse(`the filter could not be downloaded: HTTP ${res.status}`, 'http');
  if (state.held && sameBytes(bytes, state.held.bytes)) return vouched(res.headers.get('etag'));
  try {
    // A different file must be strictly newer than the one held (a replayed older filter is
    // refused even when validly signed).
    const { status, version } = await verify(bytes, (state.held ?? kept)?.version);
    state.held = { bytes, version, status: { ...status, source: 'network' }, fetchedAt: now, due: now + c.refreshInterval };
    state.heldError = undefined;
    const entry: StoredFilter = { bytes, etag: res.headers.get('etag'), version, fetchedAt: now };
    await state.store.put(c.filterUrl, entry);
  } catch (e) {
    // Refused: a held filter stays in use (the constructor threw before replacing it).
    return refuse(messageOf(e), codeOf(e));
  }
}

/** Records why the filter could not be (re)loaded. With a verified filter held, it stays. */
function refuse(message: string, code: string | undefined): void {
  const error = code === undefined ? { message } : { message, code };
  if (state.held) {
    state.held.status = { ...state.held.status, error };
    state.held.due = Date.now() + Math.min(RETRY_MS, need().refreshInterval);
  } else {
    state.heldError = { state: 'error', error };
  }
}

/** Loads the filter if needed (one load at a time) and starts the second worker. */
export async function ensureFilter(refresh: boolean): Promise<FilterStatus> {
  state.loading ??= loadFilter(refresh).finally(() => {
    state.loading = undefined;
  });
  await state.loading;
  if (state.held) await startHelper();
  return state.held ? state.held.status : (state.heldError ?? { state: 'error', error: { message: 'no filter loaded' } });
}
