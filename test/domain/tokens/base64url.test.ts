import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeBase64Url, encodeBase64Url } from "../../../src/domain/tokens/base64url.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const bytesOf = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));

describe("base64url", () => {
  it("encodes the RFC 4648 vectors without padding", () => {
    const vectors: [string, string][] = [
      ["", ""],
      ["f", "Zg"],
      ["fo", "Zm8"],
      ["foo", "Zm9v"],
      ["foob", "Zm9vYg"],
      ["fooba", "Zm9vYmE"],
      ["foobar", "Zm9vYmFy"],
    ];
    for (const [plain, encoded] of vectors) {
      expect(encodeBase64Url(bytesOf(plain))).toBe(encoded);
      expect(decodeBase64Url(encoded)).toEqual(Buffer.from(plain, "latin1"));
    }
  });

  it("uses - and _ where standard base64 uses + and /", () => {
    expect(encodeBase64Url(new Uint8Array([0xfb, 0xff]))).toBe("-_8");
    expect([...decodeBase64Url("-_8")!]).toEqual([0xfb, 0xff]);
  });

  it("encodes a subarray view, not its whole backing buffer", () => {
    const big = bytesOf("xxfooxx");
    expect(encodeBase64Url(big.subarray(2, 5))).toBe("Zm9v");
  });

  it("round-trips arbitrary bytes through the URL-safe alphabet", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const s = encodeBase64Url(bytes);
        expect(s).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(s.length).toBe(Math.ceil((bytes.length * 4) / 3));
        expect(decodeBase64Url(s)).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it.each([
    ["padding", "Zg=="],
    ["single padding", "Zm8="],
    ["padding only", "===="],
    ["standard +", "Zm+v"],
    ["standard /", "Zm/v"],
    ["leading space", " Zm9v"],
    ["trailing newline", "Zm9v\n"],
    ["inner space", "Zm 9v"],
    ["tab", "Zm9v\tYg"],
    ["non-ASCII", "Zm9vé"],
    ["length 1 mod 4", "Zm9vY"],
    ["one char", "Z"],
    ["non-canonical 2-char tail (low 4 bits set)", "Zh"],
    ["non-canonical 3-char tail (low 2 bits set)", "Zm9"],
    ["non-canonical tail after full groups", "Zm9vYh"],
  ])("refuses %s", (_name, s) => {
    expect(decodeBase64Url(s)).toBeUndefined();
  });

  it("accepts the canonical neighbours of the refused tails", () => {
    expect([...decodeBase64Url("Zg")!]).toEqual([0x66]);
    expect([...decodeBase64Url("Zm8")!]).toEqual([0x66, 0x6f]);
  });

  it("has exactly one spelling per byte string", () => {
    const b64urlChar = fc.constantFrom(...ALPHABET.split(""));
    fc.assert(
      fc.property(fc.string({ unit: b64urlChar, maxLength: 64 }), (s) => {
        const bytes = decodeBase64Url(s);
        if (bytes !== undefined) expect(encodeBase64Url(bytes)).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });

  it("accepts only final characters whose unused bits are zero", () => {
    // For a 2-char tail only 4 of 64 final chars are canonical; for a 3-char tail, 16 of 64.
    const twoOk = ALPHABET.split("").filter((c) => decodeBase64Url(`A${c}`) !== undefined);
    const threeOk = ALPHABET.split("").filter((c) => decodeBase64Url(`AA${c}`) !== undefined);
    expect(twoOk.join("")).toBe("AQgw");
    expect(threeOk.length).toBe(16);
  });

  it("never throws on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" })), (s) => {
        const out = decodeBase64Url(s);
        expect(out === undefined || out instanceof Uint8Array).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
