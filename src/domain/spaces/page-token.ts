import { invalidArgument } from "../errors.js";
import { ID_FORBIDDEN, MAX_ID_BYTES } from "../ids.js";
import type { Position } from "./list-store.js";

/** The lists whose page tokens this module makes; a token of one list is refused by another. */
export type ListName = "spaces" | "rooms" | "members" | "invites";

/**
 * An opaque page token for a keyset position of list `list`: base64url of
 * `list.at.id`. Unlike src/domain/paging.ts, ids here are any id the id rule
 * allows (room ids first named by token Create are not hex), so the list
 * name is bound in to keep a token of one list out of another.
 */
export function encodePosition(list: ListName, p: Position): string {
  return Buffer.from(`${list}.${p.at}.${p.id}`, "utf8").toString("base64url");
}

/** The position a page token names; invalid_argument for anything {@link encodePosition} did not make for `list`. */
export function decodePosition(list: ListName, token: string): Position {
  const bad = () => invalidArgument("page_token: not a token from a previous response of this list");
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw bad();
  const text = Buffer.from(token, "base64url").toString("utf8");
  const m = /^([a-z]+)\.(\d{1,16})\.(.+)$/s.exec(text);
  if (!m || m[1] !== list) throw bad();
  const p = { at: Number(m[2]), id: m[3]! };
  // Re-encoding must give the token back: no padding tricks, no invalid UTF-8.
  if (Buffer.byteLength(p.id, "utf8") > MAX_ID_BYTES || ID_FORBIDDEN.test(p.id) || encodePosition(list, p) !== token)
    throw bad();
  return p;
}
