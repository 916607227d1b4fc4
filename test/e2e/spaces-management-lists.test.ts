import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Action } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { InviteState, WayIn } from "../../gen/room/spaces/v1/service_pb.js";
import { createTenantWithKey } from "../../src/domain/auth/tenants.js";
import { bearer, expectCode, grpcTransport, tokensClient } from "../support/clients.js";
import { memberToken } from "../support/permissions-fixtures.js";
import { moderationPrivateClient, scene } from "../support/scenes.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { accessClient, as } from "../support/spaces-clients.js";
import { createTestUser } from "../support/users.js";
import { privateApi, PROTOCOLS, userApi } from "./spaces-management-support.js";

// Issue 9, point 2: ListSpaces, ListRooms, ListMembers and ListInvites on
// both surfaces, tenant-scoped, with opaque keyset page tokens.

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

/** A tenant of its own (its key and a user maker), so tenant-wide lists hold only what a test made. */
async function freshTenant() {
  const t = await createTenantWithKey(srv.h.tenants, "lists", Date.now());
  return {
    tenantId: t.tenant.id,
    key: t.key,
    keyId: t.keyId,
    user: (opts: { tenantModerator?: boolean } = {}) => createTestUser(srv, { tenantId: t.tenant.id, ...opts }),
  };
}

/** Rows listed newest first: by creation time, then id, both descending (rows made in one millisecond tie on time). */
function expectNewestFirst(rows: readonly { id: string; createdAt?: { seconds: bigint; nanos: number } }[]): void {
  const key = (r: (typeof rows)[number]) => [Number(r.createdAt!.seconds) * 1e9 + r.createdAt!.nanos, r.id] as const;
  for (let i = 1; i < rows.length; i++) {
    const [a, b] = [key(rows[i - 1]!), key(rows[i]!)];
    expect(a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]), `row ${i} is not older than row ${i - 1}`).toBe(true);
  }
}

const sorted = <T>(xs: T[]): T[] => [...xs].sort();

/** Every page of a list, following next_page_token; fails on a repeat. */
async function allPages<T>(
  read: (pageToken: string) => Promise<{ items: T[]; next: string }>,
  id: (t: T) => string,
): Promise<string[]> {
  const seen: string[] = [];
  let token = "";
  do {
    const page = await read(token);
    seen.push(...page.items.map(id));
    token = page.next;
  } while (token !== "");
  expect(new Set(seen).size, "no item is listed twice").toBe(seen.length);
  return seen;
}

describe.each(PROTOCOLS)("lists over %s", (protocol) => {
  const api = () => userApi(srv, protocol);
  const key = () => privateApi(srv, protocol);

  it("ListSpaces: the key sees its tenant's spaces newest first; a user the spaces they belong to, with their role", async () => {
    const t = await freshTenant();
    const owner = await t.user();
    const member = await t.user();
    const made: string[] = [];
    for (let i = 0; i < 5; i++)
      made.push(
        (
          await key().createSpace(
            { name: `S${i}`, isPublic: i % 2 === 0, ownerUserId: i < 3 ? owner.userId : "" },
            bearer(t.key),
          )
        ).id,
      );
    const { id: inviteId } = await key().createInvite({ spaceId: made[1]!, role: "role_space_user" }, bearer(t.key));
    await api().activateInvite({ spaceId: made[1]!, inviteId }, as(member.token));

    const viaKey = await allPages(
      async (pageToken) => {
        const r = await key().listSpaces({ pageSize: 2, pageToken }, bearer(t.key));
        return { items: r.spaces, next: r.nextPageToken };
      },
      (s) => s.id,
    );
    expect(sorted(viaKey)).toEqual(sorted(made));
    const whole = await key().listSpaces({}, bearer(t.key));
    expect(whole.spaces.map((s) => s.id)).toEqual(viaKey);
    expectNewestFirst(whole.spaces);
    expect(whole.spaces.find((s) => s.id === made[4])).toMatchObject({
      name: "S4",
      isPublic: true,
      ownerUserId: "",
      role: "",
    });

    const owners = await api().listSpaces({}, as(owner.token));
    expectNewestFirst(owners.spaces);
    expect(sorted(owners.spaces.map((s) => `${s.id} ${s.role}`))).toEqual(
      sorted([0, 1, 2].map((i) => `${made[i]} role_space_owner`)),
    );
    const members = await api().listSpaces({}, as(member.token));
    expect(members.spaces.map((s) => [s.id, s.role, s.ownerUserId])).toEqual([
      [made[1], "role_space_user", owner.userId],
    ]);
    // Tenants never see each other's.
    const others = await key().listSpaces({ pageSize: 500 }, bearer(srv.otherKey));
    expect(others.spaces.filter((s) => made.includes(s.id))).toEqual([]);
  });

  it("ListRooms: the key sees a space's rooms (and those without a space); a user the rooms open to them", async () => {
    const s = await scene(srv);
    const viaKey = await key().listRooms({ spaceId: s.spaceId }, bearer(srv.apiKey));
    expect(sorted(viaKey.rooms.map((r) => r.id))).toEqual(sorted([s.privateRoom, s.publicRoom]));
    expectNewestFirst(viaKey.rooms);
    expect(viaKey.rooms.find((r) => r.id === s.privateRoom)).toMatchObject({
      spaceId: s.spaceId,
      name: "Board",
      isPublic: false,
      creatorUserId: s.owner.userId,
      role: "",
    });
    // A room first named by token Create has no space.
    const bare = `bare-${protocol}-${s.spaceId}`;
    await memberToken(srv, "someone", bare, [P.PermissionChatMute]);
    const bareRooms = await key().listRooms({ spaceId: "", pageSize: 500 }, bearer(srv.apiKey));
    expect(bareRooms.rooms.find((r) => r.id === bare)).toMatchObject({ spaceId: "", name: "" });

    // The owner created both (a room role in each); a space user sees the public one.
    const owner = await api().listRooms({ spaceId: s.spaceId }, as(s.owner.token));
    expect(sorted(owner.rooms.map((r) => `${r.id} ${r.role}`))).toEqual(
      sorted([`${s.privateRoom} role_room_moderator`, `${s.publicRoom} role_room_moderator`]),
    );
    expect((await api().listRooms({ spaceId: s.spaceId }, as(s.spaceUser.token))).rooms.map((r) => r.id)).toEqual([
      s.publicRoom,
    ]);
    // A room role alone (no space role) opens that room only.
    const roomOnly = await createTestUser(srv);
    await key().grantRole(
      { spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: roomOnly.userId, role: "role_room_user" },
      bearer(srv.apiKey),
    );
    expect(
      (await api().listRooms({ spaceId: s.spaceId }, as(roomOnly.token))).rooms.map((r) => [r.id, r.role]),
    ).toEqual([[s.privateRoom, "role_room_user"]]);
    // A tenant-wide moderator sees every room.
    const tmod = await createTestUser(srv, { tenantModerator: true });
    expect((await api().listRooms({ spaceId: s.spaceId }, as(tmod.token))).rooms).toHaveLength(2);

    await expectCode(
      api().listRooms({ spaceId: s.spaceId }, as((await createTestUser(srv)).token)),
      Code.PermissionDenied,
      "you do not belong to this space",
    );
    await expectCode(
      api().listRooms({ spaceId: s.spaceId }, as((await createTestUser(srv, { tenantId: srv.otherTenantId })).token)),
      Code.NotFound,
    );
    await expectCode(key().listRooms({ spaceId: s.spaceId }, bearer(srv.otherKey)), Code.NotFound, "space not found");
    await expectCode(api().listRooms({ spaceId: "" }, as(s.owner.token)), Code.InvalidArgument);
  });

  it("ListMembers: every way in, with roles and restrictions in force; a removed token holder drops out", async () => {
    const t = await freshTenant();
    const owner = await t.user();
    const { id: spaceId } = await key().createSpace(
      { name: "S", isPublic: true, ownerUserId: owner.userId },
      bearer(t.key),
    );
    const { id: room } = await api().createRoom({ spaceId, name: "Public", isPublic: true }, as(owner.token));
    const spaceUser = await t.user();
    const { id: inviteId } = await key().createInvite({ spaceId, role: "role_space_user" }, bearer(t.key));
    await api().activateInvite({ spaceId, inviteId }, as(spaceUser.token));
    const granted = await t.user();
    await key().grantRole(
      { spaceId, roomId: room, targetUserId: granted.userId, role: "role_room_user" },
      bearer(t.key),
    );
    const tmod = await t.user({ tenantModerator: true });
    const link = await key().generateAccess({ spaceId, roomId: room, username: "Guest", role: "user" }, bearer(t.key));
    const guest = await accessClient(srv).redeem({ accessToken: link.accessToken });
    const tokenUser = `token-user-${protocol}`;
    await memberToken(srv, tokenUser, room, [P.PermissionCanSendNudge], t.key);
    const until = Date.now() + 3_600_000;
    await moderationPrivateClient(srv).act(
      { action: Action.CHAT_MUTE, roomId: room, targetUserId: granted.userId, durationSeconds: 3600 },
      bearer(t.key),
    );

    const listed = await key().listMembers({ spaceId, roomId: room }, bearer(t.key));
    const byId = new Map(listed.members.map((m) => [m.userId, m]));
    expect([...byId.keys()].sort()).toEqual(
      [owner.userId, spaceUser.userId, granted.userId, tmod.userId, guest.userId, tokenUser].sort(),
    );
    expect(byId.get(owner.userId)).toMatchObject({
      roomRole: "role_room_moderator",
      spaceRole: "role_space_owner",
      waysIn: [WayIn.ROOM_ROLE, WayIn.SPACE_ROLE],
    });
    expect(byId.get(spaceUser.userId)).toMatchObject({
      roomRole: "",
      spaceRole: "role_space_user",
      waysIn: [WayIn.SPACE_ROLE],
    });
    expect(byId.get(tmod.userId)).toMatchObject({ waysIn: [WayIn.TENANT_MODERATOR] });
    expect(byId.get(guest.userId)).toMatchObject({
      username: "Guest",
      roomRole: "user",
      waysIn: [WayIn.ACCESS_LINK],
      accessLinkId: link.linkId,
    });
    expect(byId.get(tokenUser)).toMatchObject({ username: "", waysIn: [WayIn.ROOM_MEMBER_TOKEN] });
    const mutedMember = byId.get(granted.userId)!;
    expect(mutedMember).toMatchObject({ roomRole: "role_room_user", waysIn: [WayIn.ROOM_ROLE] });
    expect(mutedMember.restrictions.map((r) => r.kind)).toEqual(["mute"]);
    expect(Math.abs(Number(mutedMember.restrictions[0]!.until!.seconds) * 1000 - until)).toBeLessThan(5_000);

    // The end user: a room moderator may; a member and another tenant may not.
    const viaOwner = await api().listMembers({ spaceId, roomId: room, pageSize: 2 }, as(owner.token));
    expect(viaOwner.members).toHaveLength(2);
    expect(viaOwner.nextPageToken).not.toBe("");
    await expectCode(
      api().listMembers({ spaceId, roomId: room }, as(granted.token)),
      Code.PermissionDenied,
      "only a room moderator may list the room's members",
    );
    await expectCode(api().listMembers({ spaceId, roomId: room }, as(spaceUser.token)), Code.PermissionDenied);
    await expectCode(key().listMembers({ spaceId, roomId: room }, bearer(srv.apiKey)), Code.NotFound, "room not found");
    await expectCode(
      api().listMembers({ spaceId, roomId: room }, as((await createTestUser(srv)).token)),
      Code.NotFound,
      "room not found",
    );

    // RevokeUser in the room takes the token holder's way in.
    await tokensClient(grpcTransport(srv.baseUrl)).revokeUser({ userId: tokenUser, roomId: room }, bearer(t.key));
    const after = await key().listMembers({ spaceId, roomId: room }, bearer(t.key));
    expect(after.members.map((m) => m.userId)).not.toContain(tokenUser);
    expect(after.members).toHaveLength(5);
  });

  it("ListInvites: the key and the space owner see every invite with its state; nobody else", async () => {
    const s = await scene(srv);
    const unused = await api().createInvite({ spaceId: s.spaceId, role: "role_space_user" }, as(s.owner.token));
    const revoked = await key().createInvite({ spaceId: s.spaceId, role: "role_space_moderator" }, bearer(srv.apiKey));
    await key().revokeInvite({ spaceId: s.spaceId, inviteId: revoked.id }, bearer(srv.apiKey));
    const viaOwner = await api().listInvites({ spaceId: s.spaceId }, as(s.owner.token));
    // The scene used two invites first.
    expectNewestFirst(viaOwner.invites);
    expect(
      sorted(
        viaOwner.invites.map(
          (i) => `${i.id === unused.id ? "unused" : i.id === revoked.id ? "revoked" : "scene"} ${InviteState[i.state]}`,
        ),
      ),
    ).toEqual(sorted(["revoked REVOKED", "unused UNUSED", "scene USED", "scene USED"]));
    const byId = new Map(viaOwner.invites.map((i) => [i.id, i]));
    expect(byId.get(unused.id)).toMatchObject({
      spaceId: s.spaceId,
      role: "role_space_user",
      createdBy: `user:${s.owner.userId}`,
      usedBy: "",
    });
    expect(byId.get(revoked.id)!.revokedAt).toBeDefined();
    expect(viaOwner.invites.find((i) => i.state === InviteState.USED)!.usedAt).toBeDefined();
    expect((await key().listInvites({ spaceId: s.spaceId }, bearer(srv.apiKey))).invites).toHaveLength(4);
    await expectCode(
      api().listInvites({ spaceId: s.spaceId }, as(s.spaceMod.token)),
      Code.PermissionDenied,
      "only the space owner may list its invites",
    );
    await expectCode(key().listInvites({ spaceId: s.spaceId }, bearer(srv.otherKey)), Code.NotFound);
  });

  it("bad page size and page tokens are invalid_argument; a token of one list does not serve another", async () => {
    const s = await scene(srv);
    const spacesToken = (await key().listSpaces({ pageSize: 1 }, bearer(srv.apiKey))).nextPageToken;
    expect(spacesToken).not.toBe("");
    const roomsToken = (await key().listRooms({ spaceId: s.spaceId, pageSize: 1 }, bearer(srv.apiKey))).nextPageToken;
    const bad = ["bogus!", "AAAA", Buffer.from("spaces.1.x\n").toString("base64url"), `${spacesToken}=`, roomsToken];
    for (const pageToken of bad) {
      await expectCode(key().listSpaces({ pageToken }, bearer(srv.apiKey)), Code.InvalidArgument);
    }
    await expectCode(
      key().listRooms({ spaceId: s.spaceId, pageToken: spacesToken }, bearer(srv.apiKey)),
      Code.InvalidArgument,
    );
    await expectCode(
      key().listMembers({ spaceId: s.spaceId, roomId: s.publicRoom, pageToken: spacesToken }, bearer(srv.apiKey)),
      Code.InvalidArgument,
    );
    await expectCode(
      key().listInvites({ spaceId: s.spaceId, pageToken: roomsToken }, bearer(srv.apiKey)),
      Code.InvalidArgument,
    );
    for (const call of [
      () => key().listSpaces({ pageSize: 501 }, bearer(srv.apiKey)),
      () => api().listSpaces({ pageSize: 501 }, as(s.owner.token)),
      () => api().listRooms({ spaceId: s.spaceId, pageSize: 501 }, as(s.owner.token)),
      () => api().listMembers({ spaceId: s.spaceId, roomId: s.publicRoom, pageSize: 501 }, as(s.owner.token)),
      () => api().listInvites({ spaceId: s.spaceId, pageSize: 501 }, as(s.owner.token)),
    ]) {
      await expectCode(call(), Code.InvalidArgument, "page_size: 501 exceeds the maximum of 500");
    }
    await expectCode(api().listSpaces({}), Code.Unauthenticated);
  });
});
