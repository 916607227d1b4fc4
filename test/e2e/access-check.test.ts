import { Code, createClient, type Client } from "@connectrpc/connect";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as AccessPrivate } from "../../gen/room/access/private/v1/service_pb.js";
import { Action, Service as ModerationPrivate } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as SpacesPrivate } from "../../gen/room/spaces/private/v1/service_pb.js";
import { createApp } from "../../src/app/create-app.js";
import { serve } from "../../src/app/serve.js";
import { generateTokenKey, type TokenKey } from "../../src/domain/tokens/keyring.js";
import { bearer, connectTransport, expectCode, grpcTransport, tokensClient } from "../support/clients.js";
import {
  insertRoom,
  insertUser,
  memberToken,
  userToken,
  userWithRoomRole,
  userWithSpaceRole,
} from "../support/permissions-fixtures.js";
import { startTestServer, type TestServer } from "../support/server.js";

/**
 * room.access.private.v1 against a real server: every way in with its
 * source, what restrictions and kicks take away, the consistency token,
 * tenant isolation, paging, and every bad input refused with its code.
 */

let now = Date.now();
const clock = () => now;
let srv: TestServer;
let access: Client<typeof AccessPrivate>;
let grpcAccess: Client<typeof AccessPrivate>;
let key: ReturnType<typeof bearer>;

beforeAll(async () => {
  srv = await startTestServer({ clock });
  access = createClient(AccessPrivate, connectTransport(srv.baseUrl));
  grpcAccess = createClient(AccessPrivate, grpcTransport(srv.baseUrl));
  key = bearer(srv.apiKey);
});
afterAll(() => srv?.close());

const kinds = (ways: readonly { kind: string }[]) => ways.map((w) => w.kind).sort();

async function act(action: Action, roomId: string, targetUserId: string, durationSeconds = 0): Promise<bigint> {
  const mod = createClient(ModerationPrivate, connectTransport(srv.baseUrl));
  return (await mod.act({ action, roomId, targetUserId, durationSeconds, reason: "test" }, key)).eventId;
}

describe("ways in, each with its source", () => {
  it("a room role answers allowed with kind room_role; a permission it lacks is no_way_in", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
    const r = await access.check(
      { userId, roomId, permissions: [P.PermissionCanSendMessagesInDiscussion, P.PermissionRoomKick], full: true },
      key,
    );
    expect(r.answers.map((a) => [a.permission, a.allowed, a.deniedReason])).toEqual([
      [P.PermissionCanSendMessagesInDiscussion, true, ""],
      [P.PermissionRoomKick, false, "no_way_in"],
    ]);
    // Without `full`, the answers alone.
    const small = await access.check({ userId, roomId, permissions: [P.PermissionRoomKick] }, key);
    expect([small.answers.length, small.permissions, small.waysIn]).toEqual([1, [], []]);
    // granted_by names the way; its permissions are listed once, in ways_in.
    expect(r.answers[0]!.grantedBy[0]!.permissions).toEqual([]);
    expect(r.waysIn[0]!.permissions).toContain(P.PermissionCanSendMessagesInDiscussion);
    expect(kinds(r.answers[0]!.grantedBy)).toEqual(["room_role"]);
    expect(r.answers[0]!.grantedBy[0]!.role).toBe("role_room_user");
    expect(kinds(r.waysIn)).toEqual(["room_role"]);
    expect(r.permissions).toContain(P.PermissionCanSendMessagesInDiscussion);
    expect(r.eventId).toBeGreaterThan(0n);
  });

  it("a space role reaches the space's public rooms only", async () => {
    const pub = await userWithSpaceRole(srv, "role_space_user");
    const r = await access.check({ userId: pub.userId, roomId: pub.roomId, permissions: [P.PermissionMessaging] }, key);
    expect(r.answers[0]!.allowed).toBe(true);
    expect(r.answers[0]!.grantedBy.map((w) => [w.kind, w.spaceId])).toEqual([["space_role", pub.spaceId]]);
    const priv = await userWithSpaceRole(srv, "role_space_user", { roomIsPublic: false });
    const q = await access.check(
      { userId: priv.userId, roomId: priv.roomId, permissions: [P.PermissionMessaging], full: true },
      key,
    );
    expect([q.answers[0]!.allowed, q.answers[0]!.deniedReason, q.waysIn]).toEqual([false, "no_way_in", []]);
  });

  it("a tenant-wide moderator has every room of the tenant, kind tenant_moderator", async () => {
    const userId = await insertUser(srv, srv.tenantId, { tenantModerator: true });
    const roomId = await insertRoom(srv);
    const r = await access.check({ userId, roomId, permissions: [P.PermissionRoomKick] }, key);
    expect([r.answers[0]!.allowed, kinds(r.answers[0]!.grantedBy)]).toEqual([true, ["tenant_moderator"]]);
  });

  it("a live room member token counts with its own permissions, kind token with its id, as soon as Create answers", async () => {
    const userId = `ext-${now}-tok`;
    const roomId = await insertRoom(srv);
    const tokens = tokensClient(connectTransport(srv.baseUrl));
    let eventId = "";
    const created = await tokens.create(
      { arguments: [{ userId, roomId, permissions: [P.PermissionChatMute] }] },
      { ...key, onHeader: (h) => void (eventId = h.get("roomgate-event-id") ?? "") },
    );
    expect(eventId).toMatch(/^\d+$/);
    const v = await tokens.verify({ token: created.tokens[0]! }, key);
    const r = await grpcAccess.check(
      { userId, roomId, permissions: [P.PermissionChatMute, P.PermissionChatKick], minEventId: BigInt(eventId) },
      key,
    );
    expect(r.answers.map((a) => a.allowed)).toEqual([true, false]);
    expect(r.answers[0]!.grantedBy.map((w) => [w.kind, w.tokenId])).toEqual([["token", v.tokenId]]);
    expect(r.eventId).toBeGreaterThanOrEqual(BigInt(eventId));
  });

  it("an access link's guest gets in with kind access_link", async () => {
    const { userId: creator, roomId } = await userWithRoomRole(srv, "role_room_moderator");
    void creator;
    const spaces = createClient(SpacesPrivate, connectTransport(srv.baseUrl));
    const link = await spaces.generateAccess(
      { spaceId: "", roomId, username: "guest", role: "user", externalUserId: "g-1", ttl: 3600, isPermanent: false },
      key,
    );
    const { Service: Redeem } = await import("../../gen/room/access/v1/service_pb.js");
    const redeemed = await createClient(Redeem, connectTransport(srv.baseUrl)).redeem({
      accessToken: link.accessToken,
    });
    const r = await access.check({ userId: redeemed.userId, roomId, permissions: [P.PermissionMessaging] }, key);
    expect([r.answers[0]!.allowed, kinds(r.answers[0]!.grantedBy)]).toEqual([true, ["access_link"]]);
  });
});

describe("ways out", () => {
  it("mute takes sending away (reason mute, until); a room block refuses everything; lifts restore", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
    const ask = [P.PermissionCanSendMessagesInDiscussion, P.PermissionCanShareScreen];
    await act(Action.CHAT_MUTE, roomId, userId, 60);
    let r = await access.check({ userId, roomId, permissions: ask }, key);
    expect(r.answers.map((a) => [a.allowed, a.deniedReason])).toEqual([
      [false, "mute"],
      [true, ""],
    ]);
    expect(Number(r.answers[0]!.deniedUntil!.seconds)).toBe(Math.floor((now + 60_000) / 1000));
    expect(r.restrictions.map((x) => x.kind)).toEqual(["mute"]);
    await act(Action.ROOM_BLOCK, roomId, userId);
    r = await access.check({ userId, roomId, permissions: ask, full: true }, key);
    expect(r.answers.map((a) => [a.allowed, a.deniedReason])).toEqual([
      [false, "room_blocked"],
      [false, "room_blocked"],
    ]);
    expect(r.permissions).toEqual([]);
    await act(Action.ROOM_UNBLOCK, roomId, userId);
    await act(Action.CHAT_UNMUTE, roomId, userId);
    r = await access.check({ userId, roomId, permissions: ask }, key);
    expect(r.answers.map((a) => a.allowed)).toEqual([true, true]);
  });

  it("a kick takes the tokens issued before it (reason removed) and leaves the roles; a new token counts", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
    await memberToken(srv, userId, roomId, [P.PermissionChatKick]);
    now += 1;
    await act(Action.ROOM_KICK, roomId, userId);
    now += 1;
    let r = await access.check(
      { userId, roomId, permissions: [P.PermissionChatKick, P.PermissionMessaging], full: true },
      key,
    );
    expect(r.answers.map((a) => [a.allowed, a.deniedReason])).toEqual([
      [false, "removed"],
      [true, ""],
    ]);
    expect(kinds(r.waysIn)).toEqual(["room_role"]);
    await memberToken(srv, userId, roomId, [P.PermissionChatKick]);
    r = await access.check({ userId, roomId, permissions: [P.PermissionChatKick] }, key);
    expect(r.answers[0]!.allowed).toBe(true);
  });

  it("RevokeRole and DeleteUser take the role away at once", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
    const spaces = createClient(SpacesPrivate, connectTransport(srv.baseUrl));
    const { eventId } = await spaces.revokeRole({ spaceId: "", roomId, targetUserId: userId, reason: "" }, key);
    const r = await access.check(
      { userId, roomId, permissions: [P.PermissionMessaging], minEventId: eventId, full: true },
      key,
    );
    expect([r.answers[0]!.allowed, r.waysIn]).toEqual([false, []]);
    const other = await userWithRoomRole(srv, "role_room_moderator");
    const { Service: UsersPrivate } = await import("../../gen/room/users/private/v1/service_pb.js");
    await createClient(UsersPrivate, connectTransport(srv.baseUrl)).deleteUser({ userId: other.userId }, key);
    const q = await access.check(
      { userId: other.userId, roomId: other.roomId, permissions: [P.PermissionRoomKick], full: true },
      key,
    );
    expect([q.answers[0]!.allowed, q.waysIn]).toEqual([false, []]);
  });

  it("an expired token and a lapsed role stop counting, without any write", async () => {
    const userId = `ext-${now}-ttl`;
    const roomId = await insertRoom(srv);
    const tokens = tokensClient(connectTransport(srv.baseUrl));
    await tokens.create({ arguments: [{ userId, roomId, permissions: [P.PermissionChatMute], ttlSeconds: 60 }] }, key);
    expect((await access.check({ userId, roomId, permissions: [P.PermissionChatMute] }, key)).answers[0]!.allowed).toBe(
      true,
    );
    now += 60_000;
    const r = await access.check({ userId, roomId, permissions: [P.PermissionChatMute] }, key);
    expect([r.answers[0]!.allowed, r.answers[0]!.deniedReason]).toEqual([false, "no_way_in"]);
    // A room role granted for a minute: counted until its expiry, not after, swept or not.
    const member = await insertUser(srv);
    await srv.h.memberships.setRoomRole(srv.tenantId, roomId, member, "role_room_user", "test", now, now + 60_000);
    const ask = { userId: member, roomId, permissions: [P.PermissionMessaging], full: true };
    const until = (await access.check(ask, key)).waysIn[0]!.expiresAt!;
    expect(Number(until.seconds) * 1000 + until.nanos / 1e6).toBe(now + 60_000);
    now += 59_999;
    expect((await access.check(ask, key)).answers[0]!.allowed).toBe(true);
    now += 1;
    expect((await access.check(ask, key)).answers[0]!.allowed).toBe(false);
  });
});

describe("lookups, paging and CheckBulk", () => {
  it("LookupMembers and LookupRooms page by id, each row with Check's answer, and agree with Check", async () => {
    const roomId = await insertRoom(srv);
    const users = await Promise.all([0, 1, 2, 3, 4].map(() => insertUser(srv)));
    for (const u of users.slice(0, 4)) {
      await srv.h.memberships.setRoomRole(srv.tenantId, roomId, u, "role_room_user", "test", now);
    }
    await act(Action.CHAT_MUTE, roomId, users[3]!);
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await access.lookupMembers(
        { roomId, permission: P.PermissionCanSendMessagesInDiscussion, pageSize: 2, pageToken },
        key,
      );
      expect(page.members.length).toBeLessThanOrEqual(2);
      // Earlier tests' tenant-wide moderators are members of every room too.
      const ours = page.members.filter((m) => users.includes(m.userId));
      for (const m of ours) expect([m.answer!.allowed, kinds(m.answer!.grantedBy)]).toEqual([true, ["room_role"]]);
      seen.push(...ours.map((m) => m.userId));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(seen).toEqual(users.slice(0, 3).sort());
    const rooms = await access.lookupRooms({ userId: users[0]!, permission: P.PermissionMessaging }, key);
    expect(rooms.rooms.map((r) => r.roomId)).toContain(roomId);
    const bulk = await access.checkBulk(
      {
        items: users.map((userId) => ({ userId, roomId, permission: P.PermissionCanSendMessagesInDiscussion })),
      },
      key,
    );
    expect(bulk.answers.map((a) => [a.allowed, a.deniedReason])).toEqual([
      [true, ""],
      [true, ""],
      [true, ""],
      [false, "mute"],
      [false, "no_way_in"],
    ]);
  });

  it("a page token is bound to its tenant, call and filters", async () => {
    const roomId = await insertRoom(srv);
    for (const u of await Promise.all([0, 1, 2].map(() => insertUser(srv)))) {
      await srv.h.memberships.setRoomRole(srv.tenantId, roomId, u, "role_room_user", "test", now);
    }
    const first = await access.lookupMembers({ roomId, permission: P.PermissionMessaging, pageSize: 1 }, key);
    expect(first.nextPageToken).not.toBe("");
    const pageToken = first.nextPageToken;
    // A fresher consistency token is not another list.
    const second = await access.lookupMembers(
      { roomId, permission: P.PermissionMessaging, pageSize: 1, pageToken, minEventId: first.eventId },
      key,
    );
    expect(second.members).toHaveLength(1);
    expect(second.members[0]!.userId > first.members[0]!.userId).toBe(true);
    await expectCode(
      access.lookupMembers({ roomId, permission: P.PermissionFiles, pageSize: 1, pageToken }, key),
      Code.InvalidArgument,
    );
    await expectCode(
      access.lookupMembers({ roomId, permission: P.PermissionMessaging, pageToken }, bearer(srv.otherKey)),
      Code.InvalidArgument,
    );
    await expectCode(
      access.lookupRooms({ userId: "x", permission: P.PermissionMessaging, pageToken }, key),
      Code.InvalidArgument,
    );
  });

  it("CheckBulk answers an unknown room as room_not_found, item by item", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
    const r = await access.checkBulk(
      {
        items: [
          { userId, roomId, permission: P.PermissionMessaging },
          { userId, roomId: "no-such-room", permission: P.PermissionMessaging },
        ],
      },
      key,
    );
    expect(r.answers.map((a) => [a.allowed, a.deniedReason])).toEqual([
      [true, ""],
      [false, "room_not_found"],
    ]);
  });
});

describe("tenants, credentials and bad input", () => {
  it("another tenant's room is not_found, and its users have no ways into ours", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
    const otherKey = bearer(srv.otherKey);
    await expectCode(access.check({ userId, roomId, permissions: [] }, otherKey), Code.NotFound);
    await expectCode(access.lookupMembers({ roomId, permission: P.PermissionMessaging }, otherKey), Code.NotFound);
    const rooms = await access.lookupRooms({ userId, permission: P.PermissionMessaging }, otherKey);
    expect(rooms.rooms).toEqual([]);
  });

  it("no key, a wrong key, or a user access token → unauthenticated", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
    await expectCode(access.check({ userId, roomId }, bearer(userToken(srv, userId))), Code.Unauthenticated);
    await expectCode(access.check({ userId, roomId }), Code.Unauthenticated);
    await expectCode(access.check({ userId, roomId }, bearer("nope-0123456789")), Code.Unauthenticated);
    await expectCode(access.checkBulk({ items: [] }, bearer("nope-0123456789")), Code.Unauthenticated);
  });

  it.each([
    ["empty user_id", { userId: "", roomId: "r", permissions: [] }, /user_id/],
    ["empty room_id", { userId: "u", roomId: "", permissions: [] }, /room_id/],
    ["unknown permission", { userId: "u", roomId: "r", permissions: [P.PermissionChat, 99_999] }, /permissions\[1\]/],
    ["unspecified permission", { userId: "u", roomId: "r", permissions: [0] }, /permissions\[0\]/],
    ["257 permissions", { userId: "u", roomId: "r", permissions: Array(257).fill(P.PermissionChat) }, /limit of 256/],
    ["oversized user_id", { userId: "u".repeat(257), roomId: "r", permissions: [] }, /user_id/],
  ])("Check: %s → invalid_argument", async (_name, req, message) => {
    await expectCode(grpcAccess.check(req, key), Code.InvalidArgument, message);
  });

  it("CheckBulk: none, 101 items, or one bad item → invalid_argument naming it", async () => {
    const item = { userId: "u", roomId: "r", permission: P.PermissionChat };
    await expectCode(access.checkBulk({ items: [] }, key), Code.InvalidArgument, /at least one/);
    await expectCode(access.checkBulk({ items: Array(101).fill(item) }, key), Code.InvalidArgument, /limit of 100/);
    await expectCode(
      access.checkBulk({ items: [item, { ...item, userId: "" }] }, key),
      Code.InvalidArgument,
      /items\[1\]\.user_id/,
    );
  });

  it("lookups: page_size over 500, an empty id, no permission → invalid_argument", async () => {
    await expectCode(
      access.lookupRooms({ userId: "u", permission: P.PermissionChat, pageSize: 501 }, key),
      Code.InvalidArgument,
      /page_size/,
    );
    await expectCode(access.lookupRooms({ userId: "", permission: P.PermissionChat }, key), Code.InvalidArgument);
    await expectCode(access.lookupMembers({ roomId: "r", permission: 0 }, key), Code.InvalidArgument, /permission/);
  });

  it("Connect JSON: a misspelled permission name and an unknown field → invalid_argument", async () => {
    const post = (body: unknown) =>
      fetch(`${srv.baseUrl}/room.access.private.v1.Service/Check`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${srv.apiKey}` },
        body: JSON.stringify(body),
      });
    for (const body of [
      { userId: "u", roomId: "r", permissions: ["PermissionChatt"] },
      { userId: "u", roomId: "r", permissions: [], extra: 1 },
    ]) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe("invalid_argument");
    }
  });
});

describe("memory after a restart", () => {
  it("a second app on the same store loads rooms, roles and live tokens: every Check answers as before", async () => {
    let t = Date.now();
    const tClock = () => t;
    const keys: TokenKey[] = [{ ...generateTokenKey(t), state: "active" }];
    const first = await startTestServer({ clock: tClock, tokenKeys: keys });
    try {
      const k = bearer(first.apiKey);
      const room = await userWithRoomRole(first, "role_room_moderator");
      const space = await userWithSpaceRole(first, "role_space_user");
      const moderator = await insertUser(first, first.tenantId, { tenantModerator: true });
      const gone = await userWithRoomRole(first, "role_room_user");
      await first.h.memberships.removeRoomRole(first.tenantId, gone.roomId, gone.userId);
      const expiring = await insertUser(first);
      await first.h.memberships.setRoomRole(first.tenantId, room.roomId, expiring, "role_room_user", "t", t, t + 5_000);
      const tok = tokensClient(connectTransport(first.baseUrl));
      await tok.create({ arguments: [{ userId: "ext", roomId: room.roomId, permissions: [P.PermissionChatMute] }] }, k);
      const revoked = await tok.create(
        { arguments: [{ userId: "ext", roomId: space.roomId, permissions: [P.PermissionRoomKick] }] },
        k,
      );
      t += 1;
      await tok.revoke({ tokenId: (await tok.verify({ token: revoked.tokens[0]! }, k)).tokenId }, k);
      const users = [room.userId, space.userId, moderator, gone.userId, expiring, "ext"];
      const rooms = [room.roomId, space.roomId, gone.roomId];
      const answers = async (baseUrl: string) => {
        const c = createClient(AccessPrivate, connectTransport(baseUrl));
        const out: unknown[] = [];
        for (const userId of users) {
          for (const roomId of rooms) {
            const r = await c.check(
              { userId, roomId, permissions: [P.PermissionRoomKick, P.PermissionChatMute], full: true },
              k,
            );
            out.push({ userId, roomId, answers: r.answers, permissions: r.permissions, waysIn: r.waysIn });
          }
        }
        return out;
      };
      const before = await answers(first.baseUrl);
      expect(JSON.stringify(before, (_k, v) => (typeof v === "bigint" ? String(v) : v))).toContain('"kind":"token"');
      await first.server.close();
      const app = await createApp(first.app.config, pino({ level: "silent" }), { clock: tClock, tokenKeys: keys });
      const second = await serve(app);
      try {
        expect(await answers(`http://127.0.0.1:${second.port}`)).toEqual(before);
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });
});
