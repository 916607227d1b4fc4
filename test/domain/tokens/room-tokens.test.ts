import { describe, expect, it } from "vitest";
import { Permission } from "../../../gen/room/permissions/v1/permission_pb.js";
import { RoomgateError } from "../../../src/domain/errors.js";
import { addKey, generateTokenKey, Keyring, retireKey, type TokenKey } from "../../../src/domain/tokens/keyring.js";
import { DEFAULT_TOKEN_LIMITS, RoomTokens, type GrantRecord } from "../../../src/domain/tokens/room-tokens.js";
import { TokenCodec } from "../../../src/domain/tokens/token-codec.js";
import { VerifiedCache } from "../../../src/domain/tokens/verified-cache.js";
import { standaloneLive } from "../../support/standalone-live.js";

function setup(cacheSize = 100) {
  let now = 1_800_000_000_000;
  const written: GrantRecord[][] = [];
  const keyA: TokenKey = { ...generateTokenKey(now), state: "active" };
  const codec = new TokenCodec(new Keyring([keyA]));
  const tokens = new RoomTokens(
    codec,
    { recordGrants: async (r) => void written.push([...r]) },
    { ...DEFAULT_TOKEN_LIMITS, verifyCacheSize: cacheSize },
    () => now,
    standaloneLive(),
  );
  return { tokens, codec, keyA, written, advance: (ms: number) => (now += ms) };
}

async function expectKind(fn: () => unknown, kind: string, message?: string | RegExp): Promise<void> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RoomgateError);
    expect((err as RoomgateError).kind).toBe(kind);
    if (typeof message === "string") expect((err as RoomgateError).message).toBe(message);
    else if (message !== undefined) expect((err as RoomgateError).message).toMatch(message);
    return;
  }
  throw new Error("expected a RoomgateError");
}

describe("RoomTokens", () => {
  it("issues, records and verifies with expanded permissions", async () => {
    const { tokens, written } = setup();
    const [t] = await tokens.issue("tenant", "key", [
      { userId: "u", roomId: "r", permissions: [Permission.PermissionRoom], metadata: { a: 1 } },
    ]);
    const v = tokens.verify("tenant", t!);
    expect(v.permissions).toEqual([200, 201, 202, 203]);
    expect(v.metadata).toEqual({ a: 1 });
    expect(v.expiresAt - v.issuedAt).toBe(86_400_000);
    expect(written).toHaveLength(1);
    expect(written[0]![0]!.id).toBe(v.tokenId);
  });

  it("refuses another tenant, expiry, and a retired key even after caching", async () => {
    const { tokens, codec, keyA, advance } = setup();
    const [t] = await tokens.issue("tenant", "key", [{ userId: "u", roomId: "r", permissions: [], ttlSeconds: 60 }]);
    tokens.verify("tenant", t!); // now cached
    await expectKind(() => tokens.verify("other", t!), "unauthenticated", "invalid token");
    const keyB: TokenKey = { ...generateTokenKey(0), state: "decrypt" };
    const rotated = addKey([keyA], keyB, true);
    codec.setKeyring(new Keyring(rotated));
    expect(tokens.verify("tenant", t!).userId).toBe("u");
    codec.setKeyring(new Keyring(retireKey(rotated, keyA.id)));
    await expectKind(() => tokens.verify("tenant", t!), "unauthenticated", "invalid token");
    advance(61_000);
    await expectKind(() => tokens.verify("tenant", t!), "unauthenticated");
  });

  it("knows a token only after it verified, and forgets it when the keyring changes", async () => {
    const { tokens, codec, keyA } = setup();
    const [t] = await tokens.issue("tenant", "key", [{ userId: "u", roomId: "r", permissions: [] }]);
    expect(tokens.knows(t!)).toBe(false);
    tokens.verify("tenant", t!);
    expect(tokens.knows(t!)).toBe(true);
    expect(tokens.knows(`${t!}x`)).toBe(false);
    codec.setKeyring(new Keyring([keyA]));
    expect(tokens.knows(t!)).toBe(false);
  });

  it("expires a cached token on time", async () => {
    const { tokens, advance } = setup();
    const [t] = await tokens.issue("tenant", "key", [{ userId: "u", roomId: "r", permissions: [], ttlSeconds: 1 }]);
    tokens.verify("tenant", t!);
    advance(1_000);
    await expectKind(() => tokens.verify("tenant", t!), "unauthenticated", "token expired");
  });

  it("validates the whole batch before recording anything", async () => {
    const { tokens, written } = setup();
    await expectKind(
      () =>
        tokens.issue("tenant", "key", [
          { userId: "u", roomId: "r", permissions: [] },
          { userId: "u", roomId: "r", permissions: [999] },
        ]),
      "invalid_argument",
      "arguments[1].permissions[0]: unknown permission 999",
    );
    expect(written).toHaveLength(0);
  });

  it("refuses an argument whose token would be too large before recording or sealing anything (metadata limit raised)", async () => {
    const now = 1_800_000_000_000;
    const written: GrantRecord[][] = [];
    const codec = new TokenCodec(new Keyring([{ ...generateTokenKey(now), state: "active" }]));
    const limits = { ...DEFAULT_TOKEN_LIMITS, maxMetadataBytes: 10_000 };
    const tokens = new RoomTokens(
      codec,
      { recordGrants: async (r) => void written.push([...r]) },
      limits,
      () => now,
      standaloneLive(),
    );
    const args = Array.from({ length: 40 }, (_, i) => ({
      userId: `u${i}`,
      roomId: "r",
      permissions: [],
      metadata: { pad: "x".repeat(i === 33 ? 6_100 : 10) },
    }));
    await expectKind(
      () => tokens.issue("tenant", "key", args),
      "invalid_argument",
      /^arguments\[33\]: ids and metadata make a token of \d+ bytes; at most 6099 fit$/,
    );
    expect(written).toHaveLength(0);
    // Just under the limit is fine.
    args[33] = { ...args[33]!, metadata: { pad: "x".repeat(5_900) } };
    expect(await tokens.issue("tenant", "key", args)).toHaveLength(40);
    expect(written).toHaveLength(1);
  });
});

describe("VerifiedCache", () => {
  it("evicts the oldest entry when full and clears on a new generation", () => {
    const c = new VerifiedCache<number>(2);
    expect(c.get("a", 0)).toBeUndefined();
    c.set("a", 1);
    c.set("b", 2);
    c.set("c", 3);
    expect(c.size).toBe(2);
    expect(c.get("a", 0)).toBeUndefined();
    expect(c.get("c", 0)).toBe(3);
    expect(c.get("c", 1)).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it("stores nothing when disabled", () => {
    const c = new VerifiedCache<number>(0);
    c.get("a", 0);
    c.set("a", 1);
    expect(c.get("a", 0)).toBeUndefined();
  });
});
