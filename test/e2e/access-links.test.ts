import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { accessLinks, users } from "../../src/store/schema.js";
import { bool } from "../../src/store/database-port.js";
import { bearer, expectCode, grpcTransport, tokensClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { accessClient, as, rowCount, spacesClient } from "../support/spaces-clients.js";
import { createTestUser, type TestUser } from "../support/users.js";

// The server's clock runs `offset` ms ahead of real time; expiry tests move it.
let offset = 0;
const now = () => Date.now() + offset;
const PUBLIC_URL = "https://meet.example.test";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ clock: now, env: { ROOMGATE_PUBLIC_URL: `${PUBLIC_URL}/` } });
});
afterAll(async () => {
  await srv?.close();
});

const api = () => spacesClient(srv);
const access = () => accessClient(srv);
const guestCount = () => rowCount(srv, users, eq(users.kind, "guest"));

type LinkRow = {
  tenantId: string;
  roomId: string;
  username: string;
  role: string;
  externalUserId: string;
  isPermanent: unknown;
  expiresAt: number;
  createdBy: string;
  createdAt: number;
  guestUserId: string | null;
  useCount: number;
};

/** An access link as stored (SQL both stores accept; the boolean read the same on both). */
async function linkRow(id: string) {
  const row = await srv.h.rows.get<LinkRow>(
    sql`select tenant_id as "tenantId", room_id as "roomId", username as "username", role as "role", external_user_id as "externalUserId",
               is_permanent as "isPermanent", expires_at as "expiresAt", created_by as "createdBy", created_at as "createdAt",
               guest_user_id as "guestUserId", use_count as "useCount"
        from access_links where id = ${id}`,
  );
  return row === undefined ? undefined : { ...row, isPermanent: bool(row.isPermanent) };
}

interface Room {
  owner: TestUser;
  spaceId: string;
  roomId: string;
  /** Created the room (a space moderator, so distinct from the owner). */
  creator: TestUser;
}

/** A space whose room was created by a space moderator, not by the owner. */
async function room(): Promise<Room> {
  const owner = await createTestUser(srv);
  const creator = await createTestUser(srv);
  const { id: spaceId } = await api().createSpace({ name: "Links", isPublic: false }, as(owner.token));
  const { id: inviteId } = await api().createInvite({ spaceId, role: "role_space_moderator" }, as(owner.token));
  await api().activateInvite({ spaceId, inviteId }, as(creator.token));
  const { id: roomId } = await api().createRoom({ spaceId, name: "Stage" }, as(creator.token));
  return { owner, spaceId, roomId, creator };
}

async function link(
  r: Room,
  extra: { role?: string; ttl?: number; isPermanent?: boolean; username?: string; externalUserId?: string } = {},
) {
  return api().generateAccess(
    {
      spaceId: r.spaceId,
      roomId: r.roomId,
      username: extra.username ?? "JohnSmith",
      role: extra.role ?? "user",
      ...extra,
    },
    as(r.creator.token),
  );
}

/** The link id: the access-link token's id. */
function linkIdOf(token: string): string {
  return srv.h.linkTokens.verify(token).tokenId;
}

describe("GenerateAccess", () => {
  it("the room's creator gets a link carrying participantName and accessToken", async () => {
    const r = await room();
    const before = now();
    const res = await api().generateAccess(
      {
        spaceId: r.spaceId,
        roomId: r.roomId,
        username: "John Smith & co",
        role: "moderator",
        externalUserId: "ext_42-A",
        ttl: 3600,
        isPermanent: true,
      },
      as(r.creator.token),
    );
    const url = new URL(res.link);
    expect(`${url.origin}${url.pathname}`).toBe(`${PUBLIC_URL}/join/${r.roomId}`);
    expect(url.searchParams.get("participantName")).toBe("John Smith & co");
    expect(url.searchParams.get("accessToken")).toBe(res.accessToken);
    expect(res.link).toContain("participantName=John%20Smith%20%26%20co&accessToken=");
    expect(res.participantName).toBe("John Smith & co");
    expect(res.accessToken).toMatch(/^[A-Za-z0-9_-]+$/);
    const expiresAt = timestampDate(res.expiresAt!).getTime();
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(expiresAt).toBeLessThanOrEqual(now() + 3_600_000);

    const claims = srv.h.linkTokens.verify(res.accessToken);
    expect(claims.tokenId).toMatch(/^[0-9a-f]{32}$/);
    expect(claims.roomId).toBe(r.roomId);
    expect(claims.expiresAt).toBe(expiresAt);
    expect(await linkRow(claims.tokenId)).toMatchObject({
      tenantId: srv.tenantId,
      roomId: r.roomId,
      username: "John Smith & co",
      role: "moderator",
      externalUserId: "ext_42-A",
      isPermanent: true,
      expiresAt,
      createdBy: r.creator.userId,
      guestUserId: null,
      useCount: 0,
    });
  });

  it("ttl defaults to 86400 s", async () => {
    const r = await room();
    const res = await link(r);
    const row = (await linkRow(linkIdOf(res.accessToken)))!;
    expect(row.expiresAt - row.createdAt).toBe(86_400_000);
    expect(row.isPermanent).toBe(false);
  });

  it("a room moderator who did not create the room may generate", async () => {
    const r = await room();
    const mod = await createTestUser(srv);
    await api().grantRole(
      { spaceId: r.spaceId, roomId: r.roomId, targetUserId: mod.userId, role: "role_room_moderator" },
      as(r.owner.token),
    );
    const res = await api().generateAccess(
      { spaceId: r.spaceId, roomId: r.roomId, username: "Guest", role: "user" },
      as(mod.token),
    );
    expect((await linkRow(linkIdOf(res.accessToken)))?.createdBy).toBe(mod.userId);
  });

  it("the space owner who is neither creator nor room moderator is permission_denied, and so are others; nothing is written", async () => {
    const r = await room();
    const spaceMod = await createTestUser(srv);
    const { id: inviteId } = await api().createInvite(
      { spaceId: r.spaceId, role: "role_space_moderator" },
      as(r.owner.token),
    );
    await api().activateInvite({ spaceId: r.spaceId, inviteId }, as(spaceMod.token));
    const roomUser = await createTestUser(srv);
    await api().grantRole(
      { spaceId: r.spaceId, roomId: r.roomId, targetUserId: roomUser.userId, role: "role_room_user" },
      as(r.owner.token),
    );

    const before = await rowCount(srv, accessLinks);
    for (const u of [r.owner, spaceMod, roomUser, await createTestUser(srv)]) {
      await expectCode(
        api().generateAccess({ spaceId: r.spaceId, roomId: r.roomId, username: "x", role: "user" }, as(u.token)),
        Code.PermissionDenied,
        "only the room's creator or a room moderator may generate access links",
      );
    }
    expect(await rowCount(srv, accessLinks)).toBe(before);
  });

  it("bad input is invalid_argument and writes nothing", async () => {
    const r = await room();
    const before = await rowCount(srv, accessLinks);
    const cases: [Parameters<typeof link>[1], string | RegExp][] = [
      [{ role: "admin" }, "role must be user or moderator"],
      [{ role: "role_room_user" }, "role must be user or moderator"],
      [{ role: "" }, "role must be user or moderator"],
      [{ username: "" }, "username: must not be empty"],
      [{ username: "x".repeat(65) }, /username: at most 64/],
      [{ externalUserId: "has space" }, /external_user_id/],
      [{ externalUserId: "ünïcode" }, /external_user_id/],
      [{ externalUserId: "x".repeat(129) }, /external_user_id/],
      [{ ttl: 30 * 86_400 + 1 }, /ttl: 2592001 exceeds the maximum/],
    ];
    for (const [extra, message] of cases) await expectCode(link(r, extra), Code.InvalidArgument, message);
    await link(r, { username: "x".repeat(64), externalUserId: "x".repeat(128), ttl: 30 * 86_400 });
    expect(await rowCount(srv, accessLinks)).toBe(before + 1);
  });

  it("an unknown room or the wrong space is not_found", async () => {
    const r = await room();
    await expectCode(
      api().generateAccess({ spaceId: r.spaceId, roomId: "nope", username: "x", role: "user" }, as(r.creator.token)),
      Code.NotFound,
      "room not found",
    );
    await expectCode(
      api().generateAccess({ spaceId: "other", roomId: r.roomId, username: "x", role: "user" }, as(r.creator.token)),
      Code.NotFound,
      "room not found",
    );
  });
});

describe("Redeem", () => {
  it("gives a user access token scoped to the room, a guest user and the link's role", async () => {
    const r = await room();
    const generated = await link(r, { role: "moderator", username: "Jane", externalUserId: "crm-7" });
    const guestsBefore = await guestCount();
    const res = await access().redeem({ accessToken: generated.accessToken });

    expect(res.roomId).toBe(r.roomId);
    expect(res.participantName).toBe("Jane");
    const claims = srv.h.userTokens.verify(res.accessToken);
    expect(claims.userId).toBe(res.userId);
    expect(claims.roomId).toBe(r.roomId);
    expect(claims.tenantId).toBe(srv.tenantId);
    // A one-day link: the token lives as long as the link, at most 24 h.
    expect(timestampDate(res.expiresAt!).getTime()).toBe(claims.expiresAt);
    expect(claims.expiresAt).toBeLessThanOrEqual((await linkRow(linkIdOf(generated.accessToken)))!.expiresAt);

    expect(await guestCount()).toBe(guestsBefore + 1);
    const guest = await srv.h.rows.get(
      sql`select tenant_id as "tenantId", kind as "kind", username as "username", external_user_id as "externalUserId", password_hash as "passwordHash"
          from users where id = ${res.userId}`,
    );
    expect(guest).toMatchObject({
      tenantId: srv.tenantId,
      kind: "guest",
      username: "Jane",
      externalUserId: "crm-7",
      passwordHash: null,
    });
    expect((await srv.h.memberships.roomRolesOf(srv.tenantId, res.userId, r.roomId)).roomRole).toBe("moderator");
    expect(await linkRow(linkIdOf(generated.accessToken))).toMatchObject({ guestUserId: res.userId, useCount: 1 });
  });

  it("caps the token at 24 h for a longer link", async () => {
    const r = await room();
    const generated = await link(r, { ttl: 7 * 86_400 });
    const res = await access().redeem({ accessToken: generated.accessToken });
    const claims = srv.h.userTokens.verify(res.accessToken);
    expect(claims.expiresAt - claims.issuedAt).toBe(86_400_000);
  });

  it("the guest's token acts only in its room: a guest moderator can link others there, but not create spaces", async () => {
    const r = await room();
    const res = await access().redeem({ accessToken: (await link(r, { role: "moderator" })).accessToken });
    const other = await api().generateAccess(
      { spaceId: r.spaceId, roomId: r.roomId, username: "Friend", role: "user" },
      as(res.accessToken),
    );
    expect((await linkRow(linkIdOf(other.accessToken)))?.createdBy).toBe(res.userId);
    await expectCode(
      api().createSpace({ name: "mine" }, as(res.accessToken)),
      Code.PermissionDenied,
      "this access token is limited to one room",
    );
  });

  it("a one-time link works once: the second redemption is failed_precondition and creates nobody", async () => {
    const r = await room();
    const { accessToken } = await link(r);
    await access().redeem({ accessToken });
    const guests = await guestCount();
    await expectCode(access().redeem({ accessToken }), Code.FailedPrecondition, "access link already used");
    expect(await guestCount()).toBe(guests);
    expect((await linkRow(linkIdOf(accessToken)))?.useCount).toBe(1);
  });

  it("20 concurrent redemptions of a one-time link: exactly one succeeds", async () => {
    const r = await room();
    const { accessToken } = await link(r);
    const guests = await guestCount();
    const h2 = accessClient(srv, "2");
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => h2.redeem({ accessToken })));
    expect(results.filter((x) => x.status === "fulfilled")).toHaveLength(1);
    const failed = results.filter((x): x is PromiseRejectedResult => x.status === "rejected");
    expect(failed).toHaveLength(19);
    for (const f of failed) {
      expect(f.reason).toBeInstanceOf(ConnectError);
      expect(Code[(f.reason as ConnectError).code]).toBe(Code[Code.FailedPrecondition]);
      expect((f.reason as ConnectError).rawMessage).toBe("access link already used");
    }
    expect(await guestCount()).toBe(guests + 1);
    expect((await linkRow(linkIdOf(accessToken)))?.useCount).toBe(1);
  });

  it("a permanent link is reusable within ttl by the same guest user", async () => {
    const r = await room();
    const { accessToken } = await link(r, { isPermanent: true, ttl: 600 });
    const guests = await guestCount();
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) ids.add((await access().redeem({ accessToken })).userId);
    expect(ids.size).toBe(1);
    expect(await guestCount()).toBe(guests + 1);
    expect(await linkRow(linkIdOf(accessToken))).toMatchObject({ useCount: 3, guestUserId: [...ids][0] });
  });

  it("an expired link is failed_precondition (one-time and permanent alike) and creates nobody", async () => {
    const r = await room();
    const once = await link(r, { ttl: 60 });
    const permanent = await link(r, { ttl: 60, isPermanent: true });
    const onceId = linkIdOf(once.accessToken);
    const first = await access().redeem({ accessToken: permanent.accessToken });
    // A link with 10 s left yields a token that lives 10 s, not 24 h.
    offset += 50_000;
    const late = await access().redeem({ accessToken: permanent.accessToken });
    expect(late.userId).toBe(first.userId);
    const lateClaims = srv.h.userTokens.verify(late.accessToken);
    expect(lateClaims.expiresAt - lateClaims.issuedAt).toBeLessThanOrEqual(10_000);
    offset += 11_000;
    const guests = await guestCount();
    await expectCode(
      access().redeem({ accessToken: once.accessToken }),
      Code.FailedPrecondition,
      "access link expired",
    );
    await expectCode(
      access().redeem({ accessToken: permanent.accessToken }),
      Code.FailedPrecondition,
      "access link expired",
    );
    expect(await guestCount()).toBe(guests);
    expect((await linkRow(onceId))?.useCount).toBe(0);
  });
});

describe("token kinds are never interchangeable", () => {
  it("an access-link token is not a user access token nor a room member token", async () => {
    const r = await room();
    const { accessToken } = await link(r);
    await expectCode(api().createSpace({ name: "x" }, as(accessToken)), Code.Unauthenticated, "invalid token");
    await expectCode(
      api().generateAccess({ spaceId: r.spaceId, roomId: r.roomId, username: "x", role: "user" }, as(accessToken)),
      Code.Unauthenticated,
    );
    const tokens = tokensClient(grpcTransport(srv.baseUrl));
    await expectCode(tokens.verify({ token: accessToken }, bearer(srv.apiKey)), Code.Unauthenticated, "invalid token");
    // Refusing it did not use it up.
    await access().redeem({ accessToken });
  });

  it("a user access token or a room member token is not an access-link token", async () => {
    const r = await room();
    const guests = await guestCount();
    await expectCode(access().redeem({ accessToken: r.creator.token }), Code.Unauthenticated, "invalid token");
    const redeemed = await access().redeem({ accessToken: (await link(r)).accessToken });
    await expectCode(access().redeem({ accessToken: redeemed.accessToken }), Code.Unauthenticated, "invalid token");
    const { tokens } = await tokensClient(grpcTransport(srv.baseUrl)).create(
      { arguments: [{ userId: "u", roomId: r.roomId, permissions: [Permission.PermissionRoomKick] }] },
      bearer(srv.apiKey),
    );
    await expectCode(access().redeem({ accessToken: tokens[0]! }), Code.Unauthenticated, "invalid token");
    await expectCode(access().redeem({ accessToken: "garbage" }), Code.Unauthenticated, "invalid token");
    await expectCode(access().redeem({ accessToken: "" }), Code.InvalidArgument, "access_token: must not be empty");
    expect(await guestCount()).toBe(guests + 1);
  });
});
