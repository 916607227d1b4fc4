/**
 * XAES-256-GCM (https://c2sp.org/XAES-256-GCM): AES-256-GCM with a 192-bit
 * nonce, made safe for random nonces by deriving a fresh AES-256-GCM key per
 * nonce with the NIST SP 800-108r1 counter-mode CMAC KDF.
 *
 * Plain AES-256-GCM with random 96-bit nonces must retire a key after ~2^32
 * messages; XAES lifts that to ~2^80, so a token key can live for years.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import type { Cipher } from "node:crypto";

/** Key length in bytes. */
export const XAES_KEY_SIZE = 32;
/** Nonce length in bytes. */
export const XAES_NONCE_SIZE = 24;
/** Tag length in bytes, appended to the ciphertext. */
export const XAES_TAG_SIZE = 16;

/**
 * One XAES-256-GCM key, ready to seal and open many messages.
 *
 * Not reentrant across threads, but Node runs it on one thread and every
 * method is synchronous, so the shared scratch buffer is safe.
 */
export class XaesKey {
  /**
   * A never-finalised AES-256-ECB cipher. ECB has no chaining state, so
   * `update()` on whole blocks is the raw block cipher; keeping one object
   * per key saves a key schedule and a native allocation per token.
   */
  readonly #ecb: Cipher;
  /** CMAC subkey K1 = dbl(AES_K(0^128)); depends only on the key. */
  readonly #k1 = Buffer.alloc(16);
  /** Scratch for (M1 xor K1) || (M2 xor K1), reused for every derivation. */
  readonly #blocks = Buffer.alloc(32);

  /**
   * @param key - 32 secret bytes; copied into the native cipher, so later
   *   changes to the array do not affect this instance.
   * @throws RangeError if `key` is not 32 bytes.
   */
  constructor(key: Uint8Array) {
    if (key.length !== XAES_KEY_SIZE) {
      throw new RangeError(`XAES-256-GCM key must be ${XAES_KEY_SIZE} bytes, got ${key.length}`);
    }
    this.#ecb = createCipheriv("aes-256-ecb", key, null);
    this.#ecb.setAutoPadding(false);
    const l = this.#ecb.update(Buffer.alloc(16));
    // dbl() in GF(2^128): shift left one bit, fold the carry back in with 0x87.
    for (let i = 0; i < 15; i++) this.#k1[i] = ((l[i] << 1) | (l[i + 1] >>> 7)) & 0xff;
    this.#k1[15] = ((l[15] << 1) & 0xff) ^ (l[0] & 0x80 ? 0x87 : 0);
    // The first 4 bytes of M1 and M2 are fixed, so their xor with K1 is too.
    const k1 = this.#k1;
    const b = this.#blocks;
    b[0] = 0x00 ^ k1[0];
    b[1] = 0x01 ^ k1[1];
    b[2] = 0x58 ^ k1[2]; // 'X'
    b[3] = 0x00 ^ k1[3];
    b[16] = 0x00 ^ k1[0];
    b[17] = 0x02 ^ k1[1];
    b[18] = 0x58 ^ k1[2];
    b[19] = 0x00 ^ k1[3];
  }

  /** Kx = AES_K(M1 xor K1) || AES_K(M2 xor K1), with M_i = 0x00 i 'X' 0x00 || N[:12]. */
  #deriveKey(nonce: Uint8Array): Buffer {
    const k1 = this.#k1;
    const b = this.#blocks;
    for (let i = 0; i < 12; i++) {
      const v = nonce[i] ^ k1[4 + i];
      b[4 + i] = v;
      b[20 + i] = v;
    }
    return this.#ecb.update(b);
  }

  /**
   * Encrypts and authenticates `plaintext`, binding `aad`.
   *
   * @param nonce - 24 bytes; random nonces are safe for ~2^80 messages.
   * @returns ciphertext || 16-byte tag.
   * @throws RangeError if the nonce is not 24 bytes.
   */
  seal(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    const out = Buffer.allocUnsafe(plaintext.length + XAES_TAG_SIZE);
    this.sealInto(nonce, plaintext, aad, out, 0);
    return out;
  }

  /**
   * Like {@link seal}, but writes ciphertext || tag into `out` at `offset`,
   * so a caller building a larger message (a token header) avoids a copy.
   * `out` must have room for `plaintext.length + 16` bytes at `offset`.
   *
   * @returns The number of bytes written.
   * @throws RangeError if the nonce is not 24 bytes or `out` is too small.
   */
  sealInto(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array, offset: number): number {
    // GCM itself accepts any IV length, so a short nonce would silently work.
    if (nonce.length !== XAES_NONCE_SIZE) {
      throw new RangeError(`XAES-256-GCM nonce must be ${XAES_NONCE_SIZE} bytes, got ${nonce.length}`);
    }
    if (offset < 0 || out.length - offset < plaintext.length + XAES_TAG_SIZE) {
      throw new RangeError("XAES-256-GCM output buffer too small");
    }
    const gcm = createCipheriv("aes-256-gcm", this.#deriveKey(nonce), nonce.subarray(12, 24), {
      authTagLength: XAES_TAG_SIZE,
    });
    gcm.setAAD(aad);
    out.set(gcm.update(plaintext), offset);
    gcm.final(); // GCM emits nothing here, but the tag exists only after final()
    out.set(gcm.getAuthTag(), offset + plaintext.length);
    return plaintext.length + XAES_TAG_SIZE;
  }

  /**
   * Verifies and decrypts ciphertext || tag.
   *
   * @returns The plaintext, or `undefined` if the nonce or sealed length is
   *   wrong or the tag does not verify. Never throws, and never returns
   *   unverified plaintext.
   */
  open(nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
    if (nonce.length !== XAES_NONCE_SIZE || sealed.length < XAES_TAG_SIZE) return undefined;
    const ctLen = sealed.length - XAES_TAG_SIZE;
    try {
      const gcm = createDecipheriv("aes-256-gcm", this.#deriveKey(nonce), nonce.subarray(12, 24), {
        authTagLength: XAES_TAG_SIZE,
      });
      gcm.setAAD(aad);
      gcm.setAuthTag(sealed.subarray(ctLen));
      const pt = gcm.update(sealed.subarray(0, ctLen));
      gcm.final(); // throws if the tag does not verify
      return pt;
    } catch {
      return undefined;
    }
  }
}
