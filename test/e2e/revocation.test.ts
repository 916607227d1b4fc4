import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { sql } from "drizzle-orm";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import type { App } from "../../src/app/create-app.js";
import { serve, type RunningServer } from "../../src/app/serve.js";
import { startHarnessedApp, type Harness } from "../support/harness.js";
import { generateTokenKey } from "../../src/domain/tokens/keyring.js";
import type { VerifiedCache } from "../../src/domain/tokens/verified-cache.js";
import {
  bearer,
  connectTransport,
  expectCode,
  grpcTransport,
  tokensClient,
  type TokensClient,
} from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

/**
 * Revocation end to end: Revoke, RevokeUser and RevokeRoom over Connect JSON
 * and gRPC against a real server, with an injected clock so "issued before
 * the revocation" and "issued after it" are exact.
 */

let now = Date.now();
const clock = () => now;
/** Moves the injected clock; watermarks cover tokens issued at or before the revocation's millisecond. */
const tick = (ms = 1) => {
  now += ms;
};

let srv: TestServer;
let clients: Record<string, TokensClient>;

beforeAll(async () => {
  srv = await startTestServer({ clock });
  clients = {
    "Connect JSON": tokensClient(connectTransport(srv.baseUrl)),
    gRPC: tokensClient(grpcTransport(srv.baseUrl)),
  };
});
afterAll(async () => {
  await srv?.close();
});

// ---- helpers ---------------------------------------------------------------

let seq = 0;
/** A fresh id, so tests never share users or rooms. */
const fresh = (what: string) => `${what}-${++seq}-${randomBytes(3).toString("hex")}`;

interface Issued {
  readonly token: string;
  readonly id: string;
}

/** Issues one token and verifies it once (which also puts it in the verified-token cache). */
async function issue(
  c: TokensClient,
  userId: string,
  roomId: string,
  key = srv.apiKey,
  ttlSeconds = 0,
): Promise<Issued> {
  const { tokens } = await c.create(
    { arguments: [{ userId, roomId, permissions: [Permission.PermissionChat], ttlSeconds }] },
    bearer(key),
  );
  const v = await c.verify({ token: tokens[0]! }, bearer(key));
  expect(v.tokenId).toMatch(/^[0-9a-f]{32}$/);
  return { token: tokens[0]!, id: v.tokenId };
}

async function expectValid(c: TokensClient, t: Issued, key = srv.apiKey): Promise<void> {
  const v = await c.verify({ token: t.token }, bearer(key));
  expect(v.tokenId).toBe(t.id);
}

async function expectRevoked(c: TokensClient, t: Issued, key = srv.apiKey): Promise<void> {
  await expectCode(c.verify({ token: t.token }, bearer(key)), Code.Unauthenticated, "token revoked");
}

type Counts = { revocations: number; audit: number; events: number };

async function countsOf(h: Harness): Promise<Counts> {
  const n = async (table: string) =>
    Number((await h.rows.get(sql`select count(*) as "n" from ${sql.identifier(table)}`))?.n);
  return { revocations: await n("revocations"), audit: await n("audit_log"), events: await n("events") };
}

/** Runs `fn`, which must be refused, and asserts no revocation, audit entry or event was written. */
async function writesNothing(fn: () => Promise<unknown>): Promise<void> {
  const before = await countsOf(srv.h);
  const revokedBefore = srv.h.revocations.revokedTokenCount;
  await fn();
  expect(await countsOf(srv.h)).toEqual(before);
  expect(srv.h.revocations.revokedTokenCount).toBe(revokedBefore);
}

/** Runs a revocation and asserts it wrote exactly one revocation, one audit entry and one event. */
async function writesOne<T>(fn: () => Promise<T>): Promise<T> {
  const before = await countsOf(srv.h);
  const out = await fn();
  expect(await countsOf(srv.h)).toEqual({
    revocations: before.revocations + 1,
    audit: before.audit + 1,
    events: before.events + 1,
  });
  return out;
}

async function keyActor(): Promise<string> {
  const keys = await srv.h.tenants.listApiKeys(srv.tenantId);
  expect(keys).toHaveLength(1);
  return `key:${keys[0]!.id}`;
}

/** The newest audit entry and the event with `eventId`, both of the bootstrap tenant. */
async function recorded(eventId: bigint) {
  const [audit] = await srv.h.journal.listAudit({ tenantId: srv.tenantId, limit: 1 });
  const [event] = await srv.h.journal.eventsAfter(srv.tenantId, undefined, Number(eventId) - 1, 1);
  expect(event?.id).toBe(Number(eventId));
  return { audit: audit!, event: event! };
}

/** True when the token is held decoded in the server's verified-token cache. */
function isCached(t: Issued): boolean {
  const cache = Reflect.get(srv.h.roomTokens.verifier, "cache") as VerifiedCache<unknown>;
  return cache.get(t.token, srv.h.codec.generation) !== undefined;
}

// ---- behaviour, over both protocols ------------------------------------------

describe.each(["Connect JSON", "gRPC"])("revocation over %s", (name) => {
  const c = () => clients[name]!;

  it("Revoke: the very next Verify refuses the token; the user's other tokens still verify", async () => {
    const user = fresh("user");
    const room = fresh("room");
    const target = await issue(c(), user, room);
    const sibling = await issue(c(), user, room);
    const elsewhere = await issue(c(), user, fresh("room"));
    // It was verified (and cached) before: the cache must not keep it alive.
    expect(isCached(target)).toBe(true);

    const res = await writesOne(() => c().revoke({ tokenId: target.id, reason: "leaked" }, bearer(srv.apiKey)));
    await expectRevoked(c(), target);
    await expectRevoked(c(), target);
    await expectValid(c(), sibling);
    await expectValid(c(), elsewhere);
    expect(
      srv.h.revocations.isRevoked({
        tenantId: srv.tenantId,
        tokenId: target.id,
        userId: user,
        roomId: room,
        issuedAt: now + 1,
      }),
    ).toBe(true);

    const { audit, event } = await recorded(res.eventId);
    expect(audit).toMatchObject({
      action: "token.revoke",
      actor: await keyActor(),
      target: target.id,
      targetUserId: user,
      roomId: room,
      reason: "leaked",
      at: now,
    });
    expect(event).toMatchObject({
      type: EventType.TOKEN_REVOKED,
      tokenId: target.id,
      userId: user,
      roomId: room,
      reason: "leaked",
      actor: await keyActor(),
      at: now,
    });
  });

  it("RevokeUser with a room: only that user's tokens for that room", async () => {
    const user = fresh("user");
    const other = fresh("user");
    const room = fresh("room");
    const room2 = fresh("room");
    const inRoom = [await issue(c(), user, room), await issue(c(), user, room)];
    const inOtherRoom = await issue(c(), user, room2);
    const otherUser = await issue(c(), other, room);

    const res = await writesOne(() =>
      c().revokeUser({ userId: user, roomId: room, reason: "kicked" }, bearer(srv.apiKey)),
    );
    for (const t of inRoom) await expectRevoked(c(), t);
    await expectValid(c(), inOtherRoom);
    await expectValid(c(), otherUser);

    const { audit, event } = await recorded(res.eventId);
    expect(audit).toMatchObject({
      action: "token.revoke_user",
      actor: await keyActor(),
      targetUserId: user,
      roomId: room,
      target: "",
      reason: "kicked",
    });
    expect(event).toMatchObject({
      type: EventType.TOKEN_REVOKED,
      userId: user,
      roomId: room,
      tokenId: "",
      reason: "kicked",
    });

    // Issued after the revocation (1 ms later): not affected.
    tick();
    await expectValid(c(), await issue(c(), user, room));
  });

  it("RevokeUser without a room: every token of that user, in every room", async () => {
    const user = fresh("user");
    const other = fresh("user");
    const rooms = [fresh("room"), fresh("room"), fresh("room")];
    const mine = await Promise.all(rooms.map((r) => issue(c(), user, r)));
    const theirs = await issue(c(), other, rooms[0]!);

    const res = await writesOne(() => c().revokeUser({ userId: user, roomId: "", reason: "" }, bearer(srv.apiKey)));
    for (const t of mine) await expectRevoked(c(), t);
    await expectValid(c(), theirs);

    const { audit, event } = await recorded(res.eventId);
    expect(audit).toMatchObject({ action: "token.revoke_user", targetUserId: user, roomId: "" });
    expect(event).toMatchObject({ type: EventType.TOKEN_REVOKED, userId: user, roomId: "", tokenId: "" });

    tick();
    const after = await Promise.all(rooms.map((r) => issue(c(), user, r)));
    for (const t of after) await expectValid(c(), t);
  });

  it("RevokeRoom: every token of the room, whoever holds it; other rooms unaffected", async () => {
    const room = fresh("room");
    const otherRoom = fresh("room");
    const users = [fresh("user"), fresh("user"), fresh("user")];
    const inRoom = await Promise.all(users.map((u) => issue(c(), u, room)));
    const inOtherRoom = await Promise.all(users.map((u) => issue(c(), u, otherRoom)));

    const res = await writesOne(() => c().revokeRoom({ roomId: room, reason: "closed" }, bearer(srv.apiKey)));
    for (const t of inRoom) await expectRevoked(c(), t);
    for (const t of inOtherRoom) await expectValid(c(), t);

    const { audit, event } = await recorded(res.eventId);
    expect(audit).toMatchObject({
      action: "token.revoke_room",
      actor: await keyActor(),
      roomId: room,
      targetUserId: "",
      target: "",
      reason: "closed",
    });
    expect(event).toMatchObject({
      type: EventType.TOKEN_REVOKED,
      roomId: room,
      userId: "",
      tokenId: "",
      reason: "closed",
    });

    tick();
    await expectValid(c(), await issue(c(), users[0]!, room));
  });

  it("a token issued in the same millisecond as a watermark is covered by it ('issued so far')", async () => {
    const user = fresh("user");
    const room = fresh("room");
    tick();
    const before = await issue(c(), user, room);
    await c().revokeUser({ userId: user, roomId: room }, bearer(srv.apiKey));
    // Same clock reading as the revocation: counted as issued before it.
    const { tokens } = await c().create(
      { arguments: [{ userId: user, roomId: room, permissions: [Permission.PermissionChat] }] },
      bearer(srv.apiKey),
    );
    await expectCode(c().verify({ token: tokens[0]! }, bearer(srv.apiKey)), Code.Unauthenticated, "token revoked");
    await expectRevoked(c(), before);
    tick();
    await expectValid(c(), await issue(c(), user, room));
  });

  it("refusals write nothing: malformed id, unknown id, empty user_id or room_id, long reason, no key", async () => {
    const user = fresh("user");
    const room = fresh("room");
    const t = await issue(c(), user, room);
    const key = bearer(srv.apiKey);
    for (const bad of [
      "",
      "xyz",
      t.id.toUpperCase(),
      t.id.slice(1),
      `${t.id}0`,
      ` ${t.id.slice(1)}`,
      `${t.id.slice(0, 31)}g`,
    ]) {
      await writesNothing(() =>
        expectCode(
          c().revoke({ tokenId: bad }, key),
          Code.InvalidArgument,
          "token_id must be 32 lower-case hex digits",
        ),
      );
    }
    const unknown = randomBytes(16).toString("hex");
    await writesNothing(() =>
      expectCode(c().revoke({ tokenId: unknown }, key), Code.NotFound, `token ${unknown} not found`),
    );
    await writesNothing(() =>
      expectCode(c().revokeUser({ userId: "", roomId: room }, key), Code.InvalidArgument, "user_id: must not be empty"),
    );
    await writesNothing(() =>
      expectCode(c().revokeUser({ userId: "" }, key), Code.InvalidArgument, "user_id: must not be empty"),
    );
    await writesNothing(() =>
      expectCode(c().revokeRoom({ roomId: "" }, key), Code.InvalidArgument, "room_id: must not be empty"),
    );
    await writesNothing(() =>
      expectCode(
        c().revokeUser({ userId: "u".repeat(257) }, key),
        Code.InvalidArgument,
        "user_id: longer than 256 bytes",
      ),
    );
    await writesNothing(() =>
      expectCode(
        c().revokeUser({ userId: "u", roomId: "r\u0000" }, key),
        Code.InvalidArgument,
        "room_id: must not contain control characters",
      ),
    );
    await writesNothing(() =>
      expectCode(
        c().revokeRoom({ roomId: "r".repeat(257) }, key),
        Code.InvalidArgument,
        "room_id: longer than 256 bytes",
      ),
    );
    await writesNothing(() =>
      expectCode(c().revoke({ tokenId: t.id, reason: "x".repeat(1_025) }, key), Code.InvalidArgument, /reason/),
    );
    await writesNothing(() =>
      expectCode(c().revokeRoom({ roomId: room, reason: "x".repeat(1_025) }, key), Code.InvalidArgument, /reason/),
    );
    await writesNothing(() => expectCode(c().revoke({ tokenId: t.id }), Code.Unauthenticated));
    await writesNothing(() =>
      expectCode(c().revokeRoom({ roomId: room }, bearer("rgk_nope_nope")), Code.Unauthenticated),
    );
    // None of that touched the token.
    await expectValid(c(), t);
  });

  it("another tenant: our token id is not_found for it and nothing is written; its user/room revocations do not reach us", async () => {
    const user = fresh("user");
    const room = fresh("room");
    const ours = await issue(c(), user, room);
    const theirs = await issue(c(), user, room, srv.otherKey);
    const other = bearer(srv.otherKey);

    await writesNothing(() =>
      expectCode(c().revoke({ tokenId: ours.id }, other), Code.NotFound, `token ${ours.id} not found`),
    );
    // And the other way round.
    await writesNothing(() => expectCode(c().revoke({ tokenId: theirs.id }, bearer(srv.apiKey)), Code.NotFound));

    // Same user and room ids in the other tenant: its watermarks are its own.
    await c().revokeUser({ userId: user, roomId: room }, other);
    await c().revokeUser({ userId: user }, other);
    await c().revokeRoom({ roomId: room }, other);
    await expectRevoked(c(), theirs, srv.otherKey);
    await expectValid(c(), ours);
    // Its audit entries and events are not in our tenant's journal.
    expect(
      (await srv.h.journal.listAudit({ tenantId: srv.tenantId, roomId: room, limit: 100 })).filter((a) =>
        a.action.startsWith("token.revoke"),
      ),
    ).toEqual([]);
    expect(await srv.h.journal.eventsAfter(srv.tenantId, room, 0, 100)).toEqual([]);
    const theirEvents = (await srv.h.journal.eventsAfter(srv.otherTenantId, undefined, 0, 10_000)).filter(
      (e) => e.userId === user || e.roomId === room,
    );
    expect(theirEvents.map((e) => [e.type, e.userId, e.roomId])).toEqual([
      [EventType.TOKEN_REVOKED, user, room],
      [EventType.TOKEN_REVOKED, user, ""],
      [EventType.TOKEN_REVOKED, "", room],
    ]);
  });
});

// ---- restart -------------------------------------------------------------------

describe("revocations survive a restart", () => {
  it("a new app on the same data dir and keys loads every live revocation into memory", async () => {
    let t = Date.now();
    const restartClock = () => t;
    const keys = [{ ...generateTokenKey(t), state: "active" as const }];
    const first = await startTestServer({ clock: restartClock, tokenKeys: keys });
    let second: { app: App; h: Harness; server: RunningServer } | undefined;
    try {
      const c1 = tokensClient(connectTransport(first.baseUrl));
      const key = bearer(first.apiKey);
      const byId = await issue(c1, "alice", "lobby", first.apiKey);
      const aliceKept = await issue(c1, "alice", "lobby", first.apiKey);
      const bobInLobby = await issue(c1, "bob", "lobby", first.apiKey);
      const bobInHall = await issue(c1, "bob", "hall", first.apiKey);
      const carol = await issue(c1, "carol", "attic", first.apiKey);
      const dave = await issue(c1, "dave", "hall", first.apiKey);
      const shortLived = await issue(c1, "erin", "lobby", first.apiKey, 60);

      await c1.revoke({ tokenId: byId.id }, key);
      await c1.revoke({ tokenId: shortLived.id }, key);
      await c1.revokeUser({ userId: "bob", roomId: "lobby" }, key);
      await c1.revokeUser({ userId: "carol" }, key);
      await c1.revokeRoom({ roomId: "hall" }, key);
      t += 1;
      const bobAfter = await issue(c1, "bob", "lobby", first.apiKey);
      const hallAfter = await issue(c1, "frank", "hall", first.apiKey);
      expect(first.h.revocations.revokedTokenCount).toBe(2);
      expect((await countsOf(first.h)).revocations).toBe(5);

      await first.server.close();
      // The short-lived token has expired by the restart: its revocation is no longer needed in memory.
      t += 61_000;
      const { app, h } = await startHarnessedApp(first.app.config, pino({ level: "silent" }), {
        clock: restartClock,
        tokenKeys: keys,
      });
      second = { app, h, server: await serve(app) };
      expect(h.revocations.revokedTokenCount).toBe(1);
      expect(
        h.revocations.isRevoked({
          tenantId: first.tenantId,
          tokenId: byId.id,
          userId: "alice",
          roomId: "lobby",
          issuedAt: t,
        }),
      ).toBe(true);

      const c2 = tokensClient(createGrpcTransport({ baseUrl: `http://127.0.0.1:${second.server.port}` }));
      for (const r of [byId, bobInLobby, carol, bobInHall, dave]) await expectRevoked(c2, r, first.apiKey);
      await expectCode(c2.verify({ token: shortLived.token }, key), Code.Unauthenticated, "token expired");
      for (const ok of [aliceKept, bobAfter, hallAfter]) await expectValid(c2, ok, first.apiKey);
      // Still revocable by id after the restart; the stored rows are all there.
      await c2.revoke({ tokenId: aliceKept.id }, key);
      await expectRevoked(c2, aliceKept, first.apiKey);
      expect((await countsOf(h)).revocations).toBe(6);
    } finally {
      if (second) await second.server.close();
      // Closes the first server if still open, drops its PostgreSQL database, removes its data dir.
      await first.close();
    }
  });
});
