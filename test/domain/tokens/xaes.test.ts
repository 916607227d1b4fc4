import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { XaesKey } from "../../../src/domain/tokens/xaes.js";

const utf8 = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const flipBit = (b: Uint8Array, bit: number) => {
  const c = Uint8Array.from(b);
  c[bit >> 3] ^= 1 << (bit & 7);
  return c;
};

// https://github.com/C2SP/C2SP/blob/main/XAES-256-GCM.md (also in RustCrypto/AEADs and filippo.io/xaes256gcm).
const NONCE = utf8("ABCDEFGHIJKLMNOPQRSTUVWX");
const VECTORS = [
  { key: 0x01, aad: "", sealed: "ce546ef63c9cc60765923609b33a9a1974e96e52daf2fcf7075e2271" },
  { key: 0x03, aad: "c2sp.org/XAES-256-GCM", sealed: "986ec1832593df5443a179437fd083bf3fdb41abd740a21f71eb769d" },
];

/**
 * C2SP accumulated test: key, nonce, plaintext and aad are read from one
 * SHAKE-128 stream of the empty input; the ciphertexts are hashed with
 * another SHAKE-128. SHAKE output is prefix-stable, so one long squeeze
 * stands in for incremental reads.
 */
function accumulated(iterations: number): string {
  const stream = createHash("shake128", { outputLength: iterations * (32 + 24 + 1 + 255 + 1 + 255) }).digest();
  let pos = 0;
  const read = (n: number) => stream.subarray(pos, (pos += n));
  const out = createHash("shake128", { outputLength: 32 });
  let roundTripFailures = 0;
  for (let i = 0; i < iterations; i++) {
    const key = read(32);
    const nonce = read(24);
    const plaintext = read(read(1)[0]);
    const aad = read(read(1)[0]);
    const x = new XaesKey(key);
    const sealed = x.seal(nonce, plaintext, aad);
    // Buffer.equals, not expect(): 10,000 matcher calls would dominate the run.
    if (!plaintext.equals(x.open(nonce, sealed, aad) ?? Buffer.alloc(1))) roundTripFailures++;
    out.update(sealed);
  }
  expect(roundTripFailures).toBe(0);
  return out.digest("hex");
}

describe("XAES-256-GCM", () => {
  it.each(VECTORS)("matches the C2SP vector for key 0x$key", ({ key, aad, sealed }) => {
    const x = new XaesKey(new Uint8Array(32).fill(key));
    expect(hex(x.seal(NONCE, utf8("XAES-256-GCM"), utf8(aad)))).toBe(sealed);
    expect(new TextDecoder().decode(x.open(NONCE, Buffer.from(sealed, "hex"), utf8(aad)))).toBe("XAES-256-GCM");
  });

  it("matches the C2SP accumulated vector (10,000 iterations)", () => {
    expect(accumulated(10_000)).toBe("e6b9edf2df6cec60c8cbd864e2211b597fb69a529160cd040d56c0c210081939");
  });

  it("gives the same result from a long-lived key as from a fresh one", () => {
    // The ECB subkey cipher is reused forever; no state may leak between messages.
    const key = new Uint8Array(32).fill(7);
    const longLived = new XaesKey(key);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 24, maxLength: 24 }), fc.uint8Array({ maxLength: 64 }), (nonce, pt) => {
        expect(hex(longLived.seal(nonce, pt, nonce))).toBe(hex(new XaesKey(key).seal(nonce, pt, nonce)));
      }),
      { numRuns: 300 },
    );
  });

  it("round-trips arbitrary messages", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 50 }),
        (key, nonce, pt, aad) => {
          const x = new XaesKey(key);
          const sealed = x.seal(nonce, pt, aad);
          expect(sealed.length).toBe(pt.length + 16);
          expect(x.open(nonce, sealed, aad)).toEqual(Buffer.from(pt));
        },
      ),
    );
  });

  describe("refuses any change", () => {
    const x = new XaesKey(new Uint8Array(32).fill(3));
    const pt = utf8("room member claims");
    const aad = utf8("header+kind");
    const sealed = x.seal(NONCE, pt, aad);

    it("opens the unmodified message (control)", () => {
      expect(new TextDecoder().decode(x.open(NONCE, sealed, aad))).toBe("room member claims");
    });

    it("to any bit of the ciphertext or tag", () => {
      for (let bit = 0; bit < sealed.length * 8; bit++) {
        expect(x.open(NONCE, flipBit(sealed, bit), aad)).toBeUndefined();
      }
    });

    it("to any bit of the nonce", () => {
      for (let bit = 0; bit < 24 * 8; bit++) {
        expect(x.open(flipBit(NONCE, bit), sealed, aad)).toBeUndefined();
      }
    });

    it("to any bit of the associated data, or its length", () => {
      for (let bit = 0; bit < aad.length * 8; bit++) {
        expect(x.open(NONCE, sealed, flipBit(aad, bit))).toBeUndefined();
      }
      expect(x.open(NONCE, sealed, aad.subarray(1))).toBeUndefined();
      expect(x.open(NONCE, sealed, new Uint8Array([...aad, 0]))).toBeUndefined();
      expect(x.open(NONCE, sealed, new Uint8Array(0))).toBeUndefined();
    });

    it("to the length of the sealed bytes", () => {
      for (let n = 0; n < sealed.length; n++) {
        expect(x.open(NONCE, sealed.subarray(0, n), aad)).toBeUndefined();
      }
      expect(x.open(NONCE, new Uint8Array([...sealed, 0]), aad)).toBeUndefined();
    });

    it("to the key", () => {
      expect(new XaesKey(new Uint8Array(32).fill(4)).open(NONCE, sealed, aad)).toBeUndefined();
    });

    it("to the nonce length, without throwing", () => {
      expect(x.open(NONCE.subarray(0, 23), sealed, aad)).toBeUndefined();
      expect(x.open(new Uint8Array([...NONCE, 0]), sealed, aad)).toBeUndefined();
      expect(x.open(new Uint8Array(0), new Uint8Array(0), aad)).toBeUndefined();
    });
  });

  it("rejects bad key and nonce sizes when sealing", () => {
    expect(() => new XaesKey(new Uint8Array(31))).toThrow(RangeError);
    expect(() => new XaesKey(new Uint8Array(33))).toThrow(RangeError);
    const x = new XaesKey(new Uint8Array(32));
    // GCM would accept a 96-bit tail of a short nonce; we must not.
    expect(() => x.seal(new Uint8Array(20), new Uint8Array(1), new Uint8Array(0))).toThrow(RangeError);
    expect(() => x.sealInto(NONCE, new Uint8Array(4), new Uint8Array(0), new Uint8Array(19), 0)).toThrow(RangeError);
  });

  it("writes in place with sealInto, identical to seal", () => {
    const x = new XaesKey(new Uint8Array(32).fill(1));
    const out = new Uint8Array(3 + 12 + 16 + 2).fill(0xee);
    expect(x.sealInto(NONCE, utf8("XAES-256-GCM"), new Uint8Array(0), out, 3)).toBe(28);
    expect(hex(out.subarray(3, 31))).toBe(VECTORS[0].sealed);
    expect([...out.subarray(0, 3), ...out.subarray(31)]).toEqual([0xee, 0xee, 0xee, 0xee, 0xee]);
  });
});
