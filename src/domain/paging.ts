import { invalidArgument } from "./errors.js";

/** Page size when a list request gives none. */
export const DEFAULT_PAGE_SIZE = 50;
/** Largest page size accepted by list calls. */
export const MAX_PAGE_SIZE = 500;

/** A keyset position: rows strictly after it in (time desc, id desc) order. */
export interface Keyset {
  readonly at: number;
  readonly id: string;
}

/** The page size a request asks for: 0 is the default; over the maximum is invalid_argument. */
export function pageSizeOf(requested: number): number {
  if (requested > MAX_PAGE_SIZE)
    throw invalidArgument(`page_size: ${requested} exceeds the maximum of ${MAX_PAGE_SIZE}`);
  return requested === 0 ? DEFAULT_PAGE_SIZE : requested;
}

/**
 * An opaque page token for a keyset position: base64url of `at.id`. Keyset
 * (rather than offset) paging keeps pages free of gaps and repeats while
 * rows are inserted between calls.
 */
export function encodeKeyset(k: Keyset): string {
  return Buffer.from(`${k.at}.${k.id}`, "utf8").toString("base64url");
}

const KEYSET = /^(\d{1,16})\.([0-9a-f]{32})$/;

/** The position a page token names; invalid_argument for anything {@link encodeKeyset} did not make. */
export function decodeKeyset(token: string): Keyset {
  const m = /^[A-Za-z0-9_-]+$/.test(token) ? KEYSET.exec(Buffer.from(token, "base64url").toString("latin1")) : null;
  if (!m || encodeKeyset({ at: Number(m[1]), id: m[2]! }) !== token)
    throw invalidArgument("page_token: not a token from a previous response");
  return { at: Number(m[1]), id: m[2]! };
}
