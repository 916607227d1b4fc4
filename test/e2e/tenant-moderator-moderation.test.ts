import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Action as PrivateAction } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Action } from "../../gen/room/moderation/v1/service_pb.js";
import { auditLog, events } from "../../src/store/schema.js";
import { bearer, expectCode } from "../support/clients.js";
import { permissionsClient } from "../support/permissions-fixtures.js";
import { expectRoomAccessDenied } from "../support/room-access.js";
import { moderationClients, moderationPrivateClient, scene, type Scene } from "../support/scenes.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { as, rowCount, spacesClient } from "../support/spaces-clients.js";
import { createTestUser, type TestUser } from "../support/users.js";

// Issue 19, section 3: seed 003's tenant-wide moderator (isModerator without
// chatRoom) is a member of every room of the tenant for moderation too. The
// hierarchy (SPEC "Rules across features"): owner > space moderator and
// tenant moderator > room moderator > member; the API key may do anything.
// Before the fix every Act on them answered not_found, to everyone.

const ACTIONS = [
  "CHAT_BLOCK",
  "CHAT_UNBLOCK",
  "CHAT_MUTE",
  "CHAT_UNMUTE",
  "CHAT_KICK",
  "ROOM_BLOCK",
  "ROOM_UNBLOCK",
  "ROOM_KICK",
] as const;

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

/** A tenant-wide moderator made through seed 003's own route: isModerator, no chatRoom. */
async function tenantModerator(): Promise<TestUser> {
  const suffix = Math.random().toString(36).slice(2, 10);
  const res = await fetch(`${srv.baseUrl}/consumer/api/v1/user?auth=${encodeURIComponent(srv.apiKey)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: `tm-${suffix}`, isModerator: true, email: `tm-${suffix}@example.com` }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { userId: string; accessToken: string; isModerator: boolean };
  expect(body.isModerator).toBe(true);
  return { userId: body.userId, token: body.accessToken };
}

/** The scene plus a room moderator of its public room. */
async function world(): Promise<Scene & { roomMod: TestUser }> {
  const s = await scene(srv);
  const roomMod = await createTestUser(srv);
  await spacesClient(srv).grantRole(
    { spaceId: s.spaceId, roomId: s.publicRoom, targetUserId: roomMod.userId, role: "role_room_moderator" },
    as(s.owner.token),
  );
  return { ...s, roomMod };
}

async function written(): Promise<{ audit: number; events: number }> {
  return { audit: await rowCount(srv, auditLog), events: await rowCount(srv, events) };
}

describe("a tenant-wide moderator can be moderated by a higher rank", () => {
  it("the API key: every action, in a public and a private room", async () => {
    const s = await world();
    const target = await tenantModerator();
    for (const roomId of [s.publicRoom, s.privateRoom]) {
      for (const name of ACTIONS) {
        const res = await moderationPrivateClient(srv).act(
          { action: PrivateAction[name], roomId, targetUserId: target.userId, reason: `api ${name}` },
          bearer(srv.apiKey),
        );
        expect(res.eventId, `${name} in ${roomId}`).toBeGreaterThan(0n);
      }
    }
  });

  it("the space owner: every action, each audited and announced once", async () => {
    const s = await world();
    const target = await tenantModerator();
    for (const name of ACTIONS) {
      const before = await written();
      await moderationClients(srv).connect.act(
        { action: Action[name], roomId: s.publicRoom, targetUserId: target.userId, reason: `owner ${name}` },
        as(s.owner.token),
      );
      expect(await written(), name).toEqual({ audit: before.audit + 1, events: before.events + 1 });
    }
  });

  it("a room block by the owner takes the room from them; lifting it gives it back", async () => {
    const s = await world();
    const target = await tenantModerator();
    const mod = moderationClients(srv).grpc;
    const perms = permissionsClient(srv);
    await perms.getRoomPermissions({ roomId: s.publicRoom }, as(target.token));
    await mod.act({ action: Action.ROOM_BLOCK, roomId: s.publicRoom, targetUserId: target.userId }, as(s.owner.token));
    await expectRoomAccessDenied(
      perms.getRoomPermissions({ roomId: s.publicRoom }, as(target.token)),
      "room_blocked",
      s.publicRoom,
      null,
    );
    // Another room of the tenant is untouched.
    await perms.getRoomPermissions({ roomId: s.privateRoom }, as(target.token));
    await mod.act(
      { action: Action.ROOM_UNBLOCK, roomId: s.publicRoom, targetUserId: target.userId },
      as(s.owner.token),
    );
    await perms.getRoomPermissions({ roomId: s.publicRoom }, as(target.token));
  });
});

describe("equal and lower ranks are refused with permission_denied, and nothing is written", () => {
  const refused: readonly { who: string; actor: (s: Scene & { roomMod: TestUser; peer: TestUser }) => TestUser }[] = [
    { who: "a space moderator (same rank)", actor: (s) => s.spaceMod },
    { who: "another tenant moderator (same rank)", actor: (s) => s.peer },
    { who: "a room moderator", actor: (s) => s.roomMod },
    { who: "a plain member", actor: (s) => s.spaceUser },
  ];
  for (const { who, actor } of refused) {
    it(`${who}: every action`, async () => {
      const s = { ...(await world()), peer: await tenantModerator() };
      const target = await tenantModerator();
      const before = await written();
      for (const name of ACTIONS) {
        await expectCode(
          moderationClients(srv).connect.act(
            { action: Action[name], roomId: s.publicRoom, targetUserId: target.userId },
            as(actor(s).token),
          ),
          Code.PermissionDenied,
        );
      }
      expect(await written()).toEqual(before);
      // The target's access is whole.
      await permissionsClient(srv).getRoomPermissions({ roomId: s.publicRoom }, as(target.token));
    });
  }

  it("nobody acts on themselves, and another tenant's key finds nothing", async () => {
    const s = await world();
    const target = await tenantModerator();
    const before = await written();
    await expectCode(
      moderationClients(srv).connect.act(
        { action: Action.CHAT_MUTE, roomId: s.publicRoom, targetUserId: target.userId },
        as(target.token),
      ),
      Code.PermissionDenied,
    );
    await expectCode(
      moderationPrivateClient(srv).act(
        { action: PrivateAction.ROOM_KICK, roomId: s.publicRoom, targetUserId: target.userId },
        bearer(srv.otherKey),
      ),
      Code.NotFound,
    );
    expect(await written()).toEqual(before);
  });

  it("a user who is not a tenant moderator and not in the room is still not_found", async () => {
    const s = await world();
    const stranger = await createTestUser(srv);
    await expectCode(
      moderationPrivateClient(srv).act(
        { action: PrivateAction.CHAT_MUTE, roomId: s.privateRoom, targetUserId: stranger.userId },
        bearer(srv.apiKey),
      ),
      Code.NotFound,
    );
  });
});
