import { fromBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ClaimsSchema } from "../../../gen/room/tokens/v1/claims_pb.js";
import { BatchSealer } from "../../../src/domain/tokens/batch-sealer.js";
import { encodeClaims } from "../../../src/domain/tokens/claims-encoding.js";
import { decodeBase64Url } from "../../../src/domain/tokens/base64url.js";
import { addKey, generateTokenKey, Keyring, type TokenKey } from "../../../src/domain/tokens/keyring.js";
import { TokenCodec, TokenKind } from "../../../src/domain/tokens/token-codec.js";

const sealers: BatchSealer[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(sealers.splice(0).map((s) => s.close()));
});

function setup(minWorkerBatch = 32) {
  const key: TokenKey = { ...generateTokenKey(0), state: "active" };
  const codec = new TokenCodec(new Keyring([key]));
  const errors: unknown[] = [];
  const sealer = new BatchSealer(codec, { minWorkerBatch, onError: (err) => errors.push(err) });
  sealers.push(sealer);
  return { key, codec, sealer, errors };
}

/** `n` claims whose user ids are `${tag}-${i}`, so every token can be matched to its argument. */
function claimsFor(tag: string, n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) =>
    encodeClaims({
      tokenId: new Uint8Array(16).fill(i % 256),
      tenantId: "t",
      userId: `${tag}-${i}`,
      roomId: "r",
      permissions: [1],
      metadataJson: "",
      issuedAtMs: 1,
      notBeforeMs: 1,
      expiresAtMs: 2,
    }),
  );
}

/** Opens every token and returns [key id, user id] for each, in order. */
function opened(codec: TokenCodec, tokens: readonly string[]): Array<[number, string]> {
  return tokens.map((t) => {
    const bytes = decodeBase64Url(t)!;
    const keyId = ((bytes[1]! << 24) | (bytes[2]! << 16) | (bytes[3]! << 8) | bytes[4]!) >>> 0;
    return [keyId, fromBinary(ClaimsSchema, codec.open(TokenKind.RoomMember, t)).userId];
  });
}

const expected = (keyId: number, tag: string, n: number) => Array.from({ length: n }, (_, i) => [keyId, `${tag}-${i}`]);

describe("BatchSealer", () => {
  it("seals a large batch on the thread and a small one inline; every token opens, in order", async () => {
    const { key, codec, sealer, errors } = setup();
    await sealer.whenReady();
    expect(sealer.worker).toBeDefined();
    expect(opened(codec, await sealer.sealAll(TokenKind.RoomMember, claimsFor("big", 1000)))).toEqual(
      expected(key.id, "big", 1000),
    );
    expect(opened(codec, await sealer.sealAll(TokenKind.RoomMember, claimsFor("small", 31)))).toEqual(
      expected(key.id, "small", 31),
    );
    expect(sealer.counts).toEqual({ offloaded: 1, inline: 1, fallbacks: 0 });
    expect(errors).toEqual([]);
  });

  it("a token sealed after a key rotation carries the new key id and verifies; the old ones still verify", async () => {
    const { key, codec, sealer } = setup();
    await sealer.whenReady();
    const before = await sealer.sealAll(TokenKind.RoomMember, claimsFor("before", 64));
    const next: TokenKey = generateTokenKey(1);
    let keys = addKey([key], next, true);
    codec.setKeyring(new Keyring(keys));
    // The new key reaches the thread ahead of the next batch (one port, in order).
    const after = await sealer.sealAll(TokenKind.RoomMember, claimsFor("after", 64));
    expect(opened(codec, before)).toEqual(expected(key.id, "before", 64));
    expect(opened(codec, after)).toEqual(expected(next.id, "after", 64));
    // And back again, twice in a row without a batch between.
    keys = addKey(keys, generateTokenKey(2), false);
    codec.setKeyring(new Keyring(keys));
    const third: TokenKey = generateTokenKey(3);
    codec.setKeyring(new Keyring(addKey(keys, third, true)));
    expect(opened(codec, await sealer.sealAll(TokenKind.RoomMember, claimsFor("third", 40)))).toEqual(
      expected(third.id, "third", 40),
    );
    expect(sealer.counts.offloaded).toBe(3);
  });

  it("concurrent batches each get their own tokens, in their own order", async () => {
    const { key, codec, sealer } = setup();
    await sealer.whenReady();
    const tags = ["a", "b", "c", "d", "e", "f"];
    const results = await Promise.all(
      tags.map((tag, i) => sealer.sealAll(TokenKind.RoomMember, claimsFor(tag, 40 + i * 50))),
    );
    for (const [i, tokens] of results.entries()) {
      expect(opened(codec, tokens)).toEqual(expected(key.id, tags[i]!, 40 + i * 50));
    }
    expect(sealer.counts.offloaded).toBe(tags.length);
  });

  it("a thread that dies with batches in flight loses none: they seal inline, the death is reported, a new thread takes over", async () => {
    const { key, codec, sealer, errors } = setup();
    await sealer.whenReady();
    const worker = sealer.worker!;
    const inFlight = [
      sealer.sealAll(TokenKind.RoomMember, claimsFor("x", 500)),
      sealer.sealAll(TokenKind.RoomMember, claimsFor("y", 500)),
    ];
    const dead = worker.terminate();
    const [x, y] = await Promise.all(inFlight);
    await dead;
    expect(opened(codec, x!)).toEqual(expected(key.id, "x", 500));
    expect(opened(codec, y!)).toEqual(expected(key.id, "y", 500));
    expect(errors.length).toBeGreaterThanOrEqual(1);
    // Until a new thread is up, large batches seal inline; then it takes them again.
    expect(opened(codec, await sealer.sealAll(TokenKind.RoomMember, claimsFor("z", 100)))).toEqual(
      expected(key.id, "z", 100),
    );
    // Past the restart delay (1 s after the death) on the clock it reads, without waiting it out.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 1_100 });
    sealer.sealAll(TokenKind.RoomMember, claimsFor("kick", 1)); // a small batch does not start one
    await sealer.sealAll(TokenKind.RoomMember, claimsFor("start", 100)); // this one does (inline meanwhile)
    await sealer.whenReady();
    expect(sealer.worker).toBeDefined();
    expect(sealer.worker).not.toBe(worker);
    const before = sealer.counts.offloaded;
    expect(opened(codec, await sealer.sealAll(TokenKind.RoomMember, claimsFor("w", 100)))).toEqual(
      expected(key.id, "w", 100),
    );
    expect(sealer.counts.offloaded).toBe(before + 1);
  });

  it("without a thread (worker: false, or closed) everything seals inline", async () => {
    const key: TokenKey = { ...generateTokenKey(0), state: "active" };
    const codec = new TokenCodec(new Keyring([key]));
    const inline = new BatchSealer(codec, { worker: false });
    await inline.whenReady();
    expect(inline.worker).toBeUndefined();
    expect(opened(codec, await inline.sealAll(TokenKind.RoomMember, claimsFor("i", 200)))).toEqual(
      expected(key.id, "i", 200),
    );
    expect(inline.counts).toEqual({ offloaded: 0, inline: 1, fallbacks: 0 });
    const closed = setup();
    const sealer = closed.sealer;
    await sealer.whenReady();
    await sealer.close();
    expect(sealer.worker).toBeUndefined();
    expect(opened(closed.codec, await sealer.sealAll(TokenKind.RoomMember, claimsFor("c", 200)))).toEqual(
      expected(closed.key.id, "c", 200),
    );
    expect(sealer.counts.inline).toBe(1);
  });

  it("closing with a batch in flight: the batch still gets its tokens (inline), nothing is reported as a failure", async () => {
    const { key, codec, sealer, errors } = setup();
    await sealer.whenReady();
    const inFlight = sealer.sealAll(TokenKind.RoomMember, claimsFor("f", 800));
    await sealer.close();
    expect(opened(codec, await inFlight)).toEqual(expected(key.id, "f", 800));
    expect(errors).toEqual([]);
    expect(sealer.counts).toEqual({ offloaded: 0, inline: 0, fallbacks: 1 });
  });
});
