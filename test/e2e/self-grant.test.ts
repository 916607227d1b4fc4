import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog, events, roomMembers } from "../../src/store/schema.js";
import { bearer, expectCode } from "../support/clients.js";
import { permissionsClient } from "../support/permissions-fixtures.js";
import { scene } from "../support/scenes.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { as, rowCount, spacesClient, spacesPrivateClient } from "../support/spaces-clients.js";
import { createTestUser } from "../support/users.js";

// Issue 19, section 3: the README said the owner may grant themselves a room
// role; the code refused. Decided by the hierarchy rule (SPEC "Rules across
// features"): nobody acts on themselves and nobody grants at or above their
// own rank; the API key may do anything. The README now says the same.

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

async function written() {
  return {
    audit: await rowCount(srv, auditLog),
    events: await rowCount(srv, events),
    members: await rowCount(srv, roomMembers),
  };
}

describe("nobody grants a room role to themselves; the API key may", () => {
  it("the owner outside a private room: refused with every room role, nothing written; the API key lets them in", async () => {
    const s = await scene(srv);
    const api = spacesClient(srv);
    // A private room the space moderator made: the owner holds no role in it.
    const { id: roomId } = await api.createRoom(
      { spaceId: s.spaceId, name: "Mods", isPublic: false },
      as(s.spaceMod.token),
    );
    const perms = permissionsClient(srv);
    const outside = await perms.getRoomPermissions({ roomId }, as(s.owner.token));
    const before = await written();
    for (const role of ["role_room_user", "role_room_moderator"]) {
      await expectCode(
        api.grantRole({ spaceId: s.spaceId, roomId, targetUserId: s.owner.userId, role }, as(s.owner.token)),
        Code.PermissionDenied,
        "nobody grants a room role to themselves; the API key may",
      );
    }
    expect(await written()).toEqual(before);
    expect(await perms.getRoomPermissions({ roomId }, as(s.owner.token))).toEqual(outside);

    // The owner may still grant below their rank in that room.
    const someone = await createTestUser(srv);
    await api.grantRole(
      { spaceId: s.spaceId, roomId, targetUserId: someone.userId, role: "role_room_moderator" },
      as(s.owner.token),
    );

    // The API key grants the owner a room role: they are in.
    await spacesPrivateClient(srv).grantRole(
      { spaceId: s.spaceId, roomId, targetUserId: s.owner.userId, role: "role_room_moderator" },
      bearer(srv.apiKey),
    );
    const inside = await perms.getRoomPermissions({ roomId }, as(s.owner.token));
    expect(inside).not.toEqual(outside);
  });

  it("a room moderator and a space moderator cannot grant themselves either", async () => {
    const s = await scene(srv);
    const api = spacesClient(srv);
    const mod = await createTestUser(srv);
    await api.grantRole(
      { spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: mod.userId, role: "role_room_moderator" },
      as(s.owner.token),
    );
    const before = await written();
    await expectCode(
      api.grantRole(
        { spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: mod.userId, role: "role_room_user" },
        as(mod.token),
      ),
      Code.PermissionDenied,
    );
    await expectCode(
      api.grantRole(
        { spaceId: s.spaceId, roomId: s.publicRoom, targetUserId: s.spaceMod.userId, role: "role_room_user" },
        as(s.spaceMod.token),
      ),
      Code.PermissionDenied,
    );
    expect(await written()).toEqual(before);
  });
});
