// The guard worker's errors: a `GuardError` carries the kind of an error verdict.

import type { GuardErrorKind } from './options.js';

/** A failure that becomes an error verdict of this kind. */
export class GuardError extends Error {
  constructor(
    readonly kind: GuardErrorKind,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The `code` of an error, if it has a string one (SchoonError). */
export function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The message of anything thrown. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
