import { Code } from "@connectrpc/connect";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { accessLinks, auditLog, invites, roomMembers, rooms, spaceMembers, spaces } from "../../src/store/schema.js";
import { bearer, expectCode } from "../support/clients.js";
import { permissionsClient } from "../support/permissions-fixtures.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { accessClient, as, rowCount, spaceRoleOf } from "../support/spaces-clients.js";
import { createTestUser } from "../support/users.js";
import { apiKeyId, lastAudit, privateApi, PROTOCOLS, userApi } from "./spaces-management-support.js";

// Issue 9, point 1: the API key does on room.spaces.private.v1 what a space
// owner does — CreateSpace (with or without an owner user), CreateRoom,
// CreateInvite, GenerateAccess — in its own tenant only.

let srv: TestServer;
let keyId: string;
beforeAll(async () => {
  srv = await startTestServer();
  keyId = await apiKeyId(srv);
});
afterAll(async () => {
  await srv?.close();
});

/** Rows of every table a create call writes, to prove a refusal wrote none. */
async function counts(): Promise<number[]> {
  return await Promise.all(
    [spaces, rooms, invites, accessLinks, spaceMembers, roomMembers, auditLog].map((t) => rowCount(srv, t)),
  );
}

describe.each(PROTOCOLS)("API-key management over %s", (protocol) => {
  const key = () => privateApi(srv, protocol);

  it("CreateSpace without an owner: no owner user, managed by the key; audited with the key as actor", async () => {
    const { id } = await key().createSpace({ name: "Backend space", isPublic: false }, bearer(srv.apiKey));
    const row = await srv.h.rows.get(
      sql`select owner_user_id as "owner", tenant_id as "tenantId" from spaces where id = ${id}`,
    );
    expect(row).toEqual({ owner: null, tenantId: srv.tenantId });
    expect(await rowCount(srv, spaceMembers, eq(spaceMembers.spaceId, id))).toBe(0);
    expect(await lastAudit(srv, "space.create")).toMatchObject({ actor: `key:${keyId}`, target: id });
    const listed = await key().listSpaces({ pageSize: 500 }, bearer(srv.apiKey));
    expect(listed.spaces.find((s) => s.id === id)).toMatchObject({ name: "Backend space", ownerUserId: "", role: "" });
  });

  it("CreateSpace with owner_user_id makes that user the owner, who can then manage it as an end user", async () => {
    const owner = await createTestUser(srv);
    const { id } = await key().createSpace(
      { name: "Owned", isPublic: true, ownerUserId: owner.userId },
      bearer(srv.apiKey),
    );
    expect(await spaceRoleOf(srv, id, owner.userId)).toBe("role_space_owner");
    // The owner's end-user powers follow: a room and an invite.
    const room = await userApi(srv, protocol).createRoom({ spaceId: id, name: "R", isPublic: true }, as(owner.token));
    expect(room.id).not.toBe("");
    await userApi(srv, protocol).createInvite({ spaceId: id, role: "role_space_user" }, as(owner.token));
  });

  it("CreateRoom and CreateInvite in a key-made space; the invite works; GrantRole opens the private room", async () => {
    const { id: spaceId } = await key().createSpace({ name: "S", isPublic: false }, bearer(srv.apiKey));
    const { id: roomId } = await key().createRoom({ spaceId, name: "Private", isPublic: false }, bearer(srv.apiKey));
    const stored = await srv.h.rows.get(
      sql`select space_id as "spaceId", creator_user_id as "creator", is_public as "isPublic" from rooms where id = ${roomId}`,
    );
    expect(stored).toMatchObject({ spaceId, creator: null });
    expect(await rowCount(srv, roomMembers, eq(roomMembers.roomId, roomId))).toBe(0);
    expect(await lastAudit(srv, "room.create")).toMatchObject({ actor: `key:${keyId}`, target: roomId, roomId });

    const { id: inviteId } = await key().createInvite({ spaceId, role: "role_space_moderator" }, bearer(srv.apiKey));
    expect(await lastAudit(srv, "invite.create")).toMatchObject({ actor: `key:${keyId}`, target: inviteId });
    const u = await createTestUser(srv);
    await userApi(srv, protocol).activateInvite({ spaceId, inviteId }, as(u.token));
    expect(await spaceRoleOf(srv, spaceId, u.userId)).toBe("role_space_moderator");
    const listed = await key().listInvites({ spaceId }, bearer(srv.apiKey));
    expect(listed.invites[0]).toMatchObject({ id: inviteId, createdBy: `key:${keyId}`, usedBy: u.userId });

    // A space role never opens a private room; the key's GrantRole does.
    await key().grantRole({ spaceId, roomId, targetUserId: u.userId, role: "role_room_user" }, bearer(srv.apiKey));
    const perms = await permissionsClient(srv).getRoomPermissions({ roomId }, as(u.token));
    expect(perms.roomPermissions!.granted).toContain(P.PermissionCanSendMessagesInMainThread);
  });

  it("GenerateAccess with the key: the link's creator is the key, in listings and audit; it redeems", async () => {
    const { id: spaceId } = await key().createSpace({ name: "S", isPublic: false }, bearer(srv.apiKey));
    const { id: roomId } = await key().createRoom({ spaceId, name: "R", isPublic: false }, bearer(srv.apiKey));
    const link = await key().generateAccess(
      { spaceId, roomId, username: "Guest", role: "moderator", externalUserId: "ext-1" },
      bearer(srv.apiKey),
    );
    expect(link.link).toContain(`/join/${roomId}`);
    expect(await lastAudit(srv, "access_link.generate")).toMatchObject({
      actor: `key:${keyId}`,
      target: link.linkId,
      roomId,
    });
    const listed = await key().listAccessLinks({ spaceId, roomId }, bearer(srv.apiKey));
    expect(listed.links[0]).toMatchObject({ id: link.linkId, createdBy: `key:${keyId}`, role: "moderator" });
    const redeemed = await accessClient(srv).redeem({ accessToken: link.accessToken });
    const perms = await permissionsClient(srv).getRoomPermissions({ roomId }, as(redeemed.accessToken));
    expect(perms.roomPermissions!.granted).toContain(P.PermissionRoomKick);
    // A room without a space (first named by token Create): space_id "".
    await srv.h.seed.bareRoom(srv.tenantId, `bare-${protocol}`);
    await key().generateAccess(
      { spaceId: "", roomId: `bare-${protocol}`, username: "G", role: "user" },
      bearer(srv.apiKey),
    );
  });

  it("refusals write nothing: another tenant's key is not_found, bad input invalid_argument, an unknown owner not_found", async () => {
    const owner = await createTestUser(srv);
    const { id: spaceId } = await key().createSpace({ name: "Mine", isPublic: false }, bearer(srv.apiKey));
    const { id: roomId } = await key().createRoom({ spaceId, name: "R", isPublic: false }, bearer(srv.apiKey));
    const foreignUser = await createTestUser(srv, { tenantId: srv.otherTenantId });
    const before = await counts();
    const other = bearer(srv.otherKey);
    await expectCode(
      key().createRoom({ spaceId, name: "X", isPublic: false }, other),
      Code.NotFound,
      "space not found",
    );
    await expectCode(key().createInvite({ spaceId, role: "role_space_user" }, other), Code.NotFound, "space not found");
    await expectCode(
      key().generateAccess({ spaceId, roomId, username: "G", role: "user" }, other),
      Code.NotFound,
      "room not found",
    );
    await expectCode(
      key().createSpace({ name: "X", isPublic: false, ownerUserId: owner.userId }, other),
      Code.NotFound,
      "user not found",
    );
    await expectCode(
      key().createSpace({ name: "X", isPublic: false, ownerUserId: foreignUser.userId }, bearer(srv.apiKey)),
      Code.NotFound,
      "user not found",
    );
    await expectCode(key().createSpace({ name: "", isPublic: false }, bearer(srv.apiKey)), Code.InvalidArgument);
    await expectCode(
      key().createRoom({ spaceId: "", name: "X", isPublic: false }, bearer(srv.apiKey)),
      Code.InvalidArgument,
    );
    await expectCode(
      key().createInvite({ spaceId, role: "role_space_owner" }, bearer(srv.apiKey)),
      Code.InvalidArgument,
    );
    await expectCode(
      key().generateAccess({ spaceId, roomId, username: "G", role: "admin" }, bearer(srv.apiKey)),
      Code.InvalidArgument,
    );
    await expectCode(key().createSpace({ name: "X", isPublic: false }, bearer("rgk_nope_nope")), Code.Unauthenticated);
    // An end-user token is not an API key.
    await expectCode(key().createSpace({ name: "X", isPublic: false }, as(owner.token)), Code.Unauthenticated);
    expect(await counts()).toEqual(before);
  });
});
