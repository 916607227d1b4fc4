/**
 * Strict, unpadded base64url (RFC 4648 §5) for opaque tokens.
 *
 * Node's own decoder is lenient: it skips foreign characters, accepts padding
 * and ignores non-zero trailing bits. For tokens that leniency means many
 * strings decode to the same bytes, so a token could be re-spelled to dodge a
 * string-keyed cache or log filter. We validate first, so exactly one string
 * decodes to any given bytes.
 */

/** Only the URL-safe alphabet; no padding, no whitespace. */
const ALPHABET = /^[A-Za-z0-9_-]*$/;

/** 6-bit value of each base64url character by char code (validated beforehand). */
const VALUES = new Uint8Array(128);
for (let i = 0; i < 64; i++) {
  VALUES["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".charCodeAt(i)] = i;
}

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
  if (typeof s !== "string") return undefined;
  const rem = s.length % 4;
  if (rem === 1 || !ALPHABET.test(s)) return undefined;
  if (rem !== 0) {
    // 2 chars carry 1 byte (4 spare bits), 3 chars carry 2 bytes (2 spare bits).
    const spare = rem === 2 ? 0x0f : 0x03;
    if ((VALUES[s.charCodeAt(s.length - 1)] & spare) !== 0) return undefined;
  }
  return Buffer.from(s, "base64url");
}
