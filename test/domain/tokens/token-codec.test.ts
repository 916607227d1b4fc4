import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeBase64Url, encodeBase64Url } from "../../../src/domain/tokens/base64url.js";
import { Keyring, activateKey, addKey, retireKey } from "../../../src/domain/tokens/keyring.js";
import type { TokenKey } from "../../../src/domain/tokens/keyring.js";
import { InvalidTokenError, TokenCodec, TokenKind } from "../../../src/domain/tokens/token-codec.js";
import { XaesKey } from "../../../src/domain/tokens/xaes.js";

const key = (id: number, state: TokenKey["state"], fill: number): TokenKey => ({
  id,
  secret: new Uint8Array(32).fill(fill),
  state,
  createdAt: 0,
});
const KEY_A = key(0x0a0b0c0d, "active", 0xa1);
const codec = new TokenCodec(new Keyring([KEY_A, key(2, "decrypt", 0x22)]));
const CLAIMS = new TextEncoder().encode("tenant t1, user u1, room r1, perms 200 201");

/** Asserts the one uniform refusal: type, name and exact message. */
function expectRefused(open: () => unknown): void {
  let thrown: unknown;
  try {
    open();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(InvalidTokenError);
  expect((thrown as Error).message).toBe("invalid token");
  expect((thrown as Error).name).toBe("InvalidTokenError");
}

const bytesOf = (token: string) => Uint8Array.from(decodeBase64Url(token)!);

describe("TokenCodec", () => {
  const token = codec.seal(TokenKind.RoomMember, CLAIMS);

  it("lays out version, big-endian key id, nonce, ciphertext and tag", () => {
    const bytes = bytesOf(token);
    expect(bytes.length).toBe(1 + 4 + 24 + CLAIMS.length + 16);
    expect([...bytes.subarray(0, 5)]).toEqual([1, 0x0a, 0x0b, 0x0c, 0x0d]);
    expect(token.length).toBe(Math.ceil((bytes.length * 4) / 3));
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    // The claims are encrypted, not merely encoded.
    expect(Buffer.from(bytes).includes(Buffer.from("tenant"))).toBe(false);
  });

  it("opens its own token", () => {
    expect(new TextDecoder().decode(codec.open(TokenKind.RoomMember, token))).toBe(
      "tenant t1, user u1, room r1, perms 200 201",
    );
  });

  it("uses a fresh nonce per token", () => {
    const a = bytesOf(codec.seal(TokenKind.RoomMember, CLAIMS));
    const b = bytesOf(codec.seal(TokenKind.RoomMember, CLAIMS));
    expect(Buffer.from(a.subarray(5, 29)).equals(b.subarray(5, 29))).toBe(false);
  });

  it("round-trips arbitrary claims for every kind", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.constantFrom(TokenKind.RoomMember, TokenKind.UserAccess, TokenKind.AccessLink),
        (claims, kind) => {
          expect(codec.open(kind, codec.seal(kind, claims))).toEqual(Buffer.from(claims));
        },
      ),
    );
  });

  it("refuses every single-bit flip of the token bytes", () => {
    const bytes = bytesOf(token);
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const forged = Uint8Array.from(bytes);
      forged[bit >> 3] ^= 1 << (bit & 7);
      expectRefused(() => codec.open(TokenKind.RoomMember, encodeBase64Url(forged)));
    }
  });

  it("refuses every single-character substitution of the token string", () => {
    for (let i = 0; i < token.length; i++) {
      for (const c of ["A", "f", "-", "_"]) {
        if (token[i] === c) continue;
        expectRefused(() => codec.open(TokenKind.RoomMember, token.slice(0, i) + c + token.slice(i + 1)));
      }
    }
  });

  it("refuses every truncation, of the string and of the bytes", () => {
    for (let n = 0; n < token.length; n++) {
      expectRefused(() => codec.open(TokenKind.RoomMember, token.slice(0, n)));
    }
    const bytes = bytesOf(token);
    for (let n = 0; n < bytes.length; n++) {
      expectRefused(() => codec.open(TokenKind.RoomMember, encodeBase64Url(bytes.subarray(0, n))));
    }
  });

  it("refuses appended bytes and characters", () => {
    const bytes = bytesOf(token);
    for (const extra of [[0], [0, 0], [1, 2, 3], [...bytes.subarray(-16)]]) {
      expectRefused(() => codec.open(TokenKind.RoomMember, encodeBase64Url(new Uint8Array([...bytes, ...extra]))));
    }
    for (const suffix of ["A", "AA", "AAA", "AAAA", "."]) {
      expectRefused(() => codec.open(TokenKind.RoomMember, token + suffix));
    }
  });

  it("refuses padding and whitespace", () => {
    for (const spelled of [`${token}=`, `${token}==`, `${token}===`, ` ${token}`, `${token}\n`]) {
      expectRefused(() => codec.open(TokenKind.RoomMember, spelled));
    }
  });

  it("refuses the standard base64 alphabet (+ and / for - and _)", () => {
    let t = token;
    for (let i = 0; i < 100 && !(t.includes("-") && t.includes("_")); i++) t = codec.seal(TokenKind.RoomMember, CLAIMS);
    expect(t.includes("-") && t.includes("_")).toBe(true);
    expect(codec.open(TokenKind.RoomMember, t)).toEqual(Buffer.from(CLAIMS)); // control
    expectRefused(() => codec.open(TokenKind.RoomMember, t.replaceAll("-", "+")));
    expectRefused(() => codec.open(TokenKind.RoomMember, t.replaceAll("_", "/")));
    expectRefused(() => codec.open(TokenKind.RoomMember, t.replaceAll("-", "+").replaceAll("_", "/")));
  });

  it("refuses a token sealed under another secret with the same key id", () => {
    const impostor = new TokenCodec(new Keyring([{ ...KEY_A, secret: new Uint8Array(32).fill(0xa2) }]));
    expectRefused(() => codec.open(TokenKind.RoomMember, impostor.seal(TokenKind.RoomMember, CLAIMS)));
  });

  it("refuses an unknown key id", () => {
    // Same secret as KEY_A on purpose: only the key id lookup can refuse this token.
    const other = new TokenCodec(new Keyring([key(3, "active", 0xa1)]));
    expectRefused(() => codec.open(TokenKind.RoomMember, other.seal(TokenKind.RoomMember, CLAIMS)));
  });

  it("refuses a token whose key id is rewritten to another known key", () => {
    const bytes = bytesOf(token);
    bytes.set([0, 0, 0, 2], 1);
    expectRefused(() => codec.open(TokenKind.RoomMember, encodeBase64Url(bytes)));
  });

  it("refuses a token of another kind", () => {
    for (const sealedAs of [TokenKind.RoomMember, TokenKind.UserAccess, TokenKind.AccessLink]) {
      const t = codec.seal(sealedAs, CLAIMS);
      for (const openedAs of [TokenKind.RoomMember, TokenKind.UserAccess, TokenKind.AccessLink]) {
        if (openedAs === sealedAs) expect(codec.open(openedAs, t)).toEqual(Buffer.from(CLAIMS));
        else expectRefused(() => codec.open(openedAs, t));
      }
    }
  });

  it("refuses an unknown version even when its tag is valid", () => {
    // Sealed correctly for version 2, so only the version check can refuse it.
    for (const version of [0, 2, 255]) {
      const header = new Uint8Array([version, 0x0a, 0x0b, 0x0c, 0x0d]);
      const nonce = new Uint8Array(24).fill(9);
      const aad = new Uint8Array([...header, TokenKind.RoomMember]);
      const sealed = new XaesKey(KEY_A.secret).seal(nonce, CLAIMS, aad);
      const forged = encodeBase64Url(new Uint8Array([...header, ...nonce, ...sealed]));
      expectRefused(() => codec.open(TokenKind.RoomMember, forged));
      // control: the same construction with version 1 opens
      const v1 = new Uint8Array([1, 0x0a, 0x0b, 0x0c, 0x0d]);
      const ok = new XaesKey(KEY_A.secret).seal(nonce, CLAIMS, new Uint8Array([...v1, TokenKind.RoomMember]));
      expect(codec.open(TokenKind.RoomMember, encodeBase64Url(new Uint8Array([...v1, ...nonce, ...ok])))).toEqual(
        Buffer.from(CLAIMS),
      );
    }
  });

  it("refuses absurdly long input, and never seals a token it would refuse", () => {
    const biggest = codec.seal(TokenKind.RoomMember, new Uint8Array(6099));
    expect(biggest.length).toBe(8192);
    expect(codec.open(TokenKind.RoomMember, biggest).length).toBe(6099);
    expect(() => codec.seal(TokenKind.RoomMember, new Uint8Array(6100))).toThrow(RangeError);
    // One byte more, sealed correctly by hand: only the length limit can refuse it.
    const header = new Uint8Array([1, 0x0a, 0x0b, 0x0c, 0x0d]);
    const nonce = new Uint8Array(24).fill(5);
    const sealed = new XaesKey(KEY_A.secret).seal(
      nonce,
      new Uint8Array(6100),
      new Uint8Array([...header, TokenKind.RoomMember]),
    );
    const tooLong = encodeBase64Url(new Uint8Array([...header, ...nonce, ...sealed]));
    expect(tooLong.length).toBe(8194);
    expectRefused(() => codec.open(TokenKind.RoomMember, tooLong));
    expectRefused(() => codec.open(TokenKind.RoomMember, "A".repeat(1_000_000)));
  });

  it("throws only InvalidTokenError for arbitrary strings", () => {
    const b64url = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".split(""));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: "binary" }),
          fc.string({ unit: b64url, minLength: 55, maxLength: 200 }),
        ),
        (s) => expectRefused(() => codec.open(TokenKind.RoomMember, s)),
      ),
      { numRuns: 1000 },
    );
  });

  it("throws only InvalidTokenError for well-formed headers with random bodies", () => {
    fc.assert(
      fc.property(fc.constantFrom(0x0a0b0c0d, 2), fc.uint8Array({ minLength: 40, maxLength: 300 }), (id, body) => {
        const header = [1, id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff];
        expectRefused(() => codec.open(TokenKind.RoomMember, encodeBase64Url(new Uint8Array([...header, ...body]))));
      }),
      { numRuns: 500 },
    );
  });

  it("treats an unknown kind as a caller bug, not a bad token", () => {
    expect(() => codec.seal(9 as TokenKind, CLAIMS)).toThrow(RangeError);
    expect(() => codec.open(0 as TokenKind, token)).toThrow(RangeError);
  });
});

describe("TokenCodec key rotation", () => {
  it("keeps old tokens valid until their key is retired", () => {
    const keyA = key(100, "active", 0x0a);
    const keyB = key(200, "decrypt", 0x0b);
    let keys = [keyA];
    const c = new TokenCodec(new Keyring(keys));
    const oldToken = c.seal(TokenKind.UserAccess, CLAIMS);

    // Step 1: B is added decrypt-only; A still seals.
    keys = addKey(keys, keyB, false);
    c.setKeyring(new Keyring(keys));
    expect(bytesOf(c.seal(TokenKind.UserAccess, CLAIMS))[4]).toBe(100);

    // Step 2: B becomes active, A decrypt-only; old tokens still open, new ones use B.
    keys = activateKey(keys, 200);
    c.setKeyring(new Keyring(keys));
    expect(keys.map((k) => `${k.id}:${k.state}`)).toEqual(["100:decrypt", "200:active"]);
    expect(c.open(TokenKind.UserAccess, oldToken)).toEqual(Buffer.from(CLAIMS));
    const newToken = c.seal(TokenKind.UserAccess, CLAIMS);
    expect([...bytesOf(newToken).subarray(1, 5)]).toEqual([0, 0, 0, 200]);
    expect(c.open(TokenKind.UserAccess, newToken)).toEqual(Buffer.from(CLAIMS));

    // Step 3: A is retired; its tokens are refused like forgeries, B's still open.
    keys = retireKey(keys, 100);
    c.setKeyring(new Keyring(keys));
    expectRefused(() => c.open(TokenKind.UserAccess, oldToken));
    expect(c.open(TokenKind.UserAccess, newToken)).toEqual(Buffer.from(CLAIMS));
  });
});
