import { Code } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { bool } from "../../src/store/database-port.js";
import { roomMembers, rooms, spaceMembers, spaces } from "../../src/store/schema.js";
import { bearer, expectCode, grpcTransport, tokensClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { as, rowCount, spaceRoleOf, spacesClient, spacesPrivateClient } from "../support/spaces-clients.js";
import { createTestUser, type TestUser } from "../support/users.js";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

const api = () => spacesClient(srv);

const spaceRole = (spaceId: string, userId: string) => spaceRoleOf(srv, spaceId, userId);

async function roomRole(roomId: string, userId: string, tenantId = srv.tenantId): Promise<string | undefined> {
  return (await srv.h.memberships.roomRolesOf(tenantId, userId, roomId)).roomRole;
}

/** A stored space, read through the SQL both stores share. */
async function spaceRow(id: string) {
  const row = await srv.h.rows.get<{ tenantId: string; name: string; isPublic: unknown; ownerUserId: string }>(
    sql`select tenant_id as "tenantId", name as "name", is_public as "isPublic", owner_user_id as "ownerUserId" from spaces where id = ${id}`,
  );
  return row && { ...row, isPublic: bool(row.isPublic) };
}

/** A stored room (of any tenant unless one is given), read through the SQL both stores share. */
async function roomRow(id: string, tenantId?: string) {
  const row = await srv.h.rows.get<{
    spaceId: string | null;
    name: string;
    isPublic: unknown;
    creatorUserId: string | null;
  }>(
    sql`select space_id as "spaceId", name as "name", is_public as "isPublic", creator_user_id as "creatorUserId"
        from rooms where id = ${id}${tenantId === undefined ? sql.empty() : sql` and tenant_id = ${tenantId}`}`,
  );
  return row && { ...row, isPublic: bool(row.isPublic) };
}

/** Who granted a user's room role (the first room_members row of the user). */
async function grantedBy(userId: string): Promise<unknown> {
  return (await srv.h.rows.get(sql`select granted_by as "grantedBy" from room_members where user_id = ${userId}`))
    ?.grantedBy;
}

/** A fresh owner with a space (and, when asked, a room in it). */
async function ownerWithSpace(isPublic = false): Promise<{ owner: TestUser; spaceId: string }> {
  const owner = await createTestUser(srv);
  const { id } = await api().createSpace({ name: "Studio", isPublic }, as(owner.token));
  return { owner, spaceId: id };
}

async function roomIn(spaceId: string, creator: TestUser, isPublic = false): Promise<string> {
  const { id } = await api().createRoom({ spaceId, name: "Stage", isPublic }, as(creator.token));
  return id;
}

/** Gives `user` a space role through a real invite. */
async function invite(owner: TestUser, spaceId: string, user: TestUser, role: string): Promise<void> {
  const { id } = await api().createInvite({ spaceId, role }, as(owner.token));
  await api().activateInvite({ spaceId, inviteId: id }, as(user.token));
}

describe("CreateSpace", () => {
  it("creates the space and makes the caller its owner", async () => {
    const owner = await createTestUser(srv);
    const { id } = await api().createSpace({ name: "My space", isPublic: true }, as(owner.token));
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const row = await spaceRow(id);
    expect(row).toMatchObject({ tenantId: srv.tenantId, name: "My space", isPublic: true, ownerUserId: owner.userId });
    expect(await spaceRole(id, owner.userId)).toBe("role_space_owner");
  });

  it("accepts a 128-character name and refuses an empty or 129-character one, writing nothing", async () => {
    const owner = await createTestUser(srv);
    await api().createSpace({ name: "x".repeat(128) }, as(owner.token));
    const before = await rowCount(srv, spaces);
    await expectCode(api().createSpace({ name: "" }, as(owner.token)), Code.InvalidArgument, "name: must not be empty");
    await expectCode(
      api().createSpace({ name: "   " }, as(owner.token)),
      Code.InvalidArgument,
      "name: must not be empty",
    );
    await expectCode(
      api().createSpace({ name: "x".repeat(129) }, as(owner.token)),
      Code.InvalidArgument,
      /at most 128/,
    );
    expect(await rowCount(srv, spaces)).toBe(before);
  });

  it("needs a user access token: none, a garbage one or a room member token is unauthenticated", async () => {
    const before = await rowCount(srv, spaces);
    await expectCode(api().createSpace({ name: "nope" }), Code.Unauthenticated);
    await expectCode(api().createSpace({ name: "nope" }, as("garbage")), Code.Unauthenticated);
    const { tokens } = await tokensClient(grpcTransport(srv.baseUrl)).create(
      { arguments: [{ userId: "member-1", roomId: "room-1", permissions: [Permission.PermissionRoomKick] }] },
      bearer(srv.apiKey),
    );
    await expectCode(api().createSpace({ name: "nope" }, as(tokens[0]!)), Code.Unauthenticated, /user access token/);
    // The API key is not an end-user credential either.
    await expectCode(api().createSpace({ name: "nope" }, as(srv.apiKey)), Code.Unauthenticated);
    expect(await rowCount(srv, spaces)).toBe(before);
  });

  it("speaks the seed's JSON over plain fetch", async () => {
    const owner = await createTestUser(srv);
    const res = await fetch(`${srv.baseUrl}/room.spaces.v1.Service/CreateSpace`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({ name: "Plain", is_public: false }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string };
    expect(await spaceRole(body.id, owner.userId)).toBe("role_space_owner");
  });
});

describe("CreateRoom", () => {
  it("the owner creates a room with a random UUID id and is recorded as its creator", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const id = await roomIn(spaceId, owner, true);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const row = await roomRow(id, srv.tenantId);
    expect(row).toMatchObject({ spaceId, name: "Stage", isPublic: true, creatorUserId: owner.userId });
  });

  it("a space moderator may create rooms; a space user may not (and nothing is written)", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const mod = await createTestUser(srv);
    const member = await createTestUser(srv);
    await invite(owner, spaceId, mod, "role_space_moderator");
    await invite(owner, spaceId, member, "role_space_user");
    const id = await roomIn(spaceId, mod);
    expect((await roomRow(id))?.creatorUserId).toBe(mod.userId);

    const before = await rowCount(srv, rooms);
    await expectCode(
      api().createRoom({ spaceId, name: "no" }, as(member.token)),
      Code.PermissionDenied,
      "only the space owner or a space moderator may create rooms",
    );
    const stranger = await createTestUser(srv);
    await expectCode(api().createRoom({ spaceId, name: "no" }, as(stranger.token)), Code.PermissionDenied);
    expect(await rowCount(srv, rooms)).toBe(before);
  });

  it("unknown space → not_found, empty space id and bad name → invalid_argument", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    await expectCode(
      api().createRoom({ spaceId: "no-such-space", name: "r" }, as(owner.token)),
      Code.NotFound,
      "space not found",
    );
    await expectCode(
      api().createRoom({ spaceId: "", name: "r" }, as(owner.token)),
      Code.InvalidArgument,
      "space_id: must not be empty",
    );
    await expectCode(
      api().createRoom({ spaceId, name: "" }, as(owner.token)),
      Code.InvalidArgument,
      "name: must not be empty",
    );
  });
});

describe("joining public and private spaces and rooms", () => {
  it("JoinSpace: a public space gives role_space_user", async () => {
    const { spaceId } = await ownerWithSpace(true);
    const u = await createTestUser(srv);
    await api().joinSpace({ spaceId }, as(u.token));
    expect(await spaceRole(spaceId, u.userId)).toBe("role_space_user");
  });

  it("JoinSpace never downgrades: the owner and a moderator keep their roles", async () => {
    const { owner, spaceId } = await ownerWithSpace(true);
    const mod = await createTestUser(srv);
    await invite(owner, spaceId, mod, "role_space_moderator");
    await api().joinSpace({ spaceId }, as(owner.token));
    await api().joinSpace({ spaceId }, as(mod.token));
    expect(await spaceRole(spaceId, owner.userId)).toBe("role_space_owner");
    expect(await spaceRole(spaceId, mod.userId)).toBe("role_space_moderator");
  });

  it("JoinSpace: a private space is permission_denied and writes nothing", async () => {
    const { spaceId } = await ownerWithSpace(false);
    const u = await createTestUser(srv);
    await expectCode(api().joinSpace({ spaceId }, as(u.token)), Code.PermissionDenied, /private/);
    expect(await spaceRole(spaceId, u.userId)).toBeUndefined();
  });

  it("JoinRoom: a public room of a public space gives role_room_user", async () => {
    const { owner, spaceId } = await ownerWithSpace(true);
    const roomId = await roomIn(spaceId, owner, true);
    const u = await createTestUser(srv);
    await api().joinRoom({ spaceId, roomId }, as(u.token));
    expect(await roomRole(roomId, u.userId)).toBe("role_room_user");
  });

  it("JoinRoom: a public room of a private space needs membership of the space", async () => {
    const { owner, spaceId } = await ownerWithSpace(false);
    const roomId = await roomIn(spaceId, owner, true);
    const u = await createTestUser(srv);
    await expectCode(api().joinRoom({ spaceId, roomId }, as(u.token)), Code.PermissionDenied);
    expect(await roomRole(roomId, u.userId)).toBeUndefined();
    await invite(owner, spaceId, u, "role_space_user");
    await api().joinRoom({ spaceId, roomId }, as(u.token));
    expect(await roomRole(roomId, u.userId)).toBe("role_room_user");
  });

  it("JoinRoom: a private room is permission_denied even in a public space", async () => {
    const { owner, spaceId } = await ownerWithSpace(true);
    const roomId = await roomIn(spaceId, owner, false);
    const u = await createTestUser(srv);
    const before = await rowCount(srv, roomMembers);
    await expectCode(api().joinRoom({ spaceId, roomId }, as(u.token)), Code.PermissionDenied);
    expect(await rowCount(srv, roomMembers)).toBe(before);
  });

  it("JoinRoom keeps a stronger room role", async () => {
    const { owner, spaceId } = await ownerWithSpace(true);
    const roomId = await roomIn(spaceId, owner, true);
    const u = await createTestUser(srv);
    await api().grantRole({ spaceId, roomId, targetUserId: u.userId, role: "role_room_moderator" }, as(owner.token));
    await api().joinRoom({ spaceId, roomId }, as(u.token));
    expect(await roomRole(roomId, u.userId)).toBe("role_room_moderator");
  });

  it("JoinRoom with the wrong space id is not_found", async () => {
    const { owner, spaceId } = await ownerWithSpace(true);
    const other = await ownerWithSpace(true);
    const roomId = await roomIn(spaceId, owner, true);
    const u = await createTestUser(srv);
    await expectCode(api().joinRoom({ spaceId: other.spaceId, roomId }, as(u.token)), Code.NotFound, "room not found");
  });
});

describe("GrantRole (end user)", () => {
  it("the space owner grants room roles", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const roomId = await roomIn(spaceId, owner);
    const u = await createTestUser(srv);
    await api().grantRole({ spaceId, roomId, targetUserId: u.userId, role: "role_room_moderator" }, as(owner.token));
    expect(await roomRole(roomId, u.userId)).toBe("role_room_moderator");
    expect(await grantedBy(u.userId)).toBe(owner.userId);
  });

  it("a room moderator grants; a room user and a stranger are permission_denied and write nothing", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const roomId = await roomIn(spaceId, owner);
    const mod = await createTestUser(srv);
    const member = await createTestUser(srv);
    const target = await createTestUser(srv);
    await api().grantRole({ spaceId, roomId, targetUserId: mod.userId, role: "role_room_moderator" }, as(owner.token));
    await api().grantRole({ spaceId, roomId, targetUserId: member.userId, role: "role_room_user" }, as(mod.token));
    expect(await roomRole(roomId, member.userId)).toBe("role_room_user");

    const before = await rowCount(srv, roomMembers);
    await expectCode(
      api().grantRole({ spaceId, roomId, targetUserId: target.userId, role: "role_room_user" }, as(member.token)),
      Code.PermissionDenied,
      "only the space owner or a room moderator may grant room roles",
    );
    const stranger = await createTestUser(srv);
    await expectCode(
      api().grantRole({ spaceId, roomId, targetUserId: target.userId, role: "role_room_user" }, as(stranger.token)),
      Code.PermissionDenied,
    );
    expect(await rowCount(srv, roomMembers)).toBe(before);
    expect(await roomRole(roomId, target.userId)).toBeUndefined();
  });

  it("a bad role name is invalid_argument; an unknown target user, room or wrong space is not_found", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const roomId = await roomIn(spaceId, owner);
    const u = await createTestUser(srv);
    const before = await rowCount(srv, roomMembers);
    for (const role of ["role_space_user", "role_room_owner", "Role_Room_User", ""]) {
      await expectCode(
        api().grantRole({ spaceId, roomId, targetUserId: u.userId, role }, as(owner.token)),
        Code.InvalidArgument,
        "role must be role_room_user or role_room_moderator",
      );
    }
    await expectCode(
      api().grantRole({ spaceId, roomId, targetUserId: "nobody", role: "role_room_user" }, as(owner.token)),
      Code.NotFound,
      "user not found",
    );
    await expectCode(
      api().grantRole({ spaceId, roomId: "no-room", targetUserId: u.userId, role: "role_room_user" }, as(owner.token)),
      Code.NotFound,
      "room not found",
    );
    const other = await ownerWithSpace();
    await expectCode(
      api().grantRole(
        { spaceId: other.spaceId, roomId, targetUserId: u.userId, role: "role_room_user" },
        as(owner.token),
      ),
      Code.NotFound,
      "room not found",
    );
    await expectCode(
      api().grantRole({ spaceId, roomId: "", targetUserId: u.userId, role: "role_room_user" }, as(owner.token)),
      Code.InvalidArgument,
      "room_id: must not be empty",
    );
    expect(await rowCount(srv, roomMembers)).toBe(before);
  });
});

describe("GrantRole (API key, gRPC)", () => {
  it("grants a role in any room of a space", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const roomId = await roomIn(spaceId, owner);
    const u = await createTestUser(srv);
    await spacesPrivateClient(srv).grantRole(
      { spaceId, roomId, targetUserId: u.userId, role: "role_room_moderator" },
      bearer(srv.apiKey),
    );
    expect(await roomRole(roomId, u.userId)).toBe("role_room_moderator");
    const by = await grantedBy(u.userId);
    expect(typeof by).toBe("string");
    expect(by).not.toBe("");
    expect(by).not.toBe(srv.apiKey);
  });

  it("grants a role in a room first named by token Create (no space: space_id empty)", async () => {
    const roomId = `token-room-${Date.now()}`;
    const u = await createTestUser(srv);
    await tokensClient(grpcTransport(srv.baseUrl)).create(
      { arguments: [{ userId: u.userId, roomId, permissions: [Permission.PermissionRoomKick] }] },
      bearer(srv.apiKey),
    );
    await spacesPrivateClient(srv).grantRole(
      { spaceId: "", roomId, targetUserId: u.userId, role: "role_room_user" },
      bearer(srv.apiKey),
    );
    expect(await roomRole(roomId, u.userId)).toBe("role_room_user");
    // Naming a space it does not belong to is not_found.
    const { spaceId } = await ownerWithSpace();
    await expectCode(
      spacesPrivateClient(srv).grantRole(
        { spaceId, roomId, targetUserId: u.userId, role: "role_room_moderator" },
        bearer(srv.apiKey),
      ),
      Code.NotFound,
      "room not found",
    );
    expect(await roomRole(roomId, u.userId)).toBe("role_room_user");
  });

  it("refuses a missing or wrong credential, a bad role, an unknown room or user, writing nothing", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const roomId = await roomIn(spaceId, owner);
    const u = await createTestUser(srv);
    const client = spacesPrivateClient(srv);
    const req = { spaceId, roomId, targetUserId: u.userId, role: "role_room_user" };
    const before = await rowCount(srv, roomMembers);
    await expectCode(client.grantRole(req), Code.Unauthenticated);
    await expectCode(client.grantRole(req, bearer("wrong-key")), Code.Unauthenticated);
    await expectCode(client.grantRole(req, as(owner.token)), Code.Unauthenticated, "invalid API key");
    await expectCode(
      client.grantRole({ ...req, role: "moderator" }, bearer(srv.apiKey)),
      Code.InvalidArgument,
      "role must be role_room_user or role_room_moderator",
    );
    await expectCode(client.grantRole({ ...req, roomId: "missing" }, bearer(srv.apiKey)), Code.NotFound);
    await expectCode(client.grantRole({ ...req, targetUserId: "missing" }, bearer(srv.apiKey)), Code.NotFound);
    expect(await rowCount(srv, roomMembers)).toBe(before);
  });
});

describe("tenant isolation: ids of another tenant are not_found", () => {
  it("the other tenant's API key cannot grant in this tenant's room, nor to this tenant's user", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const roomId = await roomIn(spaceId, owner);
    const u = await createTestUser(srv);
    const foreigner = await createTestUser(srv, { tenantId: srv.otherTenantId });
    const before = await rowCount(srv, roomMembers);
    await expectCode(
      spacesPrivateClient(srv).grantRole(
        { spaceId, roomId, targetUserId: u.userId, role: "role_room_user" },
        bearer(srv.otherKey),
      ),
      Code.NotFound,
      "room not found",
    );
    await expectCode(
      spacesPrivateClient(srv).grantRole(
        { spaceId, roomId, targetUserId: foreigner.userId, role: "role_room_user" },
        bearer(srv.apiKey),
      ),
      Code.NotFound,
      "user not found",
    );
    expect(await rowCount(srv, roomMembers)).toBe(before);
  });

  it("a user of the other tenant sees none of this tenant's spaces or rooms", async () => {
    const { owner, spaceId } = await ownerWithSpace(true);
    const roomId = await roomIn(spaceId, owner, true);
    const foreigner = await createTestUser(srv, { tenantId: srv.otherTenantId });
    const t = as(foreigner.token);
    const rBefore = await rowCount(srv, rooms);
    const mBefore = await rowCount(srv, spaceMembers);
    await expectCode(api().createRoom({ spaceId, name: "x" }, t), Code.NotFound, "space not found");
    await expectCode(api().createInvite({ spaceId, role: "role_space_user" }, t), Code.NotFound, "space not found");
    await expectCode(api().joinSpace({ spaceId }, t), Code.NotFound, "space not found");
    await expectCode(api().joinRoom({ spaceId, roomId }, t), Code.NotFound, "room not found");
    await expectCode(
      api().grantRole({ spaceId, roomId, targetUserId: foreigner.userId, role: "role_room_user" }, t),
      Code.NotFound,
    );
    await expectCode(
      api().generateAccess({ spaceId, roomId, username: "x", role: "user" }, t),
      Code.NotFound,
      "room not found",
    );
    expect(await rowCount(srv, rooms)).toBe(rBefore);
    expect(await rowCount(srv, spaceMembers)).toBe(mBefore);
    // The owner cannot grant a role to the foreign user either.
    await expectCode(
      api().grantRole({ spaceId, roomId, targetUserId: foreigner.userId, role: "role_room_user" }, as(owner.token)),
      Code.NotFound,
      "user not found",
    );
  });
});
