import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Action as PrivateAction } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Action } from "../../gen/room/moderation/v1/service_pb.js";
import { RoomAccessDeniedSchema } from "../../gen/room/errors/v1/errors_pb.js";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as Permissions } from "../../gen/room/permissions/v1/service_pb.js";
import { Service as Spaces } from "../../gen/room/spaces/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { auditLog, roomMembers } from "../../src/store/schema.js";
import { bearer, connectTransport, expectCode, grpcTransport, tokensClient } from "../support/clients.js";
import { credential, getRoomPermissionsRest, memberToken, permissionsClient } from "../support/permissions-fixtures.js";
import { expectRoomAccessDenied } from "../support/room-access.js";
import { moderationClients, moderationPrivateClient, scene } from "../support/scenes.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { accessClient, as, rowCount, spacesClient, spacesPrivateClient } from "../support/spaces-clients.js";
import { createTestUser } from "../support/users.js";

// Issue 7, points 1, 3–6, 8 and 15: ways into a room, ways out, hierarchy,
// one meaning of "room moderator", required space ids, audit of creation.

let offset = 0;
const clock = () => Date.now() + offset;
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ clock });
});
afterAll(async () => {
  await srv?.close();
});

const api = () => spacesClient(srv);
/** Moves the server's clock on, so a credential issued next is strictly newer than what came before. */
const tick = () => {
  offset += 5;
};
const grantedIn = async (token: string, roomId: string) =>
  (await permissionsClient(srv).getRoomPermissions({ roomId }, as(token))).roomPermissions!.granted;

describe("1. a private room in a public space is not open to the space's members", () => {
  it("a stranger who joins the public space: the private room gives nothing (RPC and seed 002 REST), JoinRoom refused; the public room works", async () => {
    const s = await scene(srv);
    const stranger = await createTestUser(srv);
    await expectCode(
      api().joinRoom({ spaceId: s.spaceId, roomId: s.privateRoom }, as(stranger.token)),
      Code.PermissionDenied,
    );
    await api().joinSpace({ spaceId: s.spaceId }, as(stranger.token));
    expect(await grantedIn(stranger.token, s.privateRoom)).toEqual([]);
    const rest = await getRoomPermissionsRest(srv, s.privateRoom, credential.bearer(stranger.token));
    expect(rest.status).toBe(200);
    const flags = (rest.body as { roomPermissions: { permissions: Record<string, boolean> } }).roomPermissions
      .permissions;
    expect(Object.values(flags).filter(Boolean)).toEqual([]);
    await expectCode(
      api().joinRoom({ spaceId: s.spaceId, roomId: s.privateRoom }, as(stranger.token)),
      Code.PermissionDenied,
    );
    expect(await grantedIn(stranger.token, s.publicRoom)).toContain(P.PermissionCanSendMessagesInMainThread);
  });

  it("space moderator and owner reach the public room by their space role, the private one only by a room role", async () => {
    const s = await scene(srv);
    expect(await grantedIn(s.spaceMod.token, s.publicRoom)).toContain(P.PermissionChatMute);
    expect(await grantedIn(s.spaceMod.token, s.privateRoom)).toEqual([]);
    // The owner created the private room and holds role_room_moderator there.
    expect(await grantedIn(s.owner.token, s.privateRoom)).toContain(P.PermissionChatMute);
    await api().grantRole(
      { spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: s.spaceUser.userId, role: "role_room_user" },
      as(s.owner.token),
    );
    expect(await grantedIn(s.spaceUser.token, s.privateRoom)).toContain(P.PermissionCanSendMessagesInMainThread);
  });

  it("a space member without a room role is no member of a private room: moderating them there is not_found", async () => {
    const s = await scene(srv);
    const before = await rowCount(srv, auditLog);
    await expectCode(
      moderationPrivateClient(srv).act(
        { action: PrivateAction.CHAT_MUTE, roomId: s.privateRoom, targetUserId: s.spaceUser.userId },
        bearer(srv.apiKey),
      ),
      Code.NotFound,
      /is not a member of room/,
    );
    expect(await rowCount(srv, auditLog)).toBe(before);
    // In the public room of the same space they are a member.
    await moderationPrivateClient(srv).act(
      { action: PrivateAction.CHAT_MUTE, roomId: s.publicRoom, targetUserId: s.spaceUser.userId },
      bearer(srv.apiKey),
    );
  });

  it("seed 003's tenant-wide moderator reaches every room, private ones included", async () => {
    const s = await scene(srv);
    const tm = await createTestUser(srv, { tenantModerator: true });
    expect(await grantedIn(tm.token, s.privateRoom)).toContain(P.PermissionRoomBlock);
  });
});

describe("3. kick takes the room from every credential issued before it, logged-in users included", () => {
  for (const via of ["room_kick", "chat_kick"] as const) {
    it(`${via}: user access token and session cookie lose that room only; a fresh login is back in`, async () => {
      const s = await scene(srv);
      const users = spacesPrivateUsers();
      const username = `kicked-${via}-${Date.now()}`;
      const { id: userId } = await users.createUser(
        { email: `${username}@example.test`, username, password: "correct-horse" },
        bearer(srv.apiKey),
      );
      await api().grantRole(
        { spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: userId, role: "role_room_user" },
        as(s.owner.token),
      );
      await api().grantRole(
        { spaceId: s.spaceId, roomId: s.publicRoom, targetUserId: userId, role: "role_room_user" },
        as(s.owner.token),
      );
      const before = await login(username);
      const memberTok = await memberToken(srv, userId, s.privateRoom, [P.PermissionMessaging]);
      expect(await grantedIn(before.token, s.privateRoom)).toContain(P.PermissionCanSendMessagesInMainThread);
      tick();
      const action = via === "room_kick" ? PrivateAction.ROOM_KICK : PrivateAction.CHAT_KICK;
      await moderationPrivateClient(srv).act(
        { action, roomId: s.privateRoom, targetUserId: userId },
        bearer(srv.apiKey),
      );
      tick();
      // Bearer token (Connect and gRPC), the cookie on the seed 002 route, and the room member token.
      await expectRoomAccessDenied(
        permissionsClient(srv).getRoomPermissions({ roomId: s.privateRoom }, as(before.token)),
        "removed",
        s.privateRoom,
      );
      const grpcPerms = permissionsViaGrpc();
      await expectRoomAccessDenied(
        grpcPerms.getRoomPermissions({ roomId: s.privateRoom }, as(before.token)),
        "removed",
        s.privateRoom,
      );
      const cookieRes = await getRoomPermissionsRest(srv, s.privateRoom, { cookie: before.cookie });
      expect(cookieRes.status).toBe(403);
      await expectCode(
        tokensClient(grpcTransport(srv.baseUrl)).verify({ token: memberTok }, bearer(srv.apiKey)),
        Code.Unauthenticated,
        "token revoked",
      );
      // Other rooms keep working with the same credential.
      expect(await grantedIn(before.token, s.publicRoom)).toContain(P.PermissionCanSendMessagesInMainThread);
      // A fresh login lets them back: kick is a one-time removal, the role stays.
      const after = await login(username);
      expect(await grantedIn(after.token, s.privateRoom)).toContain(P.PermissionCanSendMessagesInMainThread);
      expect((await getRoomPermissionsRest(srv, s.privateRoom, { cookie: after.cookie })).status).toBe(200);
    });
  }

  it("the kicked credential cannot act in the room either (GrantRole, GenerateAccess, moderation)", async () => {
    const s = await scene(srv);
    const mod = await createTestUser(srv);
    await api().grantRole(
      { spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: mod.userId, role: "role_room_moderator" },
      as(s.owner.token),
    );
    tick();
    await moderationPrivateClient(srv).act(
      { action: PrivateAction.ROOM_KICK, roomId: s.privateRoom, targetUserId: mod.userId },
      bearer(srv.apiKey),
    );
    tick();
    const target = await createTestUser(srv);
    await expectRoomAccessDenied(
      api().grantRole(
        { spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: target.userId, role: "role_room_user" },
        as(mod.token),
      ),
      "removed",
      s.privateRoom,
    );
    await expectRoomAccessDenied(
      api().generateAccess(
        { spaceId: s.spaceId, roomId: s.privateRoom, username: "Guest", role: "user" },
        as(mod.token),
      ),
      "removed",
      s.privateRoom,
    );
    await expectRoomAccessDenied(
      moderationClients(srv).connect.act(
        { action: Action.CHAT_MUTE, roomId: s.privateRoom, targetUserId: s.spaceUser.userId },
        as(mod.token),
      ),
      "removed",
      s.privateRoom,
    );
  });
});

describe("4. a room block denies access: Verify and every end-user call refuse with a detail", () => {
  it("Verify over Connect JSON, Connect binary and gRPC: permission_denied with RoomAccessDenied(ROOM_BLOCKED, until)", async () => {
    const s = await scene(srv);
    const tok = await memberToken(srv, s.spaceUser.userId, s.publicRoom, [P.PermissionMessaging]);
    const start = clock();
    await moderationPrivateClient(srv).act(
      {
        action: PrivateAction.ROOM_BLOCK,
        roomId: s.publicRoom,
        targetUserId: s.spaceUser.userId,
        durationSeconds: 600,
      },
      bearer(srv.apiKey),
    );
    const transports = [
      connectTransport(srv.baseUrl),
      createConnectTransport({ baseUrl: srv.baseUrl, httpVersion: "2", useBinaryFormat: true }),
      grpcTransport(srv.baseUrl),
    ];
    for (const t of transports) {
      const err = await expectRoomAccessDenied(
        tokensClient(t).verify({ token: tok }, bearer(srv.apiKey)),
        "room_blocked",
        s.publicRoom,
      );
      const until = err.findDetails(RoomAccessDeniedSchema)[0]!.until!;
      // Whole seconds of the block's end, within the call's own clock skew.
      expect(Number(until.seconds) * 1000).toBeGreaterThanOrEqual(start + 600_000 - 1000);
    }
    // End-user calls in that room: permissions, moderation, JoinRoom.
    await expectRoomAccessDenied(
      permissionsClient(srv).getRoomPermissions({ roomId: s.publicRoom }, as(s.spaceUser.token)),
      "room_blocked",
      s.publicRoom,
    );
    await expectRoomAccessDenied(
      api().joinRoom({ spaceId: s.spaceId, roomId: s.publicRoom }, as(s.spaceUser.token)),
      "room_blocked",
      s.publicRoom,
    );
    expect((await getRoomPermissionsRest(srv, s.publicRoom, credential.bearer(s.spaceUser.token))).status).toBe(403);
    // Another room is unaffected.
    expect(await grantedIn(s.spaceUser.token, await publicRoomOf(s.spaceId, s.owner.token))).toContain(
      P.PermissionCanSendNudge,
    );
  });
});

describe("5. hierarchy: nobody moderates or grants at or above their own rank", () => {
  it("a room moderator cannot block the owner; a space moderator cannot mute the owner; equal ranks cannot act on each other", async () => {
    const s = await scene(srv);
    const roomMod = await createTestUser(srv);
    const roomMod2 = await createTestUser(srv);
    for (const u of [roomMod, roomMod2]) {
      await api().grantRole(
        { spaceId: s.spaceId, roomId: s.publicRoom, targetUserId: u.userId, role: "role_room_moderator" },
        as(s.owner.token),
      );
    }
    const { connect, grpc } = moderationClients(srv);
    const refused = async (p: Promise<unknown>) => expectCode(p, Code.PermissionDenied, /higher rank/);
    // A room member token with a moderation permission stands as a room moderator.
    const modTok = await memberToken(srv, `tok-${Date.now()}`, s.publicRoom, [P.PermissionRoomBlock]);
    const writes = () => rowCount(srv, auditLog);
    const w = await writes();
    await refused(
      connect.act({ action: Action.ROOM_BLOCK, roomId: s.publicRoom, targetUserId: s.owner.userId }, as(roomMod.token)),
    );
    await refused(
      grpc.act({ action: Action.CHAT_MUTE, roomId: s.publicRoom, targetUserId: s.owner.userId }, as(s.spaceMod.token)),
    );
    await refused(
      grpc.act({ action: Action.CHAT_MUTE, roomId: s.publicRoom, targetUserId: roomMod2.userId }, as(roomMod.token)),
    );
    await refused(
      connect.act({ action: Action.ROOM_KICK, roomId: s.publicRoom, targetUserId: roomMod.userId }, as(roomMod.token)),
    );
    const tm = await createTestUser(srv, { tenantModerator: true });
    await refused(
      connect.act({ action: Action.CHAT_MUTE, roomId: s.publicRoom, targetUserId: s.spaceMod.userId }, as(tm.token)),
    );
    await refused(
      connect.act({ action: Action.ROOM_BLOCK, roomId: s.publicRoom, targetUserId: roomMod.userId }, as(modTok)),
    );
    expect(await writes()).toBe(w);
    // Higher ranks may act on lower ones; the API key on anyone.
    await grpc.act(
      { action: Action.CHAT_MUTE, roomId: s.publicRoom, targetUserId: roomMod2.userId },
      as(s.spaceMod.token),
    );
    await connect.act(
      { action: Action.CHAT_MUTE, roomId: s.publicRoom, targetUserId: s.spaceUser.userId },
      as(roomMod.token),
    );
    await connect.act(
      { action: Action.ROOM_BLOCK, roomId: s.publicRoom, targetUserId: s.spaceUser.userId },
      as(modTok),
    );
    await moderationPrivateClient(srv).act(
      { action: PrivateAction.CHAT_MUTE, roomId: s.publicRoom, targetUserId: s.owner.userId },
      bearer(srv.apiKey),
    );
  });

  it("GrantRole: nobody grants a role at or above their own, nor changes the role of an equal or higher member", async () => {
    const s = await scene(srv);
    const roomMod = await createTestUser(srv);
    const member = await createTestUser(srv);
    const other = await createTestUser(srv);
    const grant = (by: string, target: string, role: string) =>
      api().grantRole({ spaceId: s.spaceId, roomId: s.publicRoom, targetUserId: target, role }, as(by));
    await grant(s.owner.token, roomMod.userId, "role_room_moderator");
    const roleOf = async (u: string) =>
      (
        await srv.h.rows.get(
          sql`select role as "role" from room_members where room_id = ${s.publicRoom} and user_id = ${u}`,
        )
      )?.role;
    await expectCode(grant(roomMod.token, member.userId, "role_room_moderator"), Code.PermissionDenied, /higher rank/);
    expect(await roleOf(member.userId)).toBeUndefined();
    await grant(roomMod.token, member.userId, "role_room_user");
    expect(await roleOf(member.userId)).toBe("role_room_user");
    await grant(s.owner.token, other.userId, "role_room_moderator");
    // Demoting an equal is refused too.
    await expectCode(grant(roomMod.token, other.userId, "role_room_user"), Code.PermissionDenied, /equal to or higher/);
    expect(await roleOf(other.userId)).toBe("role_room_moderator");
    // A space moderator may make room moderators; nobody can touch the owner.
    await grant(s.spaceMod.token, member.userId, "role_room_moderator");
    expect(await roleOf(member.userId)).toBe("role_room_moderator");
    await expectCode(grant(s.spaceMod.token, s.owner.userId, "role_room_user"), Code.PermissionDenied);
    // The API key may grant anything.
    await spacesPrivateClient(srv).grantRole(
      { spaceId: s.spaceId, roomId: s.publicRoom, targetUserId: other.userId, role: "role_room_user" },
      bearer(srv.apiKey),
    );
    expect(await roleOf(other.userId)).toBe("role_room_user");
  });
});

describe("6. one meaning of room moderator for GrantRole, GenerateAccess and moderation", () => {
  it("a space moderator may grant, mute and generate links in a public room of the space; in a private room, none of them", async () => {
    const s = await scene(srv);
    const target = await createTestUser(srv);
    await api().grantRole(
      { spaceId: s.spaceId, roomId: s.publicRoom, targetUserId: target.userId, role: "role_room_user" },
      as(s.spaceMod.token),
    );
    await moderationClients(srv).grpc.act(
      { action: Action.CHAT_MUTE, roomId: s.publicRoom, targetUserId: target.userId },
      as(s.spaceMod.token),
    );
    const link = await api().generateAccess(
      { spaceId: s.spaceId, roomId: s.publicRoom, username: "Guest", role: "user" },
      as(s.spaceMod.token),
    );
    expect(link.linkId).toMatch(/^[0-9a-f]{32}$/);
    await api().grantRole(
      { spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: target.userId, role: "role_room_user" },
      as(s.owner.token),
    );
    await expectCode(
      api().grantRole(
        { spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: target.userId, role: "role_room_user" },
        as(s.spaceMod.token),
      ),
      Code.PermissionDenied,
    );
    await expectCode(
      api().generateAccess(
        { spaceId: s.spaceId, roomId: s.privateRoom, username: "Guest", role: "user" },
        as(s.spaceMod.token),
      ),
      Code.PermissionDenied,
    );
    await expectCode(
      moderationClients(srv).connect.act(
        { action: Action.CHAT_MUTE, roomId: s.privateRoom, targetUserId: target.userId },
        as(s.spaceMod.token),
      ),
      Code.PermissionDenied,
    );
  });

  it("the space owner as such may not generate links (seed 001) in a room made by someone else; a tenant-wide moderator may, anywhere", async () => {
    const s = await scene(srv);
    const { id: modsRoom } = await api().createRoom(
      { spaceId: s.spaceId, name: "Mods", isPublic: true },
      as(s.spaceMod.token),
    );
    await expectCode(
      api().generateAccess({ spaceId: s.spaceId, roomId: modsRoom, username: "G", role: "user" }, as(s.owner.token)),
      Code.PermissionDenied,
    );
    const tm = await createTestUser(srv, { tenantModerator: true });
    await api().generateAccess(
      { spaceId: s.spaceId, roomId: s.privateRoom, username: "G", role: "user" },
      as(tm.token),
    );
  });
});

describe("8. an empty space_id is invalid_argument, writing nothing", () => {
  it("GrantRole, JoinRoom, GenerateAccess without space_id (Connect and gRPC)", async () => {
    const s = await scene(srv);
    const target = await createTestUser(srv);
    const grpcApi = spacesViaGrpc();
    const before = { audit: await rowCount(srv, auditLog), members: await rowCount(srv, roomMembers) };
    for (const client of [api(), grpcApi]) {
      await expectCode(
        client.grantRole(
          { roomId: s.publicRoom, targetUserId: target.userId, role: "role_room_user" },
          as(s.owner.token),
        ),
        Code.InvalidArgument,
        "space_id: must not be empty",
      );
      await expectCode(
        client.joinRoom({ roomId: s.publicRoom }, as(target.token)),
        Code.InvalidArgument,
        "space_id: must not be empty",
      );
      await expectCode(
        client.generateAccess({ roomId: s.publicRoom, username: "G", role: "user" }, as(s.owner.token)),
        Code.InvalidArgument,
        "space_id: must not be empty",
      );
    }
    expect({ audit: await rowCount(srv, auditLog), members: await rowCount(srv, roomMembers) }).toEqual(before);
  });
});

describe("15. every change is audited with its actor", () => {
  it("CreateSpace, CreateRoom, CreateInvite, access-link generation and redemption", async () => {
    const owner = await createTestUser(srv);
    const { id: spaceId } = await api().createSpace({ name: "Audited", isPublic: false }, as(owner.token));
    const { id: roomId } = await api().createRoom({ spaceId, name: "R", isPublic: false }, as(owner.token));
    const { id: inviteId } = await api().createInvite({ spaceId, role: "role_space_user" }, as(owner.token));
    const link = await api().generateAccess(
      { spaceId, roomId, username: "Guest", role: "user", isPermanent: true },
      as(owner.token),
    );
    const redeemed = await accessClient(srv).redeem({ accessToken: link.accessToken });
    const entries = await srv.h.journal.listAudit({ tenantId: srv.tenantId, limit: 50 });
    const find = (action: string, target: string) => entries.find((e) => e.action === action && e.target === target);
    expect(find("space.create", spaceId)).toMatchObject({ actor: `user:${owner.userId}` });
    expect(find("room.create", roomId)).toMatchObject({ actor: `user:${owner.userId}`, roomId });
    expect(find("invite.create", inviteId)).toMatchObject({ actor: `user:${owner.userId}` });
    expect(find("access_link.generate", link.linkId)).toMatchObject({ actor: `user:${owner.userId}`, roomId });
    expect(find("access_link.redeem", link.linkId)).toMatchObject({
      actor: `user:${redeemed.userId}`,
      targetUserId: redeemed.userId,
      detail: expect.objectContaining({ linkCreatedBy: owner.userId }),
    });
  });
});

// ---- small clients and helpers ----

function spacesPrivateUsers() {
  return createClient(UsersPrivate, grpcTransport(srv.baseUrl));
}

function permissionsViaGrpc() {
  return createClient(Permissions, grpcTransport(srv.baseUrl));
}

function spacesViaGrpc() {
  return createClient(Spaces, grpcTransport(srv.baseUrl));
}

/** Logs in over Connect JSON with fetch, returning the access token and the session cookie pair. */
async function login(username: string): Promise<{ token: string; cookie: string }> {
  const res = await fetch(`${srv.baseUrl}/room.users.v1.Service/Login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ tenantId: srv.tenantId, username, password: "correct-horse" }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { accessToken: string };
  const setCookie = res.headers.get("set-cookie") ?? "";
  const cookie = setCookie.split(";")[0]!;
  expect(cookie.startsWith("roomgate_session=")).toBe(true);
  return { token: body.accessToken, cookie };
}

/** A second public room of the space, for "other rooms are unaffected". */
async function publicRoomOf(spaceId: string, ownerToken: string): Promise<string> {
  return (await api().createRoom({ spaceId, name: "Other", isPublic: true }, as(ownerToken))).id;
}
