import { Code, type ConnectError, createClient } from "@connectrpc/connect";
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EventType, Service as Events } from "../../gen/room/events/private/v1/service_pb.js";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { InviteState } from "../../gen/room/spaces/v1/service_pb.js";
import { auditLog, events, invites, roomMembers, spaceMembers } from "../../src/store/schema.js";
import { bearer, expectCode, grpcTransport } from "../support/clients.js";
import { permissionsClient } from "../support/permissions-fixtures.js";
import { scene, type Scene } from "../support/scenes.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { as, rowCount, spaceRoleOf } from "../support/spaces-clients.js";
import { createTestUser, type TestUser } from "../support/users.js";
import { apiKeyId, eventById, lastAudit, privateApi, PROTOCOLS, userApi } from "./spaces-management-support.js";

// Issue 9, points 3-5: RevokeInvite, RevokeRole, LeaveSpace and invites for
// a role already held. Every refusal writes nothing; every success is
// audited and announced; a removed role stops opening the room at once.

let srv: TestServer;
let keyId: string;
beforeAll(async () => {
  srv = await startTestServer();
  keyId = await apiKeyId(srv);
});
afterAll(async () => {
  await srv?.close();
});

/** Rows of every table these calls write. */
async function counts(): Promise<number[]> {
  const revoked = await rowCount(srv, invites, sql`revoked_at is not null`);
  const used = await rowCount(srv, invites, sql`used_at is not null`);
  return [
    await rowCount(srv, auditLog),
    await rowCount(srv, events),
    await rowCount(srv, roomMembers),
    await rowCount(srv, spaceMembers),
    revoked,
    used,
  ];
}

/** Seed 002's granted set of `token` in `roomId`. */
async function granted(token: string, roomId: string): Promise<P[]> {
  return (await permissionsClient(srv).getRoomPermissions({ roomId }, as(token))).roomPermissions!.granted;
}

describe.each(PROTOCOLS)("RevokeRole over %s", (protocol) => {
  const api = () => userApi(srv, protocol);
  const key = () => privateApi(srv, protocol);

  async function withRoomRole(s: Scene, role: string, roomId = s.privateRoom): Promise<TestUser> {
    const u = await createTestUser(srv);
    await api().grantRole({ spaceId: s.spaceId, roomId, targetUserId: u.userId, role }, as(s.owner.token));
    return u;
  }

  it("the owner removes a room role: the member loses the room's permissions on the very next call; audited and announced", async () => {
    const s = await scene(srv);
    const member = await withRoomRole(s, "role_room_user");
    expect(await granted(member.token, s.privateRoom)).toContain(P.PermissionCanSendMessagesInMainThread);
    const res = await api().revokeRole(
      { spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: member.userId, reason: "left the team" },
      as(s.owner.token),
    );
    expect(await granted(member.token, s.privateRoom)).toEqual([]);
    expect(
      await rowCount(
        srv,
        roomMembers,
        and(eq(roomMembers.roomId, s.privateRoom), eq(roomMembers.userId, member.userId)),
      ),
    ).toBe(0);
    expect(await eventById(srv, res.eventId)).toMatchObject({
      type: EventType.ROLE_REVOKED,
      roomId: s.privateRoom,
      userId: member.userId,
      role: "role_room_user",
      actor: `user:${s.owner.userId}`,
      reason: "left the team",
    });
    expect(await lastAudit(srv, "role.revoke")).toMatchObject({
      actor: `user:${s.owner.userId}`,
      targetUserId: member.userId,
      roomId: s.privateRoom,
      reason: "left the team",
    });
  });

  it("a room moderator removes a member's role; a space moderator removes a room moderator's role in a public room", async () => {
    const s = await scene(srv);
    const mod = await withRoomRole(s, "role_room_moderator");
    const member = await withRoomRole(s, "role_room_user");
    await api().revokeRole({ spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: member.userId }, as(mod.token));
    expect(await granted(member.token, s.privateRoom)).toEqual([]);

    const publicMod = await withRoomRole(s, "role_room_moderator", s.publicRoom);
    expect(await granted(publicMod.token, s.publicRoom)).toContain(P.PermissionRoomKick);
    await api().revokeRole(
      { spaceId: s.spaceId, roomId: s.publicRoom, targetUserId: publicMod.userId },
      as(s.spaceMod.token),
    );
    // Not a space member: nothing else opens the room.
    expect(await granted(publicMod.token, s.publicRoom)).toEqual([]);
  });

  it("refusals write nothing: a member, equal rank, higher rank, oneself, no role, another tenant, bad input", async () => {
    const s = await scene(srv);
    const mod = await withRoomRole(s, "role_room_moderator");
    const mod2 = await withRoomRole(s, "role_room_moderator");
    const member = await withRoomRole(s, "role_room_user");
    const stranger = await createTestUser(srv);
    const foreigner = await createTestUser(srv, { tenantId: srv.otherTenantId });
    const req = (targetUserId: string, roomId = s.privateRoom) => ({ spaceId: s.spaceId, roomId, targetUserId });
    const before = await counts();
    await expectCode(api().revokeRole(req(mod.userId), as(member.token)), Code.PermissionDenied);
    await expectCode(api().revokeRole(req(member.userId), as(stranger.token)), Code.PermissionDenied);
    await expectCode(
      api().revokeRole(req(mod2.userId), as(mod.token)),
      Code.PermissionDenied,
      "the target's rank in this room is equal to or higher than yours",
    );
    await expectCode(api().revokeRole(req(mod.userId), as(mod.token)), Code.PermissionDenied);
    await expectCode(api().revokeRole(req(s.owner.userId), as(mod.token)), Code.PermissionDenied);
    // A space moderator outranks a room moderator, not the owner.
    await expectCode(api().revokeRole(req(s.owner.userId, s.publicRoom), as(s.spaceMod.token)), Code.PermissionDenied);
    await expectCode(
      api().revokeRole(req(s.spaceMod.userId, s.publicRoom), as(s.spaceMod.token)),
      Code.PermissionDenied,
    );
    await expectCode(
      api().revokeRole(req(stranger.userId), as(s.owner.token)),
      Code.FailedPrecondition,
      "the user holds no role in this room",
    );
    await expectCode(api().revokeRole(req("no-such-user"), as(s.owner.token)), Code.NotFound, "user not found");
    await expectCode(api().revokeRole(req(member.userId), as(foreigner.token)), Code.NotFound, "room not found");
    await expectCode(api().revokeRole({ ...req(member.userId), spaceId: "" }, as(s.owner.token)), Code.InvalidArgument);
    await expectCode(
      api().revokeRole({ ...req(member.userId), reason: "x".repeat(1025) }, as(s.owner.token)),
      Code.InvalidArgument,
    );
    await expectCode(api().revokeRole(req(member.userId)), Code.Unauthenticated);
    await expectCode(key().revokeRole(req(member.userId), bearer(srv.otherKey)), Code.NotFound, "room not found");
    expect(await counts()).toEqual(before);
    expect(await granted(member.token, s.privateRoom)).toContain(P.PermissionCanSendMessagesInMainThread);
  });

  it("the API key removes any room role, and a space role with room_id empty (never the owner's)", async () => {
    const s = await scene(srv);
    const mod = await withRoomRole(s, "role_room_moderator");
    const res = await key().revokeRole(
      { spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: mod.userId },
      bearer(srv.apiKey),
    );
    expect(await eventById(srv, res.eventId)).toMatchObject({
      type: EventType.ROLE_REVOKED,
      actor: `key:${keyId}`,
      role: "role_room_moderator",
    });
    expect(await granted(mod.token, s.privateRoom)).toEqual([]);

    // A space role: the space user loses the public room at once.
    expect(await granted(s.spaceUser.token, s.publicRoom)).toContain(P.PermissionCanSendMessagesInMainThread);
    const spaceRes = await key().revokeRole(
      { spaceId: s.spaceId, roomId: "", targetUserId: s.spaceUser.userId, reason: "r" },
      bearer(srv.apiKey),
    );
    expect(await eventById(srv, spaceRes.eventId)).toMatchObject({
      type: EventType.ROLE_REVOKED,
      roomId: "",
      userId: s.spaceUser.userId,
      role: "role_space_user",
    });
    expect(await spaceRoleOf(srv, s.spaceId, s.spaceUser.userId)).toBeUndefined();
    expect(await granted(s.spaceUser.token, s.publicRoom)).toEqual([]);

    const before = await counts();
    await expectCode(
      key().revokeRole({ spaceId: s.spaceId, roomId: "", targetUserId: s.owner.userId }, bearer(srv.apiKey)),
      Code.FailedPrecondition,
    );
    await expectCode(
      key().revokeRole({ spaceId: s.spaceId, roomId: "", targetUserId: s.spaceUser.userId }, bearer(srv.apiKey)),
      Code.FailedPrecondition,
    );
    await expectCode(
      key().revokeRole({ spaceId: s.spaceId, roomId: "", targetUserId: s.spaceMod.userId }, bearer(srv.otherKey)),
      Code.NotFound,
    );
    await expectCode(
      key().revokeRole({ spaceId: "", roomId: "", targetUserId: s.spaceMod.userId }, bearer(srv.apiKey)),
      Code.InvalidArgument,
    );
    expect(await counts()).toEqual(before);
  });
});

describe.each(PROTOCOLS)("RevokeInvite over %s", (protocol) => {
  const api = () => userApi(srv, protocol);
  const key = () => privateApi(srv, protocol);

  it("the owner revokes an unused invite: it never activates; listed as revoked; audited and announced", async () => {
    const s = await scene(srv);
    const { id } = await api().createInvite({ spaceId: s.spaceId, role: "role_space_user" }, as(s.owner.token));
    const res = await api().revokeInvite(
      { spaceId: s.spaceId, inviteId: id, reason: "sent to the wrong person" },
      as(s.owner.token),
    );
    expect(await eventById(srv, res.eventId)).toMatchObject({
      type: EventType.INVITE_REVOKED,
      role: "role_space_user",
      actor: `user:${s.owner.userId}`,
      spaceId: s.spaceId,
      inviteId: id,
    });
    expect(await lastAudit(srv, "invite.revoke")).toMatchObject({
      target: id,
      actor: `user:${s.owner.userId}`,
      reason: "sent to the wrong person",
    });
    const u = await createTestUser(srv);
    await expectCode(
      api().activateInvite({ spaceId: s.spaceId, inviteId: id }, as(u.token)),
      Code.FailedPrecondition,
      "invite revoked",
    );
    expect(await spaceRoleOf(srv, s.spaceId, u.userId)).toBeUndefined();
    const listed = await api().listInvites({ spaceId: s.spaceId }, as(s.owner.token));
    expect(listed.invites.find((i) => i.id === id)).toMatchObject({ state: InviteState.REVOKED, usedBy: "" });
    // The key revokes too.
    const second = await key().createInvite({ spaceId: s.spaceId, role: "role_space_moderator" }, bearer(srv.apiKey));
    const keyRes = await key().revokeInvite({ spaceId: s.spaceId, inviteId: second.id }, bearer(srv.apiKey));
    expect(await eventById(srv, keyRes.eventId)).toMatchObject({
      type: EventType.INVITE_REVOKED,
      actor: `key:${keyId}`,
    });
  });

  it("refusals write nothing: used, already revoked, not the owner, another tenant, unknown, bad input", async () => {
    const s = await scene(srv);
    const used = await api().createInvite({ spaceId: s.spaceId, role: "role_space_user" }, as(s.owner.token));
    await api().activateInvite({ spaceId: s.spaceId, inviteId: used.id }, as((await createTestUser(srv)).token));
    const revoked = await api().createInvite({ spaceId: s.spaceId, role: "role_space_user" }, as(s.owner.token));
    await api().revokeInvite({ spaceId: s.spaceId, inviteId: revoked.id }, as(s.owner.token));
    const open = await api().createInvite({ spaceId: s.spaceId, role: "role_space_user" }, as(s.owner.token));
    const foreigner = await createTestUser(srv, { tenantId: srv.otherTenantId });
    const before = await counts();
    const req = (inviteId: string) => ({ spaceId: s.spaceId, inviteId });
    await expectCode(
      api().revokeInvite(req(used.id), as(s.owner.token)),
      Code.FailedPrecondition,
      "invite already used",
    );
    await expectCode(
      api().revokeInvite(req(revoked.id), as(s.owner.token)),
      Code.FailedPrecondition,
      "invite already revoked",
    );
    await expectCode(api().revokeInvite(req(open.id), as(s.spaceMod.token)), Code.PermissionDenied);
    await expectCode(api().revokeInvite(req(open.id), as(s.spaceUser.token)), Code.PermissionDenied);
    await expectCode(api().revokeInvite(req(open.id), as(foreigner.token)), Code.NotFound, "space not found");
    await expectCode(key().revokeInvite(req(open.id), bearer(srv.otherKey)), Code.NotFound, "space not found");
    await expectCode(api().revokeInvite(req("nope"), as(s.owner.token)), Code.NotFound, "invite not found");
    await expectCode(api().revokeInvite(req(""), as(s.owner.token)), Code.InvalidArgument);
    expect(await counts()).toEqual(before);
  });

  it("RevokeInvite racing ActivateInvite: exactly one wins, and the state shows which", async () => {
    const s = await scene(srv);
    for (let round = 0; round < 8; round++) {
      const { id } = await api().createInvite({ spaceId: s.spaceId, role: "role_space_user" }, as(s.owner.token));
      const users = await Promise.all([0, 1, 2].map(() => createTestUser(srv)));
      const calls = [
        api().revokeInvite({ spaceId: s.spaceId, inviteId: id }, as(s.owner.token)),
        key().revokeInvite({ spaceId: s.spaceId, inviteId: id }, bearer(srv.apiKey)),
        ...users.map((u) => api().activateInvite({ spaceId: s.spaceId, inviteId: id }, as(u.token))),
      ];
      const results = await Promise.allSettled(calls);
      const won = results.filter((r) => r.status === "fulfilled");
      expect(won).toHaveLength(1);
      for (const r of results) {
        if (r.status === "rejected") expect(Code[(r.reason as ConnectError).code]).toBe(Code[Code.FailedPrecondition]);
      }
      const row = await srv.h.rows.get<{ usedBy: string | null; revokedAt: unknown }>(
        sql`select used_by as "usedBy", revoked_at as "revokedAt" from invites where id = ${id}`,
      );
      const winner = results.findIndex((r) => r.status === "fulfilled");
      const members = await Promise.all(users.map((u) => spaceRoleOf(srv, s.spaceId, u.userId)));
      if (winner < 2) {
        expect(row).toMatchObject({ usedBy: null });
        expect(row!.revokedAt).not.toBeNull();
        expect(members.filter((m) => m !== undefined)).toHaveLength(0);
      } else {
        expect(row).toMatchObject({ usedBy: users[winner - 2]!.userId, revokedAt: null });
        expect(members.filter((m) => m !== undefined)).toHaveLength(1);
      }
    }
  });
});

describe.each(PROTOCOLS)("LeaveSpace and invites for a held role over %s", (protocol) => {
  const api = () => userApi(srv, protocol);

  it("a member leaves: the space role goes, public rooms close at once; audited and announced", async () => {
    const s = await scene(srv);
    expect(await granted(s.spaceUser.token, s.publicRoom)).not.toEqual([]);
    const res = await api().leaveSpace({ spaceId: s.spaceId }, as(s.spaceUser.token));
    expect(await spaceRoleOf(srv, s.spaceId, s.spaceUser.userId)).toBeUndefined();
    expect(await granted(s.spaceUser.token, s.publicRoom)).toEqual([]);
    expect(await eventById(srv, res.eventId)).toMatchObject({
      type: EventType.MEMBER_LEFT,
      userId: s.spaceUser.userId,
      role: "role_space_user",
      actor: `user:${s.spaceUser.userId}`,
      spaceId: s.spaceId,
    });
    expect(await lastAudit(srv, "member.leave")).toMatchObject({ target: s.spaceId, targetUserId: s.spaceUser.userId });
    // Listed no more.
    const mine = await api().listSpaces({}, as(s.spaceUser.token));
    expect(mine.spaces.map((x) => x.id)).not.toContain(s.spaceId);
  });

  it("refusals write nothing: the owner, a non-member, an unknown space, another tenant, a link guest", async () => {
    const s = await scene(srv);
    const stranger = await createTestUser(srv);
    const foreigner = await createTestUser(srv, { tenantId: srv.otherTenantId });
    const guestToken = srv.h.userTokens.issue({
      tenantId: srv.tenantId,
      userId: s.spaceUser.userId,
      roomId: s.publicRoom,
      ttlSeconds: 60,
    }).token;
    const before = await counts();
    await expectCode(
      api().leaveSpace({ spaceId: s.spaceId }, as(s.owner.token)),
      Code.FailedPrecondition,
      "the space owner cannot leave the space",
    );
    await expectCode(
      api().leaveSpace({ spaceId: s.spaceId }, as(stranger.token)),
      Code.FailedPrecondition,
      "you are not a member of this space",
    );
    await expectCode(api().leaveSpace({ spaceId: "nope" }, as(s.spaceUser.token)), Code.NotFound);
    await expectCode(api().leaveSpace({ spaceId: s.spaceId }, as(foreigner.token)), Code.NotFound);
    await expectCode(api().leaveSpace({ spaceId: s.spaceId }, as(guestToken)), Code.PermissionDenied);
    await expectCode(api().leaveSpace({ spaceId: "" }, as(s.spaceUser.token)), Code.InvalidArgument);
    expect(await counts()).toEqual(before);
  });

  it("an invite for a role held or outranked is failed_precondition, stays unused, and still works for someone else", async () => {
    const s = await scene(srv);
    for (const [holder, role] of [
      [s.spaceUser, "role_space_user"],
      [s.spaceMod, "role_space_user"],
      [s.spaceMod, "role_space_moderator"],
      [s.owner, "role_space_moderator"],
    ] as const) {
      const { id } = await api().createInvite({ spaceId: s.spaceId, role }, as(s.owner.token));
      const before = await counts();
      await expectCode(
        api().activateInvite({ spaceId: s.spaceId, inviteId: id }, as(holder.token)),
        Code.FailedPrecondition,
      );
      expect(await counts()).toEqual(before);
      const listed = await api().listInvites({ spaceId: s.spaceId, pageSize: 1 }, as(s.owner.token));
      expect(listed.invites[0]).toMatchObject({ id, state: InviteState.UNUSED });
      const other = await createTestUser(srv);
      await api().activateInvite({ spaceId: s.spaceId, inviteId: id }, as(other.token));
      expect(await spaceRoleOf(srv, s.spaceId, other.userId)).toBe(role);
    }
    // A raise still works: a space user accepting a moderator invite.
    const { id } = await api().createInvite({ spaceId: s.spaceId, role: "role_space_moderator" }, as(s.owner.token));
    await api().activateInvite({ spaceId: s.spaceId, inviteId: id }, as(s.spaceUser.token));
    expect(await spaceRoleOf(srv, s.spaceId, s.spaceUser.userId)).toBe("role_space_moderator");
  });
});

describe("space-level events name their space and invite on the wire", () => {
  it("a Watch (gRPC) receives INVITE_REVOKED with space_id and invite_id, MEMBER_LEFT with space_id", async () => {
    const s = await scene(srv);
    const { id: inviteId } = await privateApi(srv, "grpc").createInvite(
      { spaceId: s.spaceId, role: "role_space_user" },
      bearer(srv.apiKey),
    );
    const stop = new AbortController();
    const watchers = srv.h.bus.size;
    const watch = createClient(Events, grpcTransport(srv.baseUrl)).watch(
      {},
      { ...bearer(srv.apiKey), signal: stop.signal },
    );
    const got: Array<{ type: EventType; spaceId: string; inviteId: string; userId: string }> = [];
    const reading = (async () => {
      try {
        for await (const res of watch) {
          const e = res.event!;
          if (e.spaceId === s.spaceId)
            got.push({ type: e.type, spaceId: e.spaceId, inviteId: e.inviteId, userId: e.userId });
          if (got.length === 2) stop.abort();
        }
      } catch (err) {
        if (!stop.signal.aborted) throw err;
      }
    })();
    // The watch is subscribed before the writes.
    await vi.waitFor(() => expect(srv.h.bus.size).toBe(watchers + 1), { timeout: 10_000, interval: 5 });
    await privateApi(srv, "grpc").revokeInvite({ spaceId: s.spaceId, inviteId }, bearer(srv.apiKey));
    await userApi(srv, "grpc").leaveSpace({ spaceId: s.spaceId }, as(s.spaceUser.token));
    await reading;
    expect(got).toEqual([
      { type: EventType.INVITE_REVOKED, spaceId: s.spaceId, inviteId, userId: "" },
      { type: EventType.MEMBER_LEFT, spaceId: s.spaceId, inviteId: "", userId: s.spaceUser.userId },
    ]);
  });
});
