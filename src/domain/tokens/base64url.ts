/**
 * Strict, unpadded base64url (RFC 4648 §5) for opaque tokens.
 *
 * Node's own decoder is lenient: it skips foreign characters, accepts padding
 * and ignores non-zero trailing bits. For tokens that leniency means many
 * strings decode to the same bytes, so a token could be re-spelled to dodge a
 * string-keyed cache or log filter. Here exactly one string decodes to any
 * given bytes.
 */

/**
 * Encodes bytes as unpadded base64url.
 *
 * @param bytes - Any bytes; not copied.
 * @returns The canonical base64url spelling of `bytes`, without `=` padding.
 */
export function encodeBase64Url(bytes: Uint8Array): string {
  // A Buffer view over the same memory: no copy, and Node's encoder omits padding.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

/**
 * Decodes canonical unpadded base64url, refusing every other spelling.
 *
 * Refused: characters outside `[A-Za-z0-9_-]` (including `=`, `+`, `/` and
 * whitespace), a length of 1 mod 4 (no byte count encodes to it), and a final
 * character whose unused low bits are not zero.
 *
 * @param s - Untrusted text.
 * @returns The bytes, or `undefined` if `s` is not canonical base64url. Never throws.
 */
export function decodeBase64Url(s: string): Uint8Array | undefined {
  if (typeof s !== "string" || s.length % 4 === 1) return undefined;
  const bytes = Buffer.from(s, "base64url");
  // Re-encoding yields the one canonical spelling, drawn only from the URL-safe
  // alphabet. Any other spelling (a skipped foreign character, padding, a
  // dropped stray character, non-zero spare bits) differs from it. Measured
  // faster than a regex pre-check, since the decode is needed anyway.
  return bytes.toString("base64url") === s ? bytes : undefined;
}
