import { invalidArgument } from "../errors.js";
import { checkId } from "../ids.js";
import type { Keyset } from "../paging.js";

// User ids are UUIDs (and may be any id a store holds), not the 32 hex
// digits src/domain/paging.ts expects of links, so users get a token of
// their own: the same keyset, the same opaque base64url form.

/** An opaque page token for a position in (created_at desc, id desc) order. */
export function encodeUserPageToken(k: Keyset): string {
  return Buffer.from(`${k.at}.${k.id}`, "utf8").toString("base64url");
}

const POSITION = /^(\d{1,16})\.(.+)$/s;

/** The position a page token names; invalid_argument for anything {@link encodeUserPageToken} did not make. */
export function decodeUserPageToken(token: string): Keyset {
  const bad = () => invalidArgument("page_token: not a token from a previous response");
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw bad();
  const m = POSITION.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (!m) throw bad();
  const k = { at: Number(m[1]), id: m[2]! };
  try {
    checkId("page_token", k.id);
  } catch {
    throw bad();
  }
  // Only the canonical encoding is accepted, so one position has one token.
  if (encodeUserPageToken(k) !== token) throw bad();
  return k;
}
