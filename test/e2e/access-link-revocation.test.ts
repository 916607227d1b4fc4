import * as grpc from "@grpc/grpc-js";
import { Code, createClient } from "@connectrpc/connect";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { fromBinary } from "@bufbuild/protobuf";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RoomAccessDenied_Reason, RoomAccessDeniedSchema } from "../../gen/room/errors/v1/errors_pb.js";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { Action as PrivateAction } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as TokensPrivate } from "../../gen/room/tokens/private/v1/service_pb.js";
import { auditLog, roomMembers } from "../../src/store/schema.js";
import {
  bearer,
  expectCode,
  grpcAuth,
  grpcErrorOf,
  grpcTokensClient,
  grpcTransport,
  grpcUnary,
} from "../support/clients.js";
import { memberToken, permissionsClient } from "../support/permissions-fixtures.js";
import { expectRoomAccessDenied } from "../support/room-access.js";
import { moderationPrivateClient, scene, type Scene } from "../support/scenes.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { accessClient, as, rowCount, spacesClient, spacesPrivateClient } from "../support/spaces-clients.js";
import { createTestUser } from "../support/users.js";

// Issue 7, point 2: access links can be listed and revoked, and every way
// out (RevokeAccessLink, RevokeRoom, RevokeUser, kick, room block) covers
// links and the guests they created.

let offset = 0;
const clock = () => Date.now() + offset;
const tick = () => {
  offset += 5;
};
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ clock });
});
afterAll(async () => {
  await srv?.close();
});

const api = () => spacesClient(srv);
const tokens = () => createClient(TokensPrivate, grpcTransport(srv.baseUrl));

/** A permanent link to the scene's private room, made by the owner (its creator). */
async function permanentLink(s: Scene, username = "Guest") {
  return api().generateAccess(
    { spaceId: s.spaceId, roomId: s.privateRoom, username, role: "user", isPermanent: true },
    as(s.owner.token),
  );
}

/** Redeems and checks the guest token works in the room. */
async function redeemWorking(accessToken: string) {
  const r = await accessClient(srv).redeem({ accessToken });
  const perms = await permissionsClient(srv).getRoomPermissions({ roomId: r.roomId }, as(r.accessToken));
  expect(perms.roomPermissions!.granted).toContain(P.PermissionCanSendMessagesInMainThread);
  return r;
}

describe("RevokeAccessLink and ListAccessLinks", () => {
  it("end user (Connect) and API key (gRPC): list newest first in pages; revoke ends the link and the guest's access", async () => {
    const s = await scene(srv);
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await permanentLink(s, `Guest ${i}`));
    const redeemed = await redeemWorking(made[4]!.accessToken);

    // Pages of two: no gaps, no repeats, newest first, no token shown.
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await api().listAccessLinks(
        { spaceId: s.spaceId, roomId: s.privateRoom, pageSize: 2, pageToken },
        as(s.owner.token),
      );
      expect(page.links.length).toBeLessThanOrEqual(2);
      seen.push(...page.links.map((l) => l.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(seen).toEqual(made.map((m) => m.linkId).reverse());
    const viaKey = await spacesPrivateClient(srv).listAccessLinks(
      { spaceId: s.spaceId, roomId: s.privateRoom },
      bearer(srv.apiKey),
    );
    expect(viaKey.links.map((l) => l.id)).toEqual(seen);
    expect(viaKey.links[0]).toMatchObject({
      username: "Guest 4",
      role: "user",
      isPermanent: true,
      createdBy: `user:${s.owner.userId}`,
      guestUserId: redeemed.userId,
      useCount: 1,
    });
    expect(Object.keys(viaKey.links[0]!)).not.toContain("accessToken");

    // Revoke the redeemed one (end user) and another (API key).
    const before = await rowCount(srv, auditLog);
    const res = await api().revokeAccessLink(
      { spaceId: s.spaceId, roomId: s.privateRoom, linkId: made[4]!.linkId, reason: "leaked" },
      as(s.owner.token),
    );
    const e = (await srv.h.journal.eventsAfter(srv.tenantId, undefined, Number(res.eventId) - 1, 1))[0]!;
    expect(e).toMatchObject({
      type: EventType.TOKEN_REVOKED,
      tokenId: made[4]!.linkId,
      userId: redeemed.userId,
      roomId: s.privateRoom,
      reason: "leaked",
    });
    // One audit for the revocation, one for the guest's role removal.
    expect(await rowCount(srv, auditLog)).toBe(before + 2);
    await spacesPrivateClient(srv).revokeAccessLink(
      { spaceId: s.spaceId, roomId: s.privateRoom, linkId: made[3]!.linkId },
      bearer(srv.apiKey),
    );

    await expectCode(
      accessClient(srv).redeem({ accessToken: made[4]!.accessToken }),
      Code.FailedPrecondition,
      "access link revoked",
    );
    await expectCode(
      accessClient(srv).redeem({ accessToken: made[3]!.accessToken }),
      Code.FailedPrecondition,
      "access link revoked",
    );
    await expectCode(
      permissionsClient(srv).getRoomPermissions({ roomId: s.privateRoom }, as(redeemed.accessToken)),
      Code.Unauthenticated,
      "token revoked",
    );
    expect(await rowCount(srv, roomMembers, eq(roomMembers.userId, redeemed.userId))).toBe(0);
    // Twice is failed_precondition and writes nothing.
    const again = await rowCount(srv, auditLog);
    await expectCode(
      api().revokeAccessLink({ spaceId: s.spaceId, roomId: s.privateRoom, linkId: made[4]!.linkId }, as(s.owner.token)),
      Code.FailedPrecondition,
    );
    expect(await rowCount(srv, auditLog)).toBe(again);
    const listed = await api().listAccessLinks({ spaceId: s.spaceId, roomId: s.privateRoom }, as(s.owner.token));
    expect(
      listed.links
        .filter((l) => l.revokedAt !== undefined)
        .map((l) => l.id)
        .sort(),
    ).toEqual([made[3]!.linkId, made[4]!.linkId].sort());
    // The others still redeem.
    await redeemWorking(made[0]!.accessToken);
  });

  it("who may: the room's creator, a room moderator, the link's creator, the API key; not a member, not another tenant", async () => {
    const s = await scene(srv);
    const l = await permanentLink(s);
    const member = await createTestUser(srv);
    await api().grantRole(
      { spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: member.userId, role: "role_room_user" },
      as(s.owner.token),
    );
    const req = { spaceId: s.spaceId, roomId: s.privateRoom, linkId: l.linkId };
    await expectCode(
      api().listAccessLinks({ spaceId: s.spaceId, roomId: s.privateRoom }, as(member.token)),
      Code.PermissionDenied,
    );
    await expectCode(api().revokeAccessLink(req, as(member.token)), Code.PermissionDenied);
    await expectCode(api().revokeAccessLink(req, as(s.spaceMod.token)), Code.PermissionDenied);
    await expectCode(spacesPrivateClient(srv).revokeAccessLink(req, bearer(srv.otherKey)), Code.NotFound);
    await expectCode(
      spacesPrivateClient(srv).listAccessLinks({ spaceId: s.spaceId, roomId: s.privateRoom }, bearer(srv.otherKey)),
      Code.NotFound,
    );
    await expectCode(api().revokeAccessLink({ ...req, linkId: "nope" }, as(s.owner.token)), Code.InvalidArgument);
    await expectCode(api().revokeAccessLink({ ...req, linkId: "0".repeat(32) }, as(s.owner.token)), Code.NotFound);
    await expectCode(
      api().listAccessLinks({ spaceId: s.spaceId, roomId: s.privateRoom, pageToken: "bogus" }, as(s.owner.token)),
      Code.InvalidArgument,
    );
    const stored = await srv.h.rows.get(sql`select revoked_at as "revokedAt" from access_links where id = ${l.linkId}`);
    expect(stored?.revokedAt).toBeNull();
    // A room moderator who is not the room's creator may.
    const mod = await createTestUser(srv);
    await api().grantRole(
      { spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: mod.userId, role: "role_room_moderator" },
      as(s.owner.token),
    );
    await api().revokeAccessLink(req, as(mod.token));
  });

  it("concurrent revocations of one link: exactly one succeeds", async () => {
    const s = await scene(srv);
    const l = await permanentLink(s);
    await redeemWorking(l.accessToken);
    const before = await rowCount(srv, auditLog);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () =>
        api().revokeAccessLink({ spaceId: s.spaceId, roomId: s.privateRoom, linkId: l.linkId }, as(s.owner.token)),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(await rowCount(srv, auditLog)).toBe(before + 2);
  });
});

describe("every way out covers links made before it", () => {
  it("RevokeRoom: a permanent link made before it no longer redeems; its guest token is refused; a new link works", async () => {
    const s = await scene(srv);
    const l = await permanentLink(s);
    const guest = await redeemWorking(l.accessToken);
    tick();
    await tokens().revokeRoom({ roomId: s.privateRoom }, bearer(srv.apiKey));
    tick();
    await expectCode(
      accessClient(srv).redeem({ accessToken: l.accessToken }),
      Code.FailedPrecondition,
      "access link revoked",
    );
    await expectCode(
      permissionsClient(srv).getRoomPermissions({ roomId: s.privateRoom }, as(guest.accessToken)),
      Code.Unauthenticated,
      "token revoked",
    );
    // RevokeRoom resets every credential for the room, the owner's too: with a fresh one, a new link works.
    await expectRoomAccessDenied(permanentLink(s), "removed", s.privateRoom);
    const fresh = srv.h.userTokens.issue({ tenantId: srv.tenantId, userId: s.owner.userId, ttlSeconds: 600 }).token;
    await redeemWorking((await permanentLink({ ...s, owner: { ...s.owner, token: fresh } })).accessToken);
  });

  it("RevokeUser of the guest: the link no longer redeems for them", async () => {
    const s = await scene(srv);
    const l = await permanentLink(s);
    const guest = await redeemWorking(l.accessToken);
    tick();
    await tokens().revokeUser({ userId: guest.userId }, bearer(srv.apiKey));
    tick();
    await expectCode(
      accessClient(srv).redeem({ accessToken: l.accessToken }),
      Code.FailedPrecondition,
      "access link revoked",
    );
    await expectCode(
      permissionsClient(srv).getRoomPermissions({ roomId: s.privateRoom }, as(guest.accessToken)),
      Code.Unauthenticated,
      "token revoked",
    );
  });

  it("a kick of the guest: the link made before it no longer redeems; their token loses the room", async () => {
    const s = await scene(srv);
    const l = await permanentLink(s);
    const guest = await redeemWorking(l.accessToken);
    tick();
    await moderationPrivateClient(srv).act(
      { action: PrivateAction.ROOM_KICK, roomId: s.privateRoom, targetUserId: guest.userId },
      bearer(srv.apiKey),
    );
    tick();
    await expectCode(
      accessClient(srv).redeem({ accessToken: l.accessToken }),
      Code.FailedPrecondition,
      "access link revoked",
    );
    await expectCode(
      permissionsClient(srv).getRoomPermissions({ roomId: s.privateRoom }, as(guest.accessToken)),
      Code.Unauthenticated,
      "token revoked",
    );
  });

  it("a room block of the guest: Redeem refused with the block's detail until it is lifted", async () => {
    const s = await scene(srv);
    const l = await permanentLink(s);
    const guest = await redeemWorking(l.accessToken);
    await moderationPrivateClient(srv).act(
      { action: PrivateAction.ROOM_BLOCK, roomId: s.privateRoom, targetUserId: guest.userId },
      bearer(srv.apiKey),
    );
    await expectRoomAccessDenied(
      accessClient(srv).redeem({ accessToken: l.accessToken }),
      "room_blocked",
      s.privateRoom,
      null,
    );
    await expectRoomAccessDenied(
      permissionsClient(srv).getRoomPermissions({ roomId: s.privateRoom }, as(guest.accessToken)),
      "room_blocked",
      s.privateRoom,
    );
    await moderationPrivateClient(srv).act(
      { action: PrivateAction.ROOM_UNBLOCK, roomId: s.privateRoom, targetUserId: guest.userId },
      bearer(srv.apiKey),
    );
    await redeemWorking(l.accessToken);
  });
});

describe("grpc-js sees the room block detail in grpc-status-details-bin", () => {
  it("Verify of a room-blocked member: PERMISSION_DENIED (7) with a google.rpc.Status carrying RoomAccessDenied", async () => {
    const s = await scene(srv);
    const tok = await memberToken(srv, s.spaceUser.userId, s.publicRoom, [P.PermissionMessaging]);
    await moderationPrivateClient(srv).act(
      { action: PrivateAction.ROOM_BLOCK, roomId: s.publicRoom, targetUserId: s.spaceUser.userId },
      bearer(srv.apiKey),
    );
    const client = grpcTokensClient(`127.0.0.1:${srv.port}`);
    try {
      const err = await grpcErrorOf(grpcUnary(client, "Verify", { token: tok }, grpcAuth(srv.apiKey)));
      expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
      const [bin] = err.metadata.get("grpc-status-details-bin") as Buffer[];
      expect(bin).toBeDefined();
      const detail = anyDetails(new Uint8Array(bin!)).find((d) =>
        d.typeUrl.endsWith("room.errors.v1.RoomAccessDenied"),
      );
      expect(detail).toBeDefined();
      const msg = fromBinary(RoomAccessDeniedSchema, detail!.value);
      expect(msg.reason).toBe(RoomAccessDenied_Reason.ROOM_BLOCKED);
      expect(msg.roomId).toBe(s.publicRoom);
    } finally {
      client.close();
    }
  });
});

/** The `details` (google.protobuf.Any) of an encoded google.rpc.Status, read field by field. */
function anyDetails(status: Uint8Array): { typeUrl: string; value: Uint8Array }[] {
  const out: { typeUrl: string; value: Uint8Array }[] = [];
  const r = new BinaryReader(status);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field !== 3) {
      r.skip(wire);
      continue;
    }
    const any = new BinaryReader(r.bytes());
    let typeUrl = "";
    let value: Uint8Array = new Uint8Array();
    while (any.pos < any.len) {
      const [f, w] = any.tag();
      if (f === 1) typeUrl = any.string();
      else if (f === 2) value = any.bytes();
      else any.skip(w);
    }
    out.push({ typeUrl, value });
  }
  return out;
}
