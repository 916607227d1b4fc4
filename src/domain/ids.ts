import { invalidArgument } from "./errors.js";

/** Longest id accepted anywhere (UTF-8 bytes). */
export const MAX_ID_BYTES = 256;

/**
 * Code points no id may contain:
 * - C0 controls, DEL and C1 controls (U+0000–U+001F, U+007F–U+009F);
 * - bidi controls: ALM U+061C, LRM/RLM U+200E–U+200F, the embeddings and
 *   overrides U+202A–U+202E and the isolates U+2066–U+2069;
 * - the line and paragraph separators U+2028–U+2029 and the BOM / zero-width
 *   no-break space U+FEFF;
 * - lone surrogates (with the `u` flag a class of surrogates matches only
 *   unpaired ones; a well-formed pair is one code point and never matches).
 * Ids end up in logs, audit lines, events and UIs; each of these makes a line
 * break where there is none, hides text, or renders one id as another.
 */
export const ID_FORBIDDEN =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]/u;

/**
 * The one id rule, for every id a caller sends (user, room, space, invite,
 * message, chat room, tenant, seed 003 identifiers): not empty, at most
 * `maxBytes` (256) bytes of UTF-8 — bytes, not characters, since storage and
 * wire limits are in bytes — and none of the code points in
 * {@link ID_FORBIDDEN}. Throws invalid_argument naming `field`.
 *
 * It sits on token Create's hot path (1,000 ids a batch): one regex exec
 * (it allocates only on a match), and the byte count only for strings long
 * enough to need it (UTF-8 takes at most 3 bytes per UTF-16 unit, so 85
 * units never exceed 256 bytes).
 */
export function checkId(field: string, value: string, maxBytes = MAX_ID_BYTES): void {
  if (value.length === 0) throw invalidArgument(`${field}: must not be empty`);
  if (value.length * 3 > maxBytes && Buffer.byteLength(value, "utf8") > maxBytes) {
    throw invalidArgument(`${field}: longer than ${maxBytes} bytes`);
  }
  const bad = ID_FORBIDDEN.exec(value);
  if (bad !== null) {
    const surrogate = bad[0].charCodeAt(0) >= 0xd800 && bad[0].charCodeAt(0) <= 0xdfff;
    throw invalidArgument(
      surrogate
        ? `${field}: must be valid Unicode (no lone surrogates)`
        : `${field}: must not contain control characters`,
    );
  }
}

/** {@link checkId} for an optional id: "" means absent (undefined). */
export function checkOptionalId(field: string, value: string): string | undefined {
  if (value === "") return undefined;
  checkId(field, value);
  return value;
}
