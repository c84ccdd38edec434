// Hex and the exact digests, shared by the guard's two workers: SHA-1 and SHA-256 with
// `crypto.subtle` where it exists (it hashes on the browser's own threads), otherwise with the
// module's own implementation.

/** The bytes as lowercase hex. */
export function hex(bytes: Uint8Array | ArrayBuffer): string {
  let s = '';
  for (const x of bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)) s += x.toString(16).padStart(2, '0');
  return s;
}

/** SHA-1 or SHA-256 of `bytes` as lowercase hex: `crypto.subtle` (started synchronously), or
 * `fallback` (the module's `sha1`/`sha256`) where there is none. */
export function digestHex(algo: 'SHA-1' | 'SHA-256', bytes: Uint8Array, fallback: (b: Uint8Array) => string): Promise<string> {
  const subtle = typeof crypto !== 'undefined' ? crypto.subtle : undefined;
  return subtle ? subtle.digest(algo, bytes as BufferSource).then(hex) : Promise.resolve(fallback(bytes));
}
