import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Service as Audit, type Entry, type ListRequestSchema } from "../../gen/room/audit/private/v1/service_pb.js";
import { Service as ConsumerPrivate } from "../../gen/room/consumer/private/v1/service_pb.js";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as SpacesPrivate } from "../../gen/room/spaces/private/v1/service_pb.js";
import { authenticateApiKey } from "../../src/domain/auth/api-keys.js";
import { bearer, connectTransport, expectCode, grpcTransport, tokensClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { accessClient, as, spacesClient } from "../support/spaces-clients.js";
import { createTestUser } from "../support/users.js";

// A clock the tests move: every entry's time is known exactly.
const T0 = Date.parse("2031-03-01T10:00:00.000Z");
let now = T0;
const tick = (ms = 1_000) => (now += ms);

let srv: TestServer;
let keyActor: string;
beforeAll(async () => {
  srv = await startTestServer({ clock: () => now });
  keyActor = `key:${(await authenticateApiKey(srv.h.tenants, srv.apiKey))!.keyId}`;
});
afterAll(async () => {
  await srv?.close();
});

const grpc = () => grpcTransport(srv.baseUrl);
const connectJson = () => connectTransport(srv.baseUrl);
const audit = (): Client<typeof Audit> => createClient(Audit, connectJson());
const tokens = () => tokensClient(grpc());

type ListRequestInit = Omit<MessageInitShape<typeof ListRequestSchema>, "$typeName">;

let roomSeq = 0;
const freshRoom = () => `audit-room-${++roomSeq}`;

async function list(req: ListRequestInit, key = srv.apiKey): Promise<Entry[]> {
  return (await audit().list({ pageSize: 500, ...req }, bearer(key))).entries;
}

const detail = (e: Entry) => JSON.parse(e.detailJson) as Record<string, unknown>;

describe("what the audit log records", () => {
  it("token issue: a Create of one is one token.issue entry naming the token, its user and room", async () => {
    const roomId = freshRoom();
    tick();
    const { tokens: issued } = await tokens().create(
      { arguments: [{ userId: "ann", roomId, permissions: [Permission.PermissionChatMute] }] },
      bearer(srv.apiKey),
    );
    const { tokenId } = await tokens().verify({ token: issued[0]! }, bearer(srv.apiKey));
    const [e, ...more] = await list({ roomId, action: "token.issue" });
    expect(more).toEqual([]);
    expect([e!.actor, e!.roomId, e!.targetUserId, e!.target, timestampMs(e!.time!)]).toEqual([
      keyActor,
      roomId,
      "ann",
      tokenId,
      now,
    ]);
    expect(detail(e!)).toEqual({ permissions: [Permission.PermissionChatMute], expiresAt: now + 86_400_000 });
  });

  it("token issue: a Create of several is ONE token.issue entry naming every grant, in argument order", async () => {
    const roomId = freshRoom();
    tick();
    const args = ["ann", "ben", "cat"].map((userId) => ({
      userId,
      roomId,
      permissions: [Permission.PermissionChatMute],
    }));
    const { tokens: issued } = await tokens().create({ arguments: args }, bearer(srv.apiKey));
    const ids = await Promise.all(
      issued.map(async (t) => (await tokens().verify({ token: t }, bearer(srv.apiKey))).tokenId),
    );
    const entries = await list({ roomId, action: "token.issue" });
    expect(entries).toHaveLength(1);
    const e = entries[0]!;
    // One room for all: the room column keeps it; several users: none is "the" user.
    expect([e.actor, e.roomId, e.targetUserId, e.target, timestampMs(e.time!)]).toEqual([
      keyActor,
      roomId,
      "",
      "",
      now,
    ]);
    expect(detail(e)).toEqual({
      grants: ["ann", "ben", "cat"].map((userId, i) => ({
        tokenId: ids[i],
        userId,
        roomId,
        permissions: [Permission.PermissionChatMute],
        expiresAt: now + 86_400_000,
      })),
    });
  });

  it("role grant: backend GrantRole and seed 003 users are role.grant, with the role and what it replaced", async () => {
    const roomId = freshRoom();
    await tokens().create(
      { arguments: [{ userId: "x", roomId, permissions: [Permission.PermissionChat] }] },
      bearer(srv.apiKey),
    );
    const user = await createTestUser(srv);
    const grants = createClient(SpacesPrivate, grpc());
    tick();
    await grants.grantRole({ roomId, targetUserId: user.userId, role: "role_room_user" }, bearer(srv.apiKey));
    tick();
    await grants.grantRole({ roomId, targetUserId: user.userId, role: "role_room_moderator" }, bearer(srv.apiKey));
    const [second, first] = await list({ roomId, action: "role.grant" });
    expect([first!.actor, first!.targetUserId, detail(first!).role, detail(first!).previousRole]).toEqual([
      keyActor,
      user.userId,
      "role_room_user",
      undefined,
    ]);
    expect([second!.actor, detail(second!).role, detail(second!).previousRole]).toEqual([
      keyActor,
      "role_room_moderator",
      "role_room_user",
    ]);
    expect(timestampMs(second!.time!) - timestampMs(first!.time!)).toBe(1_000);

    const consumers = createClient(ConsumerPrivate, grpc());
    const chatRoom = freshRoom();
    const mod = await consumers.createUser(
      { username: `mod-${chatRoom}`, chatRoom, isModerator: true },
      bearer(srv.apiKey),
    );
    const [c] = await list({ roomId: chatRoom, action: "role.grant" });
    expect([c!.actor, c!.targetUserId, detail(c!).role]).toEqual([keyActor, mod.userId, "consumer_room_moderator"]);
  });

  it("role grant by an end user is by user:<id>; seed 003 tenant-wide moderation is granted and revoked", async () => {
    const owner = await createTestUser(srv);
    const member = await createTestUser(srv);
    const spaces = spacesClient(srv);
    const { id: spaceId } = await spaces.createSpace({ name: "Grants", isPublic: false }, as(owner.token));
    const { id: roomId } = await spaces.createRoom({ spaceId, name: "Room" }, as(owner.token));
    await spaces.grantRole(
      { spaceId, roomId, targetUserId: member.userId, role: "role_room_moderator" },
      as(owner.token),
    );
    const [g] = await list({ roomId, action: "role.grant" });
    expect([g!.actor, g!.targetUserId, detail(g!).role]).toEqual([
      `user:${owner.userId}`,
      member.userId,
      "role_room_moderator",
    ]);

    const consumers = createClient(ConsumerPrivate, grpc());
    const uui = `tenant-mod-${Date.now()}`;
    const mod = await consumers.createUser(
      { username: uui, isModerator: true, uniqueUserIdentifier: uui },
      bearer(srv.apiKey),
    );
    await consumers.createUser({ uniqueUserIdentifier: uui, isModerator: true }, bearer(srv.apiKey)); // no change: nothing recorded
    await consumers.createUser({ uniqueUserIdentifier: uui, isModerator: false }, bearer(srv.apiKey));
    const entries = await list({ userId: mod.userId });
    expect(entries.map((e) => [e.action, e.roomId, detail(e).role, e.actor])).toEqual([
      ["role.revoke", "", "consumer_tenant_moderator", keyActor],
      ["role.grant", "", "consumer_tenant_moderator", keyActor],
    ]);
  });

  it("member join: invite activation, public join and access link redemption are member.join by the member", async () => {
    const owner = await createTestUser(srv);
    const invited = await createTestUser(srv);
    const walkIn = await createTestUser(srv);
    const spaces = spacesClient(srv);
    const { id: spaceId } = await spaces.createSpace({ name: "Club", isPublic: true }, as(owner.token));
    const { id: roomId } = await spaces.createRoom({ spaceId, name: "Bar", isPublic: true }, as(owner.token));
    const { id: inviteId } = await spaces.createInvite({ spaceId, role: "role_space_moderator" }, as(owner.token));
    tick();
    await spaces.activateInvite({ spaceId, inviteId }, as(invited.token));
    await spaces.joinRoom({ spaceId, roomId }, as(walkIn.token));
    const link = await spaces.generateAccess({ spaceId, roomId, username: "Guest", role: "user" }, as(owner.token));
    const guest = await accessClient(srv).redeem({ accessToken: link.accessToken });
    // A refused write records nothing: the used invite, a second redemption of a one-time link.
    await expectCode(
      spaces.activateInvite({ spaceId, inviteId }, as(walkIn.token)),
      Code.FailedPrecondition,
      "invite already used",
    );
    await expectCode(
      accessClient(srv).redeem({ accessToken: link.accessToken }),
      Code.FailedPrecondition,
      "access link already used",
    );

    const joins = await list({ action: "member.join", since: timestampFromMs(now) });
    const byUser = new Map(joins.map((e) => [e.targetUserId, e]));
    const inv = byUser.get(invited.userId)!;
    expect([inv.actor, inv.roomId, inv.target, detail(inv)]).toEqual([
      `user:${invited.userId}`,
      "",
      inviteId,
      { role: "role_space_moderator", via: "invite", spaceId },
    ]);
    const pub = byUser.get(walkIn.userId)!;
    expect([pub.actor, pub.roomId, detail(pub).role, detail(pub).via]).toEqual([
      `user:${walkIn.userId}`,
      roomId,
      "role_room_user",
      "public",
    ]);
    const g = byUser.get(guest.userId)!;
    expect([g.actor, g.roomId, detail(g).role, detail(g).via]).toEqual([
      `user:${guest.userId}`,
      roomId,
      "user",
      "access_link",
    ]);
    expect(joins).toHaveLength(3);
  });

  it("revocation: RevokeUser, RevokeRoom and Revoke are audited with actor, reason and target", async () => {
    const roomId = freshRoom();
    const { tokens: issued } = await tokens().create(
      { arguments: [{ userId: "dan", roomId, permissions: [Permission.PermissionChat] }] },
      bearer(srv.apiKey),
    );
    const { tokenId } = await tokens().verify({ token: issued[0]! }, bearer(srv.apiKey));
    tick();
    await tokens().revoke({ tokenId, reason: "leaked" }, bearer(srv.apiKey));
    await tokens().revokeUser({ userId: "dan", roomId, reason: "left" }, bearer(srv.apiKey));
    await tokens().revokeRoom({ roomId, reason: "closed" }, bearer(srv.apiKey));
    const entries = await list({ roomId, since: timestampFromMs(now) });
    expect(entries.map((e) => [e.action, e.actor, e.targetUserId, e.target, e.reason])).toEqual([
      ["token.revoke_room", keyActor, "", "", "closed"],
      ["token.revoke_user", keyActor, "dan", "", "left"],
      ["token.revoke", keyActor, "dan", tokenId, "leaked"],
    ]);
  });
});

describe("filters", () => {
  // Three rooms, two users, entries at three known times.
  const roomA = "filter-room-a";
  const roomB = "filter-room-b";
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  beforeAll(async () => {
    t1 = tick(60_000);
    await tokens().create(
      { arguments: [{ userId: "fay", roomId: roomA, permissions: [Permission.PermissionChat] }] },
      bearer(srv.apiKey),
    );
    t2 = tick(60_000);
    await tokens().create(
      { arguments: [{ userId: "gus", roomId: roomA, permissions: [Permission.PermissionChat] }] },
      bearer(srv.apiKey),
    );
    await tokens().revokeUser({ userId: "fay", roomId: roomB, reason: "" }, bearer(srv.apiKey));
    t3 = tick(60_000);
    await tokens().create(
      { arguments: [{ userId: "fay", roomId: roomB, permissions: [Permission.PermissionChat] }] },
      bearer(srv.apiKey),
    );
  });

  it("by room", async () => {
    expect((await list({ roomId: roomA })).map((e) => e.targetUserId)).toEqual(["gus", "fay"]);
    expect((await list({ roomId: roomB })).map((e) => e.action)).toEqual(["token.issue", "token.revoke_user"]);
  });

  it("by user", async () => {
    const fay = await list({ userId: "fay" });
    expect(fay.map((e) => [e.action, e.roomId])).toEqual([
      ["token.issue", roomB],
      ["token.revoke_user", roomB],
      ["token.issue", roomA],
    ]);
  });

  it("by action, combined with room and user", async () => {
    expect((await list({ action: "token.revoke_user", userId: "fay" })).map((e) => e.roomId)).toEqual([roomB]);
    expect(await list({ action: "token.revoke_user", roomId: roomA })).toEqual([]);
    expect(await list({ action: "no.such.action" })).toEqual([]);
  });

  it("by time: since is inclusive, until exclusive", async () => {
    const at = (es: Entry[]) => es.map((e) => timestampMs(e.time!));
    expect(at(await list({ since: timestampFromMs(t2), until: timestampFromMs(t3) }))).toEqual([t2, t2]);
    expect(at(await list({ since: timestampFromMs(t3) }))).toEqual([t3]);
    expect(at(await list({ until: timestampFromMs(t2), since: timestampFromMs(t1) }))).toEqual([t1]);
    expect(await list({ since: timestampFromMs(t3 + 1) })).toEqual([]);
    await expectCode(
      audit().list({ since: timestampFromMs(t3), until: timestampFromMs(t2) }, bearer(srv.apiKey)),
      Code.InvalidArgument,
      /until/,
    );
  });

  it("a batch entry is found by each of its rooms and users, by action and time, and by nothing else", async () => {
    const [r1, r2] = [freshRoom(), freshRoom()];
    const at = tick();
    const args = [
      { userId: "Batch-Hal", roomId: r1, permissions: [Permission.PermissionChat] },
      { userId: "batch-ivy", roomId: r2, permissions: [Permission.PermissionChat] },
      { userId: "Batch-Hal", roomId: r2, permissions: [Permission.PermissionChat] },
    ];
    await tokens().create({ arguments: args }, bearer(srv.apiKey));
    tick();
    // Several rooms and users: both columns empty, the filters find it by any of them.
    const ids = async (req: ListRequestInit) =>
      (await list(req)).filter((e) => timestampMs(e.time!) === at).map((e) => [e.roomId, e.targetUserId]);
    for (const filter of [
      { roomId: r1 },
      { roomId: r2 },
      { userId: "Batch-Hal" },
      { userId: "batch-ivy" },
      { userId: "batch-ivy", roomId: r1 },
    ]) {
      expect(await ids({ ...filter, action: "token.issue" })).toEqual([["", ""]]);
    }
    expect(await ids({ since: timestampFromMs(at), until: timestampFromMs(at + 1) })).toEqual([["", ""]]);
    // Exact and case-sensitive: no prefix, no other case, no other tenant.
    for (const filter of [
      { userId: "batch-hal" },
      { userId: "Batch-Ha" },
      { userId: "atch-ivy" },
      { roomId: r1.slice(0, -1) },
      { action: "token.revoke_user", roomId: r1 },
    ]) {
      expect(await ids(filter)).toEqual([]);
    }
    expect((await list({ userId: "Batch-Hal" }, srv.otherKey)).length).toBe(0);
    // One room, several users: the room column holds it, the user filter still finds it.
    const r3 = freshRoom();
    const at3 = tick();
    await tokens().create(
      { arguments: ["jo", "kit"].map((userId) => ({ userId, roomId: r3, permissions: [Permission.PermissionChat] })) },
      bearer(srv.apiKey),
    );
    expect((await list({ userId: "kit" })).filter((e) => timestampMs(e.time!) === at3).map((e) => e.roomId)).toEqual([
      r3,
    ]);
    // One user, several rooms: the user column holds it.
    const at4 = tick();
    await tokens().create(
      { arguments: [r1, r3].map((roomId) => ({ userId: "lea", roomId, permissions: [Permission.PermissionChat] })) },
      bearer(srv.apiKey),
    );
    const [lea] = await list({ roomId: r3, userId: "lea" });
    expect([lea!.targetUserId, lea!.roomId, timestampMs(lea!.time!)]).toEqual(["lea", "", at4]);
  });
});

describe("pagination", () => {
  it("page_size 2 walks every entry exactly once, newest first, and the last page has no token", async () => {
    tick();
    for (let i = 0; i < 7; i++) {
      await tokens().create(
        { arguments: [{ userId: `page-${i}`, roomId: "paged-room", permissions: [Permission.PermissionChat] }] },
        bearer(srv.apiKey),
      );
    }
    for (const filter of [{ roomId: "paged-room" }, {}]) {
      const all = await list(filter);
      const walked: bigint[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const res = await createClient(Audit, grpc()).list({ ...filter, pageSize: 2, pageToken }, bearer(srv.apiKey));
        expect(res.entries.length).toBeLessThanOrEqual(2);
        walked.push(...res.entries.map((e) => e.id));
        pageToken = res.nextPageToken;
        pages++;
        if (pageToken !== "") expect(res.entries).toHaveLength(2);
      } while (pageToken !== "");
      expect(walked).toEqual(all.map((e) => e.id));
      expect(new Set(walked).size).toBe(walked.length);
      expect([...walked].sort((a, b) => (a < b ? 1 : -1))).toEqual(walked);
      expect(pages).toBe(Math.ceil(all.length / 2));
    }
    expect((await list({ roomId: "paged-room" })).length).toBe(7);
  });

  it("an exactly full last page has an empty next_page_token; page_size 0 means 50", async () => {
    const a = await audit().list({ roomId: "paged-room", pageSize: 7 }, bearer(srv.apiKey));
    expect(a.entries).toHaveLength(7);
    expect(a.nextPageToken).toBe("");
    const b = await audit().list({ roomId: "paged-room", pageSize: 6 }, bearer(srv.apiKey));
    expect(b.nextPageToken).not.toBe("");
    const c = await audit().list({ roomId: "paged-room", pageToken: b.nextPageToken }, bearer(srv.apiKey));
    expect(c.entries.map((e) => e.targetUserId)).toEqual(["page-0"]);
    for (let i = 0; i < 50; i++) {
      await tokens().create(
        { arguments: [{ userId: `fifty-${i}`, roomId: "fifty-room", permissions: [Permission.PermissionChat] }] },
        bearer(srv.apiKey),
      );
    }
    await tokens().create(
      { arguments: [{ userId: "one-more", roomId: "fifty-room", permissions: [Permission.PermissionChat] }] },
      bearer(srv.apiKey),
    );
    const d = await audit().list({ roomId: "fifty-room" }, bearer(srv.apiKey));
    expect(d.entries).toHaveLength(50);
    expect(d.nextPageToken).not.toBe("");
  });

  it("a malformed page_token and page_size 501 are invalid_argument", async () => {
    const call = (req: ListRequestInit) => audit().list(req, bearer(srv.apiKey));
    for (const pageToken of [
      "!!!",
      "not a token",
      "AAAA",
      "AAAAAAAAAAA=",
      "AAAAAAAAAAA",
      "_________w",
      "x".repeat(20),
    ]) {
      await expectCode(call({ pageToken }), Code.InvalidArgument, /page_token/);
    }
    await expectCode(call({ pageSize: 501 }), Code.InvalidArgument, /page_size/);
    expect((await call({ pageSize: 500 })).entries.length).toBeGreaterThan(0);
  });
});

describe("isolation and credentials", () => {
  it("another tenant sees none of our entries, and we none of theirs", async () => {
    await tokens().create(
      { arguments: [{ userId: "own", roomId: "shared-room-id", permissions: [Permission.PermissionChat] }] },
      bearer(srv.apiKey),
    );
    await tokens().create(
      { arguments: [{ userId: "theirs", roomId: "shared-room-id", permissions: [Permission.PermissionChat] }] },
      bearer(srv.otherKey),
    );
    const ours = await list({});
    const theirs = await list({}, srv.otherKey);
    expect(theirs.map((e) => e.targetUserId)).toEqual(["theirs"]);
    expect(ours.some((e) => e.targetUserId === "theirs")).toBe(false);
    expect(ours.some((e) => e.targetUserId === "own")).toBe(true);
    expect(await list({ roomId: "paged-room" }, srv.otherKey)).toEqual([]);
    // Our cursor is refused in their tenant (issue 19: page tokens are bound to the tenant).
    const page = await audit().list({ pageSize: 1 }, bearer(srv.apiKey));
    await expectCode(audit().list({ pageToken: page.nextPageToken }, bearer(srv.otherKey)), Code.InvalidArgument);
  });

  it("a missing or wrong API key is unauthenticated", async () => {
    await expectCode(audit().list({}), Code.Unauthenticated, /missing API key/);
    await expectCode(audit().list({}, bearer("wrong-key")), Code.Unauthenticated, "invalid API key");
  });
});
