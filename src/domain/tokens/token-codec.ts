/**
 * Opaque roomgate tokens: base64url(version ‖ key id ‖ nonce ‖ XAES-256-GCM
 * ciphertext ‖ tag), with the 5 header bytes and the token kind bound as
 * associated data. The codec seals and opens bytes; what the claims mean
 * (expiry, revocation, permissions) is decided by the caller.
 */
import { randomFillSync } from "node:crypto";
import { decodeBase64Url, encodeBase64Url } from "./base64url.js";
import type { Keyring } from "./keyring.js";
import { XAES_NONCE_SIZE, XAES_TAG_SIZE } from "./xaes.js";

/** What a token admits to; bound into the tag so kinds never cross. */
export enum TokenKind {
  RoomMember = 1,
  UserAccess = 2,
  AccessLink = 3,
}

/**
 * The one error for any token that does not verify. The message never says
 * why (bad encoding, unknown key, wrong kind, forged tag ...), so callers
 * cannot leak an oracle to clients.
 */
export class InvalidTokenError extends Error {
  constructor() {
    super("invalid token");
    this.name = "InvalidTokenError";
  }
}

const VERSION = 1;
const HEADER_SIZE = 5; // version (1) ‖ key id (4, big-endian)
const NONCE_END = HEADER_SIZE + XAES_NONCE_SIZE;
const MIN_BYTES = NONCE_END + XAES_TAG_SIZE;
/** Shortest possible token string: ceil(45 * 4 / 3). */
const MIN_CHARS = Math.ceil((MIN_BYTES * 4) / 3);
/** Far above any real token; stops a client making us decode megabytes. */
const MAX_CHARS = 8192;
/** Largest claims whose token still fits in MAX_CHARS (6144 bytes in total). */
export const MAX_CLAIMS_BYTES = Math.floor((MAX_CHARS * 3) / 4) - MIN_BYTES;

/** Nonce pool size: 170 nonces per CSPRNG call. */
const POOL_SIZE = 4096;

function checkKind(kind: TokenKind): void {
  if (kind !== TokenKind.RoomMember && kind !== TokenKind.UserAccess && kind !== TokenKind.AccessLink) {
    throw new RangeError(`unknown token kind ${String(kind)}`);
  }
}

/** Seals claims into tokens and opens them again, under a replaceable keyring. */
export class TokenCodec {
  #keyring: Keyring;
  #generation = 0;
  readonly #pool = new Uint8Array(POOL_SIZE);
  #poolPos = POOL_SIZE;
  /** header ‖ kind, reused by open(): it is consumed synchronously by setAAD. */
  readonly #aad = new Uint8Array(HEADER_SIZE + 1);

  /** @param keyring - Its active key seals; every key in it opens. */
  constructor(keyring: Keyring) {
    this.#keyring = keyring;
  }

  /**
   * Copies 24 fresh CSPRNG bytes into `out` at `offset`. Bytes come from a
   * pool refilled 4 KiB at a time: one randomFillSync per token costs more
   * than the sealing, and every pool byte is still used exactly once.
   */
  #nonceInto(out: Uint8Array, offset: number): void {
    if (this.#poolPos + XAES_NONCE_SIZE > POOL_SIZE) {
      randomFillSync(this.#pool);
      this.#poolPos = 0;
    }
    out.set(this.#pool.subarray(this.#poolPos, this.#poolPos + XAES_NONCE_SIZE), offset);
    // Wipe what was handed out so no nonce is ever reused from the pool.
    this.#pool.fill(0, this.#poolPos, this.#poolPos + XAES_NONCE_SIZE);
    this.#poolPos += XAES_NONCE_SIZE;
  }

  /** Swaps in a new keyring (after a rotation); later calls use it. */
  setKeyring(keyring: Keyring): void {
    this.#keyring = keyring;
    this.#generation++;
  }

  /** The keyring in use (webhook secrets are sealed under keys derived from it; the sealing worker is handed its active key). */
  get keyring(): Keyring {
    return this.#keyring;
  }

  /**
   * Bumped by every {@link setKeyring}: caches of opened tokens compare it
   * so that a retired key's tokens stop verifying at once.
   */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Seals `claims` (the encoded claims message) under the active key.
   *
   * @throws RangeError if `kind` is not a TokenKind, or the claims are so
   *   large that {@link open} would refuse the token (over 6099 bytes).
   */
  seal(kind: TokenKind, claims: Uint8Array): string {
    checkKind(kind);
    if (claims.length > MAX_CLAIMS_BYTES) {
      throw new RangeError(`token claims are ${claims.length} bytes; at most ${MAX_CLAIMS_BYTES} fit in a token`);
    }
    const keyring = this.#keyring;
    const out = Buffer.allocUnsafe(MIN_BYTES + claims.length);
    out[0] = VERSION;
    out.writeUInt32BE(keyring.active.id, 1);
    // 192-bit random nonces: XAES keeps collisions negligible for ~2^80 tokens.
    this.#nonceInto(out, HEADER_SIZE);
    const aad = new Uint8Array(HEADER_SIZE + 1);
    aad.set(out.subarray(0, HEADER_SIZE));
    aad[HEADER_SIZE] = kind;
    keyring.activeCipher().sealInto(out.subarray(HEADER_SIZE, NONCE_END), claims, aad, out, NONCE_END);
    return encodeBase64Url(out);
  }

  /**
   * Verifies `token` as a token of `kind` and returns its claims bytes.
   * Nothing from the token is trusted before the tag verifies; the key id
   * only selects which key to try.
   *
   * @throws InvalidTokenError for anything that does not verify.
   * @throws RangeError if `kind` is not a TokenKind (a caller bug, not a bad token).
   */
  open(kind: TokenKind, token: string): Uint8Array {
    checkKind(kind);
    if (typeof token !== "string" || token.length < MIN_CHARS || token.length > MAX_CHARS) {
      throw new InvalidTokenError();
    }
    const bytes = decodeBase64Url(token);
    if (bytes === undefined || bytes.length < MIN_BYTES || bytes[0] !== VERSION) {
      throw new InvalidTokenError();
    }
    const id = ((bytes[1] << 24) | (bytes[2] << 16) | (bytes[3] << 8) | bytes[4]) >>> 0;
    const cipher = this.#keyring.get(id);
    if (cipher === undefined) throw new InvalidTokenError();
    const aad = this.#aad;
    for (let i = 0; i < HEADER_SIZE; i++) aad[i] = bytes[i];
    aad[HEADER_SIZE] = kind;
    // Plain Uint8Array views: Buffer#subarray goes through a slower species path.
    const { buffer, byteOffset, length } = bytes;
    const nonce = new Uint8Array(buffer, byteOffset + HEADER_SIZE, XAES_NONCE_SIZE);
    const sealed = new Uint8Array(buffer, byteOffset + NONCE_END, length - NONCE_END);
    const claims = cipher.open(nonce, sealed, aad);
    if (claims === undefined) throw new InvalidTokenError();
    return claims;
  }
}
