import { randomUUID } from "node:crypto";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as Consumer } from "../../gen/room/consumer/private/v1/service_pb.js";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { Service as Permissions } from "../../gen/room/permissions/v1/service_pb.js";
import {
  Action as ModerationAction,
  Service as ModerationPrivate,
} from "../../gen/room/moderation/private/v1/service_pb.js";
import { WayIn } from "../../gen/room/spaces/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { serve } from "../../src/app/serve.js";
import type { StoredEvent } from "../../src/domain/journal.js";
import { generateTokenKey, type TokenKey } from "../../src/domain/tokens/keyring.js";
import { bearer, connectTransport, expectCode, grpcTransport } from "../support/clients.js";
import { startHarnessedApp } from "../support/harness.js";
import { PermissionStream } from "../support/permission-watch.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { as, spacesClient, spacesPrivateClient } from "../support/spaces-clients.js";
import { createTestUser } from "../support/users.js";

// Issue 19 §2: roles granted with an expiry stop counting at that moment,
// are announced once (ROLE_EXPIRED by actor "system", one audit entry), and
// are shown by ListMembers and ListInvites. This server's clock is moved by
// the tests and its lapses run on runDue (the lapse tests' way: no timer, no
// sleep).

const MIN = 60_000;
let now = Date.now();
const clock = () => now;
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ clock, env: { ROOMGATE_RATE_LIMIT_PER_SECOND: "0" } });
});
afterAll(async () => {
  await srv?.close();
});

const key = () => bearer(srv.apiKey);
const permissions = () => createClient(Permissions, connectTransport(srv.baseUrl));

/** A room (in a private space) and a user without a role in it. */
async function roomAndUser(
  s: TestServer = srv,
): Promise<{ spaceId: string; roomId: string; userId: string; token: string }> {
  const api = spacesPrivateClient(s);
  const { id: spaceId } = await api.createSpace({ name: "S", isPublic: false, ownerUserId: "" }, bearer(s.apiKey));
  const { id: roomId } = await api.createRoom({ spaceId, name: "R", isPublic: false }, bearer(s.apiKey));
  const u = await createTestUser(s);
  return { spaceId, roomId, ...u };
}

async function granted(roomId: string, token: string): Promise<number> {
  const r = await permissions().getRoomPermissions({ roomId }, as(token));
  return r.roomPermissions?.granted.length ?? 0;
}

async function expiredEvents(s: TestServer, userId: string): Promise<StoredEvent[]> {
  const all = await s.h.journal.eventsAfter(s.tenantId, undefined, 0, 10_000);
  return all.filter((e) => e.type === EventType.ROLE_EXPIRED && e.userId === userId);
}

async function expireAudits(s: TestServer, userId: string) {
  return await s.h.journal.listAudit({ tenantId: s.tenantId, userId, action: "role.expire", limit: 100 });
}

describe("a room role granted with an expiry", () => {
  it("counts until then, stops counting at once at the due time, and is announced exactly once", async () => {
    const { spaceId, roomId, userId, token } = await roomAndUser();
    const api = spacesPrivateClient(srv);
    const expiresAt = now + 10 * MIN;
    await api.grantRole(
      { spaceId, roomId, targetUserId: userId, role: "role_room_user", expiresAt: timestampFromMs(expiresAt) },
      key(),
    );
    expect(await granted(roomId, token)).toBeGreaterThan(0);
    const [member] = (await api.listMembers({ spaceId, roomId }, key())).members;
    expect(member).toMatchObject({ userId, roomRole: "role_room_user", waysIn: [WayIn.ROOM_ROLE] });
    expect(timestampMs(member!.roomRoleExpiresAt!)).toBe(expiresAt);

    // The permission Watch, open before the due time.
    const stream = PermissionStream.open(srv, roomId, { authorization: `Bearer ${token}` });
    expect((await stream.next()).roomPermissions!.granted.length).toBeGreaterThan(0);

    now = expiresAt;
    // Due but not swept yet: the role already counts for nothing.
    expect(await granted(roomId, token)).toBe(0);
    expect((await api.listMembers({ spaceId, roomId }, key())).members).toEqual([]);

    const sent = await srv.h.lapses.runDue();
    expect(sent.filter((e) => e.userId === userId)).toEqual([
      expect.objectContaining({
        type: EventType.ROLE_EXPIRED,
        actor: "system",
        reason: "expired",
        roomId,
        userId,
        role: "role_room_user",
        at: expiresAt,
      }),
    ]);
    expect(await srv.h.lapses.runDue()).toEqual([]);
    expect(await expiredEvents(srv, userId)).toHaveLength(1);
    const audits = await expireAudits(srv, userId);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actor: "system", action: "role.expire", roomId, at: expiresAt });
    // The Watch got the change.
    expect((await stream.next()).roomPermissions!.granted).toEqual([]);
    stream.close();
  });

  it("due but not swept: ListRooms, GetUser's moderator scope and moderation stop counting it too", async () => {
    const { spaceId, roomId, userId, token } = await roomAndUser();
    const api = spacesPrivateClient(srv);
    const expiresAt = now + 10 * MIN;
    const until = timestampFromMs(expiresAt);
    await api.grantRole(
      { spaceId, roomId, targetUserId: userId, role: "role_room_moderator", expiresAt: until },
      key(),
    );
    const users = createClient(UsersPrivate, connectTransport(srv.baseUrl));
    const user = spacesClient(srv);
    expect((await user.listRooms({ spaceId }, as(token))).rooms.map((r) => r.id)).toEqual([roomId]);
    expect((await users.getUser({ userId }, key())).user?.moderatedRoomIds).toEqual([roomId]);

    now = expiresAt;
    await expectCode(user.listRooms({ spaceId }, as(token)), Code.PermissionDenied);
    expect((await users.getUser({ userId }, key())).user?.moderatedRoomIds).toEqual([]);
    // Not a member any more: the API key's kick finds nobody to kick.
    await expectCode(
      createClient(ModerationPrivate, connectTransport(srv.baseUrl)).act(
        { action: ModerationAction.ROOM_KICK, roomId, targetUserId: userId },
        key(),
      ),
      Code.NotFound,
    );
    expect((await srv.h.lapses.runDue()).filter((e) => e.userId === userId)).toHaveLength(1);
  });

  it("granting it again extends it, shortens it, or (without an expiry) makes it last", async () => {
    const { spaceId, roomId, userId, token } = await roomAndUser();
    const priv = spacesPrivateClient(srv);
    const grant = (ttl: bigint) =>
      priv.grantRole({ spaceId, roomId, targetUserId: userId, role: "role_room_user", ttlSeconds: ttl }, key());
    const start = now;
    await grant(600n);
    await grant(1200n); // extended
    now = start + 601_000;
    expect(await srv.h.lapses.runDue()).toEqual([]);
    expect(await granted(roomId, token)).toBeGreaterThan(0);
    await grant(60n); // shortened: now + 60 s
    now += 61_000;
    expect((await srv.h.lapses.runDue()).map((e) => e.type)).toEqual([EventType.ROLE_EXPIRED]);
    expect(await granted(roomId, token)).toBe(0);

    await grant(60n);
    await grant(0n); // no expiry: lasts until revoked
    const [member] = (await priv.listMembers({ spaceId, roomId }, key())).members;
    expect(member!.roomRoleExpiresAt).toBeUndefined();
    now += 10 * MIN;
    expect(await srv.h.lapses.runDue()).toEqual([]);
    expect(await granted(roomId, token)).toBeGreaterThan(0);
    expect(await expiredEvents(srv, userId)).toHaveLength(1);
  });

  it("an end user's GrantRole (the space owner) takes an expiry too", async () => {
    const owner = await createTestUser(srv);
    const u = await createTestUser(srv);
    const api = spacesClient(srv);
    const { id: spaceId } = await api.createSpace({ name: "S", isPublic: false }, as(owner.token));
    const { id: roomId } = await api.createRoom({ spaceId, name: "R", isPublic: false }, as(owner.token));
    await api.grantRole(
      { spaceId, roomId, targetUserId: u.userId, role: "role_room_user", ttlSeconds: 30n },
      as(owner.token),
    );
    expect(await granted(roomId, u.token)).toBeGreaterThan(0);
    now += 31_000;
    expect((await srv.h.lapses.runDue()).filter((e) => e.userId === u.userId)).toHaveLength(1);
    expect(await granted(roomId, u.token)).toBe(0);
  });
});

describe("an invite with an expiry", () => {
  it("ListInvites shows it; the space role it gives expires then; an expired invite cannot be activated", async () => {
    const api = spacesPrivateClient(srv);
    const { id: spaceId } = await api.createSpace({ name: "S", isPublic: false, ownerUserId: "" }, key());
    const { id: roomId } = await api.createRoom({ spaceId, name: "Lobby", isPublic: true }, key());
    const expiresAt = now + 5 * MIN;
    const { id: inviteId } = await api.createInvite(
      { spaceId, role: "role_space_user", expiresAt: timestampFromMs(expiresAt) },
      key(),
    );
    const { id: late } = await api.createInvite({ spaceId, role: "role_space_user", ttlSeconds: 60n }, key());
    const listed = (await api.listInvites({ spaceId }, key())).invites;
    expect(timestampMs(listed.find((i) => i.id === inviteId)!.roleExpiresAt!)).toBe(expiresAt);

    const u = await createTestUser(srv);
    await spacesClient(srv).activateInvite({ spaceId, inviteId }, as(u.token));
    expect(await granted(roomId, u.token)).toBeGreaterThan(0);
    const [member] = (await api.listMembers({ spaceId, roomId }, key())).members;
    expect(member).toMatchObject({ userId: u.userId, spaceRole: "role_space_user", waysIn: [WayIn.SPACE_ROLE] });
    expect(timestampMs(member!.spaceRoleExpiresAt!)).toBe(expiresAt);

    now = expiresAt;
    expect(await granted(roomId, u.token)).toBe(0);
    const sent = (await srv.h.lapses.runDue()).filter((e) => e.userId === u.userId);
    expect(sent).toEqual([
      expect.objectContaining({ type: EventType.ROLE_EXPIRED, spaceId, roomId: "", role: "role_space_user" }),
    ]);
    expect(await expireAudits(srv, u.userId)).toHaveLength(1);

    const v = await createTestUser(srv);
    await expectCode(
      spacesClient(srv).activateInvite({ spaceId, inviteId: late }, as(v.token)),
      Code.FailedPrecondition,
      /expired/,
    );
    const row = await srv.h.rows.get(sql`select used_at as "usedAt" from invites where id = ${late}`);
    expect(row?.usedAt ?? null).toBeNull();
  });
});

describe("seed 003's moderator with an expiry", () => {
  it("REST route: the answer keeps its shape; tenant-wide moderation expires once", async () => {
    const { spaceId, roomId } = await roomAndUser();
    const res = await fetch(`${srv.baseUrl}/consumer/api/v1/user?auth=${srv.apiKey}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "temp-mod", isModerator: true, ttlSeconds: 120 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["accessToken", "isModerator", "userId", "username"]);
    const userId = String(body.userId);
    const token = String(body.accessToken);
    expect(await granted(roomId, token)).toBeGreaterThan(0);
    const member = (await spacesPrivateClient(srv).listMembers({ spaceId, roomId }, key())).members.find(
      (m) => m.userId === userId,
    );
    expect(member!.waysIn).toEqual([WayIn.TENANT_MODERATOR]);
    expect(timestampMs(member!.tenantModeratorExpiresAt!)).toBe(now + 120_000);

    now += 120_000;
    expect(await granted(roomId, token)).toBe(0);
    const sent = (await srv.h.lapses.runDue()).filter((e) => e.userId === userId);
    expect(sent).toEqual([
      expect.objectContaining({ type: EventType.ROLE_EXPIRED, role: "consumer_tenant_moderator", actor: "system" }),
    ]);
    expect(await srv.h.lapses.runDue()).toEqual([]);
    const row = await srv.h.rows.get(sql`select tenant_moderator as "m" from users where id = ${userId}`);
    expect(Boolean(row?.m)).toBe(false);
  });

  it("RPC with chat_room: the room moderation expires at expires_at", async () => {
    const roomId = `room-${randomUUID()}`;
    const consumer = createClient(Consumer, grpcTransport(srv.baseUrl));
    const expiresAt = now + 3 * MIN;
    const r = await consumer.createUser(
      { username: "room-mod", isModerator: true, chatRoom: roomId, expiresAt: timestampFromMs(expiresAt) },
      key(),
    );
    expect(r.isModerator).toBe(true);
    expect(await granted(roomId, r.accessToken)).toBeGreaterThan(0);
    now = expiresAt;
    const sent = (await srv.h.lapses.runDue()).filter((e) => e.userId === r.userId);
    expect(sent).toEqual([
      expect.objectContaining({ type: EventType.ROLE_EXPIRED, role: "consumer_room_moderator", roomId }),
    ]);
    expect(await granted(roomId, r.accessToken)).toBe(0);
  });
});

describe("bad expiries are invalid_argument and write nothing", () => {
  const counts = async () => {
    const n = async (q: ReturnType<typeof sql>) => Number((await srv.h.rows.get(q))?.n ?? 0);
    return {
      members: await n(sql`select count(*) as "n" from room_members`),
      invites: await n(sql`select count(*) as "n" from invites`),
      users: await n(sql`select count(*) as "n" from users`),
      events: await srv.h.journal.lastEventId(),
    };
  };

  it("in the past, too far, both given — on GrantRole (both surfaces), CreateInvite, CreateUser and the REST route", async () => {
    const { spaceId, roomId, userId } = await roomAndUser();
    const owner = await createTestUser(srv);
    const api = spacesClient(srv);
    const { id: ownSpace } = await api.createSpace({ name: "S", isPublic: false }, as(owner.token));
    const { id: ownRoom } = await api.createRoom({ spaceId: ownSpace, name: "R", isPublic: false }, as(owner.token));
    const bad = [
      { expiresAt: timestampFromMs(now - 1) },
      { expiresAt: timestampFromMs(now) },
      { expiresAt: timestampFromMs(now + 11 * 366 * 86_400_000) },
      { ttlSeconds: 11n * 366n * 86_400n },
      { expiresAt: timestampFromMs(now + MIN), ttlSeconds: 60n },
    ];
    const before = await counts();
    const priv = spacesPrivateClient(srv);
    const consumer = createClient(Consumer, connectTransport(srv.baseUrl));
    for (const e of bad) {
      const grant = { spaceId, roomId, targetUserId: userId, role: "role_room_user", ...e };
      await expectCode(priv.grantRole(grant, key()), Code.InvalidArgument);
      const own = { spaceId: ownSpace, roomId: ownRoom, targetUserId: userId, role: "role_room_user", ...e };
      await expectCode(api.grantRole(own, as(owner.token)), Code.InvalidArgument);
      await expectCode(priv.createInvite({ spaceId, role: "role_space_user", ...e }, key()), Code.InvalidArgument);
      await expectCode(
        api.createInvite({ spaceId: ownSpace, role: "role_space_user", ...e }, as(owner.token)),
        Code.InvalidArgument,
      );
      await expectCode(consumer.createUser({ username: "x", isModerator: true, ...e }, key()), Code.InvalidArgument);
    }
    await expectCode(consumer.createUser({ username: "x", ttlSeconds: 60n }, key()), Code.InvalidArgument);
    const restBodies = [
      { ttlSeconds: 60, expiresAt: new Date(now + MIN).toISOString() },
      { expiresAt: new Date(now - 1).toISOString() },
      { expiresAt: "tomorrow" },
      { ttlSeconds: -5 },
      { ttlSeconds: 1.5 },
    ];
    for (const extra of restBodies) {
      const res = await fetch(`${srv.baseUrl}/consumer/api/v1/user?auth=${srv.apiKey}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "x", isModerator: true, ...extra }),
      });
      expect(res.status, JSON.stringify(extra)).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe("invalid_argument");
    }
    expect(await counts()).toEqual(before);
  });
});

describe("a role that expired while the server was down", () => {
  it("is announced once at start; another restart sends nothing", async () => {
    let t = Date.now();
    const tClock = () => t;
    const keys: TokenKey[] = [{ ...generateTokenKey(t), state: "active" }];
    const first = await startTestServer({ clock: tClock, tokenKeys: keys });
    try {
      const { spaceId, roomId, userId } = await roomAndUser(first);
      await spacesPrivateClient(first).grantRole(
        { spaceId, roomId, targetUserId: userId, role: "role_room_moderator", ttlSeconds: 60n },
        bearer(first.apiKey),
      );
      const lastBefore = await first.h.journal.lastEventId();
      await first.server.close();
      t += 10 * MIN;
      const restart = async () => {
        const { app, h } = await startHarnessedApp(first.app.config, pino({ level: "silent" }), {
          clock: tClock,
          tokenKeys: keys,
        });
        return { h, server: await serve(app) };
      };
      const second = await restart();
      try {
        const stored = await second.h.journal.eventsAfter(first.tenantId, undefined, lastBefore, 100);
        expect(stored).toEqual([
          expect.objectContaining({
            type: EventType.ROLE_EXPIRED,
            userId,
            roomId,
            actor: "system",
            role: "role_room_moderator",
            at: t - 10 * MIN + 60_000,
          }),
        ]);
        expect(await second.h.lapses.runDue()).toEqual([]);
      } finally {
        await second.server.close();
      }
      const third = await restart();
      try {
        expect(await third.h.journal.eventsAfter(first.tenantId, undefined, lastBefore, 100)).toHaveLength(1);
      } finally {
        await third.server.close();
      }
    } finally {
      await first.close();
    }
  });
});
