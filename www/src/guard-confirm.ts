// What the guard reports for a flagged file: the filter's matches, or the confirmation by
// `confirmUrl` (which gets only the flagged kinds of hashes).

import { GuardError, messageOf } from './guard-errors.js';
import { need, state, type HashKind } from './guard-state.js';
import type { FileHashes, GuardMatch } from './options.js';

/** The filter's matches of `kinds` (the list is known when the filter holds one). */
export function filterMatches(kinds: HashKind[]): GuardMatch[] {
  const lists = state.held?.status.lists ?? [];
  const only = lists.length === 1 ? lists[0] : undefined;
  return kinds.map((kind) => ({ list: only?.name ?? null, category: only?.category ?? null, kind, distance: null }));
}

/** The confirmation: only the hashes of the kinds the filter flagged. */
export async function confirm(hashes: FileHashes, kinds: HashKind[]): Promise<{ verdict: 'match' | 'clean'; matches: GuardMatch[] }> {
  const c = need();
  const body: Record<string, unknown> = {};
  for (const k of kinds) {
    if (k === 'pdq') {
      body.pdq = hashes.pdq;
      body.quality = hashes.quality;
      body.pdq_dihedral = hashes.pdqDihedral;
      if (hashes.windows !== undefined) body.windows = hashes.windows;
    } else {
      body[k] = hashes[k];
    }
  }
  let res: Response;
  try {
    res = await fetch(c.confirmUrl as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...c.confirmHeaders },
      body: JSON.stringify(body),
      credentials: c.confirmCredentials,
      cache: 'no-store',
      signal: AbortSignal.timeout(c.confirmTimeout),
    });
  } catch (e) {
    throw new GuardError('confirm', `the confirmation request failed: ${messageOf(e)}`);
  }
  if (!res.ok) throw new GuardError('confirm', `the confirmation request failed: HTTP ${res.status}`);
  let answer: unknown;
  try {
    answer = await res.json();
  } catch {
    throw new GuardError('confirm', 'the confirmation answer is not JSON');
  }
  const a = answer as { verdict?: unknown; matches?: unknown };
  if ((a.verdict !== 'match' && a.verdict !== 'clean') || !Array.isArray(a.matches)) {
    throw new GuardError('confirm', 'the confirmation answer has no verdict');
  }
  const matches: GuardMatch[] = a.matches.map((m: Record<string, unknown>) => {
    const out: GuardMatch = {
      list: typeof m.list === 'string' ? m.list : null,
      category: typeof m.category === 'string' ? m.category : null,
      kind: m.kind as HashKind,
      distance: typeof m.distance === 'number' ? m.distance : null,
    };
    if (typeof m.variant === 'string') out.variant = m.variant;
    if (typeof m.region === 'string') out.region = m.region;
    return out;
  });
  return { verdict: a.verdict, matches };
}
