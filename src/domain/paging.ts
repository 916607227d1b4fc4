import { hkdfSync, randomFillSync } from "node:crypto";
import { invalidArgument } from "./errors.js";
import { decodeBase64Url, encodeBase64Url } from "./tokens/base64url.js";
import type { Keyring } from "./tokens/keyring.js";
import { XAES_NONCE_SIZE, XAES_TAG_SIZE, XaesKey } from "./tokens/xaes.js";

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
 * A list's inner token for a keyset position: base64url of `at.id`. Keyset
 * (rather than offset) paging keeps pages free of gaps and repeats while
 * rows are inserted between calls. Clients never see it: every list call's
 * token is sealed on the way out and opened on the way in
 * ({@link PageTokenSeal}, src/server/page-tokens.ts).
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

/** What a page token is bound to: the tenant, the call (its procedure) and the call's filters. */
export interface PageScope {
  /** The caller's tenant ("" when the call has none). */
  readonly tenantId: string;
  /** The procedure, `package.Service/Method`: a token of one list is refused by another. */
  readonly call: string;
  /** The request's filters, canonically encoded (everything but the page size and the token). */
  readonly filters: Uint8Array;
}

const SEAL_VERSION = 1;
const SEAL_HEADER = 5; // version (1) ‖ key id (4, big-endian)
const SEAL_MIN = SEAL_HEADER + XAES_NONCE_SIZE + XAES_TAG_SIZE;
/** Far above any token this makes (a position is under 300 bytes); stops decoding megabytes. */
const SEAL_MAX_CHARS = 1024;
const SEAL_INFO = Buffer.from("roomgate page token v1");
const NOT_OURS = "page_token: not a token from a previous response";

/**
 * Sealed page tokens (issue 19): a list's keyset position (the inner token
 * the list itself makes and checks) sealed with XAES-256-GCM, the tenant,
 * the call and its filters bound as associated data. An edited, truncated,
 * foreign-tenant, other-call or other-filter token does not open, and is
 * invalid_argument before anything is read. Form: base64url(version ‖ key
 * id ‖ 24-byte nonce ‖ ciphertext ‖ tag), like the access tokens.
 *
 * Why the token keyring: every replica already shares it (key file or
 * ROOMGATE_TOKEN_KEYS), so a token made by one replica opens on another with
 * no second secret to distribute; a rotation keeps the old key decrypt-only,
 * so pages in flight keep working until it is retired. The key is derived
 * from the token key with HKDF (info "roomgate page token v1"), never the
 * token key itself, so a page token can never be mistaken for an access
 * token or the other way round. Why by hand: no maintained library seals a
 * short string under a key ring; this reuses the access tokens' cipher.
 */
export class PageTokenSeal {
  /** Derived keys, per keyring and key id (a keyring is immutable; a rotation brings a new one). */
  readonly #derived = new WeakMap<Keyring, Map<number, XaesKey>>();

  /** @param keyring - The keyring in use now (it changes on rotation). */
  constructor(private readonly keyring: () => Keyring) {}

  /** Seals `inner` (a list's position token) for `scope` under the active key. */
  seal(scope: PageScope, inner: string): string {
    const keyring = this.keyring();
    const plain = Buffer.from(inner, "utf8");
    const out = Buffer.alloc(SEAL_MIN + plain.length);
    out[0] = SEAL_VERSION;
    out.writeUInt32BE(keyring.active.id, 1);
    randomFillSync(out, SEAL_HEADER, XAES_NONCE_SIZE);
    const nonce = out.subarray(SEAL_HEADER, SEAL_HEADER + XAES_NONCE_SIZE);
    const key = this.#key(keyring, keyring.active.id)!;
    key.sealInto(nonce, plain, boundData(out.subarray(0, SEAL_HEADER), scope), out, SEAL_HEADER + XAES_NONCE_SIZE);
    return encodeBase64Url(out);
  }

  /** The inner token `token` seals for `scope`; invalid_argument for anything else. */
  open(scope: PageScope, token: string): string {
    const bytes = token.length <= SEAL_MAX_CHARS ? decodeBase64Url(token) : undefined;
    if (bytes === undefined || bytes.length < SEAL_MIN || bytes[0] !== SEAL_VERSION) throw invalidArgument(NOT_OURS);
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const key = this.#key(this.keyring(), buf.readUInt32BE(1));
    const nonce = buf.subarray(SEAL_HEADER, SEAL_HEADER + XAES_NONCE_SIZE);
    const plain = key?.open(nonce, buf.subarray(SEAL_HEADER + XAES_NONCE_SIZE), boundData(buf.subarray(0, 5), scope));
    if (plain === undefined) throw invalidArgument(NOT_OURS);
    return Buffer.from(plain).toString("utf8");
  }

  #key(keyring: Keyring, id: number): XaesKey | undefined {
    let keys = this.#derived.get(keyring);
    if (!keys) this.#derived.set(keyring, (keys = new Map()));
    let key = keys.get(id);
    if (key) return key;
    const secret = keyring.list().find((k) => k.id === id)?.secret;
    if (!secret) return undefined;
    key = new XaesKey(new Uint8Array(hkdfSync("sha256", secret, Buffer.alloc(0), SEAL_INFO, 32)));
    keys.set(id, key);
    return key;
  }
}

/** header ‖ each part length-prefixed (4 bytes), so no two scopes share an encoding. */
function boundData(header: Uint8Array, scope: PageScope): Buffer {
  const parts = [Buffer.from(scope.tenantId, "utf8"), Buffer.from(scope.call, "utf8"), scope.filters];
  const out: Uint8Array[] = [header];
  for (const p of parts) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(p.length);
    out.push(len, p);
  }
  return Buffer.concat(out);
}
