import { invalidArgument } from "./errors.js";

/** Longest user or room id accepted anywhere (UTF-8 bytes). */
export const MAX_ID_BYTES = 256;

// Control characters in ids break logs and audit lines; nothing needs them.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Refuses an id no user or room can have: empty, oversized, control characters. */
export function checkId(field: string, value: string, maxBytes = MAX_ID_BYTES): void {
  if (value.length === 0) throw invalidArgument(`${field}: must not be empty`);
  if (Buffer.byteLength(value) > maxBytes) throw invalidArgument(`${field}: longer than ${maxBytes} bytes`);
  if (CONTROL.test(value)) throw invalidArgument(`${field}: must not contain control characters`);
}
