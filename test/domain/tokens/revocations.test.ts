import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RoomgateError } from "../../../src/domain/errors.js";
import { generateTokenKey, Keyring } from "../../../src/domain/tokens/keyring.js";
import { RevocationIndex, type Revocation, type TokenFacts } from "../../../src/domain/tokens/revocations.js";
import { DEFAULT_TOKEN_LIMITS, RoomTokens } from "../../../src/domain/tokens/room-tokens.js";
import { TokenCodec } from "../../../src/domain/tokens/token-codec.js";
import { standaloneLive } from "../../support/standalone-live.js";

const T = "tenant-a";
const facts = (over: Partial<TokenFacts> = {}): TokenFacts => ({
  tenantId: T,
  tokenId: "t1",
  userId: "u1",
  roomId: "r1",
  issuedAt: 100,
  ...over,
});

describe("RevocationIndex", () => {
  it("a token id revokes exactly that token", () => {
    const idx = new RevocationIndex();
    idx.add({ kind: "token", tenantId: T, tokenId: "t1", at: 50 });
    expect(idx.isRevoked(facts())).toBe(true);
    expect(idx.isRevoked(facts({ tokenId: "t2" }))).toBe(false);
    expect(idx.revokedTokenCount).toBe(1);
  });

  it("watermarks cover tokens issued at or before them, not after; per tenant", () => {
    const idx = new RevocationIndex();
    idx.add({ kind: "user", tenantId: T, userId: "u1", at: 100 });
    expect(idx.isRevoked(facts({ issuedAt: 100 }))).toBe(true);
    expect(idx.isRevoked(facts({ issuedAt: 101 }))).toBe(false);
    expect(idx.isRevoked(facts({ tenantId: "tenant-b" }))).toBe(false);
    expect(idx.isRevoked(facts({ userId: "u2" }))).toBe(false);

    idx.add({ kind: "room", tenantId: T, roomId: "r2", at: 200 });
    expect(idx.isRevoked(facts({ roomId: "r2", userId: "u9", issuedAt: 200 }))).toBe(true);
    expect(idx.isRevoked(facts({ roomId: "r1", userId: "u9", issuedAt: 200 }))).toBe(false);

    idx.add({ kind: "user_room", tenantId: T, userId: "u3", roomId: "r3", at: 300 });
    expect(idx.isRevoked(facts({ userId: "u3", roomId: "r3", issuedAt: 300 }))).toBe(true);
    expect(idx.isRevoked(facts({ userId: "u3", roomId: "r1", issuedAt: 300 }))).toBe(false);
    expect(idx.isRevoked(facts({ userId: "u1", roomId: "r3", issuedAt: 300 }))).toBe(false);
  });

  it("a watermark only moves forward (an older revocation loaded later does not lower it)", () => {
    const idx = new RevocationIndex();
    idx.add({ kind: "user", tenantId: T, userId: "u1", at: 500 });
    idx.add({ kind: "user", tenantId: T, userId: "u1", at: 100 });
    expect(idx.isRevoked(facts({ issuedAt: 400 }))).toBe(true);
  });

  it("ids containing separators cannot collide (no composite string keys)", () => {
    const idx = new RevocationIndex();
    idx.add({ kind: "user_room", tenantId: T, userId: "a\u0000b", roomId: "c", at: 100 });
    expect(idx.isRevoked(facts({ userId: "a", roomId: "b\u0000c", issuedAt: 1 }))).toBe(false);
    idx.add({ kind: "user", tenantId: "x\u0000y", userId: "z", at: 100 });
    expect(idx.isRevoked(facts({ tenantId: "x", userId: "y\u0000z", issuedAt: 1 }))).toBe(false);
  });

  it("agrees with a plain scan over every revocation (property)", () => {
    const id = fc.constantFrom("a", "b", "c");
    const revocation: fc.Arbitrary<Revocation> = fc.oneof(
      fc.record({ kind: fc.constant("token" as const), tenantId: id, tokenId: id, at: fc.nat(20) }),
      fc.record({ kind: fc.constant("user" as const), tenantId: id, userId: id, at: fc.nat(20) }),
      fc.record({ kind: fc.constant("user_room" as const), tenantId: id, userId: id, roomId: id, at: fc.nat(20) }),
      fc.record({ kind: fc.constant("room" as const), tenantId: id, roomId: id, at: fc.nat(20) }),
    );
    const token = fc.record({ tenantId: id, tokenId: id, userId: id, roomId: id, issuedAt: fc.nat(20) });
    const covers = (r: Revocation, t: TokenFacts): boolean => {
      if (r.kind === "token") return r.tokenId === t.tokenId;
      if (r.tenantId !== t.tenantId || t.issuedAt > r.at) return false;
      if (r.kind === "user") return r.userId === t.userId;
      if (r.kind === "room") return r.roomId === t.roomId;
      return r.userId === t.userId && r.roomId === t.roomId;
    };
    fc.assert(
      fc.property(
        fc.array(revocation, { maxLength: 12 }),
        fc.array(token, { minLength: 1, maxLength: 8 }),
        (rs, ts) => {
          const idx = new RevocationIndex();
          for (const r of rs) idx.add(r);
          for (const t of ts) expect(idx.isRevoked(t)).toBe(rs.some((r) => covers(r, t)));
        },
      ),
    );
  });
});

describe("RoomTokens.verify with a RevocationIndex", () => {
  const now = 1_800_000_000_000;
  const codec = new TokenCodec(new Keyring([{ ...generateTokenKey(now), state: "active" }]));
  const revokedMessage = (fn: () => unknown): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      expect(err).toBeInstanceOf(RoomgateError);
      return (err as RoomgateError).message;
    }
  };

  it.each([100, 0])(
    "cache size %i: a token verified before is refused as soon as any revocation covering it is added",
    async (verifyCacheSize) => {
      const idx = new RevocationIndex();
      const tokens = new RoomTokens(
        codec,
        { recordGrants: async () => undefined },
        { ...DEFAULT_TOKEN_LIMITS, verifyCacheSize },
        () => now,
        standaloneLive({ revocations: idx }),
      );
      const [a, b] = await tokens.issue(T, "key", [
        { userId: "u1", roomId: "r1", permissions: [200] },
        { userId: "u2", roomId: "r2", permissions: [200] },
      ]);
      const ida = tokens.verify(T, a!).tokenId;
      tokens.verify(T, b!);
      const g0 = idx.generation;

      // Unrelated revocations move the generation; both tokens are checked again and still pass.
      idx.add({ kind: "user", tenantId: T, userId: "someone", at: now });
      expect(idx.generation).toBe(g0 + 1);
      expect(tokens.verify(T, a!).userId).toBe("u1");
      idx.add({ kind: "token", tenantId: T, tokenId: "f".repeat(32), at: now });
      expect(tokens.verify(T, a!).userId).toBe("u1");

      idx.add({ kind: "token", tenantId: T, tokenId: ida, at: now });
      expect(revokedMessage(() => tokens.verify(T, a!))).toBe("token revoked");
      expect(revokedMessage(() => tokens.verify(T, a!))).toBe("token revoked");
      expect(tokens.verify(T, b!).userId).toBe("u2");

      idx.add({ kind: "user_room", tenantId: T, userId: "u2", roomId: "r2", at: now });
      expect(revokedMessage(() => tokens.verify(T, b!))).toBe("token revoked");
    },
  );
});
