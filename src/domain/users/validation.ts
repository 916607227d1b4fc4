import { invalidArgument } from "../errors.js";
import { checkOptionalId, MAX_ID_BYTES } from "../ids.js";

/** Limits on user fields; the contracts document the same numbers. */
export const USER_LIMITS = {
  usernameMaxChars: 64,
  passwordMinChars: 8,
  passwordMaxChars: 256,
  emailMaxBytes: 254,
  metaMaxBytes: 4096,
  profilePicMaxBytes: 2048,
  idMaxBytes: MAX_ID_BYTES,
} as const;

// C0, DEL and C1 controls, the Unicode line/paragraph separators and the
// bidi overrides: none belong in a name or an id, and they make logs and UIs
// lie (a reversed name that reads as someone else's).
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const PHONE = /^\+[1-9]\d{6,14}$/;
// Local part: RFC 5322 dot-atom (no quoted strings, no leading, trailing or
// doubled dots). Domain: DNS labels, at least two, the last not all digits.
const EMAIL_LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** Length in Unicode code points, which is what a person counts as characters. */
export function charCount(s: string): number {
  return [...s].length;
}

function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/**
 * A username: 1–64 characters, no control characters, not only spaces.
 * Returned in NFC so that the same name typed on two keyboards is one name.
 */
export function validateUsername(raw: string, field = "username"): string {
  const name = raw.normalize("NFC");
  if (name.trim() === "") throw invalidArgument(`${field}: must not be empty`);
  if (charCount(name) > USER_LIMITS.usernameMaxChars)
    throw invalidArgument(`${field}: must be at most ${USER_LIMITS.usernameMaxChars} characters`);
  if (CONTROL.test(name)) throw invalidArgument(`${field}: must not contain control characters`);
  return name;
}

/**
 * A password: 8–256 characters. Returned in NFC so that logins from other
 * keyboards match; it is otherwise taken as typed (no trimming).
 */
export function validatePassword(raw: string, field = "password"): string {
  const pw = raw.normalize("NFC");
  const n = charCount(pw);
  if (n < USER_LIMITS.passwordMinChars)
    throw invalidArgument(`${field}: must be at least ${USER_LIMITS.passwordMinChars} characters`);
  if (n > USER_LIMITS.passwordMaxChars)
    throw invalidArgument(`${field}: must be at most ${USER_LIMITS.passwordMaxChars} characters`);
  return pw;
}

/**
 * A plain email address (`local@domain.tld`, no display name, no quoted
 * local part, no IP literal). Returned lower-cased: uniqueness per tenant
 * must not depend on how the address was capitalised.
 */
export function validateEmail(raw: string, field = "email"): string {
  if (raw === "") throw invalidArgument(`${field}: must not be empty`);
  if (utf8Bytes(raw) > USER_LIMITS.emailMaxBytes)
    throw invalidArgument(`${field}: must be at most ${USER_LIMITS.emailMaxBytes} bytes`);
  const at = raw.lastIndexOf("@");
  const local = raw.slice(0, at);
  const domain = raw.slice(at + 1);
  const labels = domain.split(".");
  const ok =
    at > 0 &&
    local.length <= 64 &&
    EMAIL_LOCAL.test(local) &&
    labels.length >= 2 &&
    labels.every((l) => DNS_LABEL.test(l)) &&
    !/^\d+$/.test(labels[labels.length - 1]!);
  if (!ok) throw invalidArgument(`${field}: not a valid email address`);
  return raw.toLowerCase();
}

/** An optional phone number in E.164 form; "" means none. */
export function validatePhone(raw: string, field = "phone"): string | undefined {
  if (raw === "") return undefined;
  if (!PHONE.test(raw)) throw invalidArgument(`${field}: must be in E.164 form, e.g. +79671234567`);
  return raw;
}

/** An optional https URL (seed 003's profilePic); "" means none. */
export function validateProfilePic(raw: string, field = "profile_pic"): string | undefined {
  if (raw === "") return undefined;
  if (utf8Bytes(raw) > USER_LIMITS.profilePicMaxBytes)
    throw invalidArgument(`${field}: must be at most ${USER_LIMITS.profilePicMaxBytes} bytes`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidArgument(`${field}: must be an https URL`);
  }
  if (url.protocol !== "https:" || url.hostname === "") throw invalidArgument(`${field}: must be an https URL`);
  // Credentials in a URL that is shown to every member would leak them.
  if (url.username !== "" || url.password !== "") throw invalidArgument(`${field}: must not contain credentials`);
  if (CONTROL.test(raw) || /\s/.test(raw)) throw invalidArgument(`${field}: must be an https URL`);
  return raw;
}

/** Optional free-form metadata, at most 4 KiB of UTF-8; "" means none. */
export function validateMeta(raw: string, field = "meta"): string | undefined {
  if (raw === "") return undefined;
  if (utf8Bytes(raw) > USER_LIMITS.metaMaxBytes)
    throw invalidArgument(`${field}: must be at most ${USER_LIMITS.metaMaxBytes} bytes`);
  return raw;
}

/** An optional identifier (room id, external id), checked by the one id rule (src/domain/ids.ts); "" means none. */
export function validateOptionalId(raw: string, field: string): string | undefined {
  return checkOptionalId(field, raw);
}

/**
 * The key that makes usernames unique per tenant and finds them at login:
 * case-insensitive, by Unicode's default (locale-independent) case mapping.
 * The name is NFC-normalised, lower-cased, upper-cased, lower-cased again
 * and re-normalised. That round trip is a close stand-in for the Unicode
 * case folding JavaScript lacks: `Ann`, `ANN` and `ann` are one name, and so
 * are `straße`, `STRASSE` and `STRAẞE`, or a Greek name ending in `ς` or
 * `σ`; the key is its own key, and a name's upper- and lower-case forms have
 * the same key (property-tested). Lower-casing alone would keep those apart;
 * ASCII-only lower-casing would keep `Ärger` and `ärger` apart. Not a
 * confusables check: Latin `a` and Cyrillic `а` stay different names.
 */
export function usernameKey(username: string): string {
  return username.normalize("NFC").toLowerCase().toUpperCase().toLowerCase().normalize("NFC");
}
