import { Code, createClient, type Client } from "@connectrpc/connect";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as ConsumerPrivate } from "../../gen/room/consumer/private/v1/service_pb.js";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as TokensPrivate } from "../../gen/room/tokens/private/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { auditLog, events, roomMembers, spaceMembers } from "../../src/store/schema.js";
import { bearer, connectTransport, expectCode, grpcTransport } from "../support/clients.js";
import { credential, getRoomPermissionsRest, memberToken, permissionsClient } from "../support/permissions-fixtures.js";
import { scene, type Scene } from "../support/scenes.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { accessClient, as, rowCount, spacesClient, spacesPrivateClient } from "../support/spaces-clients.js";

// Issue 9, the users side: DeleteUser. A deleted user loses access at once —
// user access token, session cookie, room member tokens — cannot log in or
// be found, holds no role, its links stop, and its name is free again.

let srv: TestServer;
let grpc: Client<typeof UsersPrivate>;
let json: Client<typeof UsersPrivate>;
let account: Client<typeof Users>;
let tokens: Client<typeof TokensPrivate>;
let consumer: Client<typeof ConsumerPrivate>;

beforeAll(async () => {
  srv = await startTestServer({
    env: {
      ROOMGATE_LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS: "100000",
      ROOMGATE_LOGIN_ATTEMPTS_PER_SECOND_PER_TENANT: "10000",
      ROOMGATE_LOGIN_FAILURES_PER_MINUTE: "0",
      ROOMGATE_LOGIN_ACCOUNT_FAILURES_PER_MINUTE: "0",
    },
  });
  grpc = createClient(UsersPrivate, grpcTransport(srv.baseUrl));
  json = createClient(UsersPrivate, connectTransport(srv.baseUrl));
  account = createClient(Users, connectTransport(srv.baseUrl));
  tokens = createClient(TokensPrivate, grpcTransport(srv.baseUrl));
  consumer = createClient(ConsumerPrivate, grpcTransport(srv.baseUrl));
});
afterAll(async () => {
  await srv?.close();
});

const key = () => bearer(srv.apiKey);

let seq = 0;
/** A registered user, logged in: its access token doubles as the session cookie. */
async function loggedIn() {
  seq++;
  const body = {
    email: `d${seq}@example.com`,
    username: `Doomed ${seq}`,
    password: `pw-${seq}-secret`,
    phone: "+79671234567",
  };
  const { id } = await grpc.createUser(body, key());
  const res = await fetch(`${srv.baseUrl}/room.users.v1.Service/Login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ tenantId: srv.tenantId, username: body.username, password: body.password }),
  });
  expect(res.status).toBe(200);
  const cookie = /roomgate_session=([^;]+)/.exec(res.headers.get("set-cookie") ?? "")![1]!;
  const { accessToken } = (await res.json()) as { accessToken: string };
  return { id, ...body, token: accessToken, cookie };
}

/** The stored row of a user (deleted ones included). */
async function userRow(id: string) {
  return srv.h.rows.get(
    sql`select kind as "kind", username as "username", username_key as "usernameKey", email as "email", password_hash as "passwordHash",
               phone as "phone", external_user_id as "externalUserId", unique_user_identifier as "uui", profile_pic as "profilePic",
               meta as "meta", tenant_moderator as "tenantModerator"
        from users where id = ${id}`,
  );
}

/** A deleted row: the id and nothing personal. */
function expectScrubbed(row: Record<string, unknown> | undefined): void {
  expect(row).toBeDefined();
  expect({ ...row, tenantModerator: Boolean(row!.tenantModerator) }).toEqual({
    kind: "deleted",
    username: "",
    usernameKey: null,
    email: null,
    passwordHash: null,
    phone: null,
    externalUserId: null,
    uui: null,
    profilePic: null,
    meta: null,
    tenantModerator: false,
  });
}

/** Everything a refused call must not have written. */
async function snapshot() {
  const rows = await srv.h.rows.all(sql`select * from users order by id`);
  return {
    rows: JSON.stringify(rows),
    audit: await rowCount(srv, auditLog),
    events: await rowCount(srv, events),
    members: await rowCount(srv, roomMembers),
    revocations: Number((await srv.h.rows.get(sql`select count(*) as "n" from revocations`))?.n),
  };
}

/** A member of a scene with a space role, a room moderator role, a room member token and a link it made (redeemed by a guest). */
async function memberWithEverything(s: Scene) {
  const u = await loggedIn();
  const api = spacesClient(srv);
  const { id: inviteId } = await api.createInvite({ spaceId: s.spaceId, role: "role_space_user" }, as(s.owner.token));
  await api.activateInvite({ spaceId: s.spaceId, inviteId }, as(u.token));
  await api.grantRole(
    { spaceId: s.spaceId, roomId: s.privateRoom, targetUserId: u.id, role: "role_room_moderator" },
    as(s.owner.token),
  );
  const link = await api.generateAccess(
    { spaceId: s.spaceId, roomId: s.privateRoom, username: "Guest", role: "user", isPermanent: true },
    as(u.token),
  );
  const guest = await accessClient(srv).redeem({ accessToken: link.accessToken });
  const member = await memberToken(srv, u.id, s.privateRoom, [P.PermissionChatMute]);
  // Everything works before.
  await permissionsClient(srv).getRoomPermissions({ roomId: s.privateRoom }, as(u.token));
  await permissionsClient(srv).getRoomPermissions({ roomId: s.privateRoom }, as(guest.accessToken));
  await tokens.verify({ token: member }, key());
  expect((await getRoomPermissionsRest(srv, s.privateRoom, credential.cookie(u.cookie))).status).toBe(200);
  return { ...u, link, guest, member };
}

describe("DeleteUser", () => {
  for (const [name, client] of [
    ["Connect JSON", () => json],
    ["gRPC", () => grpc],
  ] as const) {
    it(`${name}: every credential is refused right after it returns; no roles, no login, not found; the name is free again`, async () => {
      const s = await scene(srv);
      const u = await memberWithEverything(s);
      const audit = await rowCount(srv, auditLog);

      const { eventId } = await client().deleteUser({ userId: u.id, reason: "left the company" }, key());

      // Tokens, cookie, room member token: refused at once (same replica, no wait).
      await expectCode(grpc.verifyAccessToken({ token: u.token }, key()), Code.Unauthenticated, "token revoked");
      await expectCode(
        permissionsClient(srv).getRoomPermissions({ roomId: s.privateRoom }, as(u.token)),
        Code.Unauthenticated,
      );
      await expectCode(
        permissionsClient(srv).getRoomPermissions({ roomId: s.publicRoom }, { headers: credential.cookie(u.cookie) }),
        Code.Unauthenticated,
      );
      expect((await getRoomPermissionsRest(srv, s.privateRoom, credential.cookie(u.cookie))).status).toBe(401);
      await expectCode(tokens.verify({ token: u.member }, key()), Code.Unauthenticated, "token revoked");
      await expectCode(
        permissionsClient(srv).getRoomPermissions({ roomId: s.privateRoom }, as(u.member)),
        Code.Unauthenticated,
      );
      // The link it made no longer redeems; its guest lost the room.
      await expectCode(
        accessClient(srv).redeem({ accessToken: u.link.accessToken }),
        Code.FailedPrecondition,
        "access link revoked",
      );
      await expectCode(
        permissionsClient(srv).getRoomPermissions({ roomId: s.privateRoom }, as(u.guest.accessToken)),
        Code.Unauthenticated,
      );
      // No login, not found, not listed, no roles.
      await expectCode(
        account.login({ tenantId: srv.tenantId, username: u.username, password: u.password }),
        Code.Unauthenticated,
      );
      await expectCode(grpc.getUser({ userId: u.id }, key()), Code.NotFound);
      expect((await grpc.listUsers({ pageSize: 500 }, key())).users.map((x) => x.id)).not.toContain(u.id);
      expect(await rowCount(srv, roomMembers, eq(roomMembers.userId, u.id))).toBe(0);
      expect(await rowCount(srv, spaceMembers, eq(spaceMembers.userId, u.id))).toBe(0);
      expect(await rowCount(srv, roomMembers, eq(roomMembers.userId, u.guest.userId))).toBe(0);
      expectScrubbed(await userRow(u.id));

      // Recorded: USER_DELETED last, carrying the revocation as its effects.
      const stored = await srv.h.rows.get(
        sql`select type as "type", user_id as "userId", reason as "reason", effects as "effects" from events where id = ${Number(eventId)}`,
      );
      expect(stored).toMatchObject({ type: EventType.USER_DELETED, userId: u.id, reason: "left the company" });
      expect(JSON.parse(String(stored!.effects))).toEqual({
        revocations: [{ kind: "user", tenantId: srv.tenantId, userId: u.id, at: expect.any(Number) }],
      });
      expect(Number((await srv.h.rows.get(sql`select max(id) as "m" from events`))?.m)).toBe(Number(eventId));
      const roleGone = await srv.h.journal.eventsAfter(srv.tenantId, s.privateRoom, Number(eventId) - 10, 20);
      expect(
        roleGone.some(
          (e) => e.type === EventType.ROLE_REVOKED && e.userId === u.id && e.role === "role_room_moderator",
        ),
      ).toBe(true);
      const actions = (
        await srv.h.rows.all(
          sql`select action as "action" from audit_log where id > 0 order by id desc limit ${(await rowCount(srv, auditLog)) - audit}`,
        )
      ).map((r) => r.action);
      expect(actions).toContain("user.delete");
      expect(actions).toContain("access_link.revoke");

      // The username and email are free again: a new user takes them and logs in.
      const again = await grpc.createUser(
        { username: u.username.toUpperCase(), email: u.email, password: "brand-new-secret" },
        key(),
      );
      expect(again.id).not.toBe(u.id);
      expect(
        (await account.login({ tenantId: srv.tenantId, username: u.username, password: "brand-new-secret" })).userId,
      ).toBe(again.id);
      // The space it joined and the rooms it was in still stand.
      await permissionsClient(srv).getRoomPermissions({ roomId: s.publicRoom }, as(s.owner.token));
    });
  }

  it("refusals write nothing: twice is not_found, another tenant not_found, a bad id or long reason invalid_argument", async () => {
    const u = await loggedIn();
    await grpc.deleteUser({ userId: u.id }, key());
    const other = await loggedIn();
    const before = await snapshot();
    for (const client of [json, grpc]) {
      await expectCode(client.deleteUser({ userId: u.id }, key()), Code.NotFound, `user ${u.id} not found`);
      await expectCode(client.deleteUser({ userId: other.id }, bearer(srv.otherKey)), Code.NotFound);
      await expectCode(client.deleteUser({ userId: "nobody" }, key()), Code.NotFound);
      await expectCode(client.deleteUser({ userId: "" }, key()), Code.InvalidArgument);
      await expectCode(client.deleteUser({ userId: other.id, reason: "x".repeat(1025) }, key()), Code.InvalidArgument);
      await expectCode(client.deleteUser({ userId: other.id }, bearer("not-a-key")), Code.Unauthenticated);
      await expectCode(client.updateUser({ userId: u.id, meta: "x" }, key()), Code.NotFound);
    }
    expect(await snapshot()).toEqual(before);
    // The other user was untouched.
    await grpc.verifyAccessToken({ token: other.token }, key());
  });

  it("a deleted user is no user for the spaces calls: a role granted to it is not_found, and nothing is written", async () => {
    const u = await loggedIn();
    const s = await scene(srv);
    await grpc.deleteUser({ userId: u.id }, key());
    const before = await rowCount(srv, roomMembers);
    await expectCode(
      spacesPrivateClient(srv).grantRole(
        { spaceId: s.spaceId, roomId: s.publicRoom, targetUserId: u.id, role: "role_room_user" },
        key(),
      ),
      Code.NotFound,
      "user not found",
    );
    await expectCode(
      spacesClient(srv).grantRole(
        { spaceId: s.spaceId, roomId: s.publicRoom, targetUserId: u.id, role: "role_room_user" },
        as(s.owner.token),
      ),
      Code.NotFound,
    );
    expect(await rowCount(srv, roomMembers)).toBe(before);
  });

  it("seed 003 users: a tenant-wide moderator loses every room; its identifier makes a new user", async () => {
    // A room of the tenant (seed 003's chatRoom creates it).
    await consumer.createUser({ username: "bystander", chatRoom: "any-room" }, key());
    const first = await consumer.createUser(
      {
        username: "mod",
        isModerator: true,
        uniqueUserIdentifier: "uui-del",
        externalUserId: "ext-del",
        meta: "m",
        profilePic: "https://example.com/p.png",
      },
      key(),
    );
    await permissionsClient(srv).getRoomPermissions({ roomId: "any-room" }, as(first.accessToken));
    await json.deleteUser({ userId: first.userId }, key());
    await expectCode(
      permissionsClient(srv).getRoomPermissions({ roomId: "any-room" }, as(first.accessToken)),
      Code.Unauthenticated,
    );
    expectScrubbed(await userRow(first.userId));
    expect((await grpc.listUsers({ externalUserId: "ext-del" }, key())).users).toEqual([]);
    const again = await consumer.createUser({ username: "mod", uniqueUserIdentifier: "uui-del" }, key());
    expect(again.userId).not.toBe(first.userId);
    await grpc.verifyAccessToken({ token: again.accessToken }, key());
  });

  it("a guest: deleting it revokes the link it redeemed", async () => {
    const s = await scene(srv);
    const link = await spacesClient(srv).generateAccess(
      { spaceId: s.spaceId, roomId: s.privateRoom, username: "G", role: "user", isPermanent: true },
      as(s.owner.token),
    );
    const guest = await accessClient(srv).redeem({ accessToken: link.accessToken });
    await grpc.deleteUser({ userId: guest.userId }, key());
    await expectCode(
      accessClient(srv).redeem({ accessToken: link.accessToken }),
      Code.FailedPrecondition,
      "access link revoked",
    );
    await expectCode(
      permissionsClient(srv).getRoomPermissions({ roomId: s.privateRoom }, as(guest.accessToken)),
      Code.Unauthenticated,
    );
    // The owner who made the link keeps working.
    await permissionsClient(srv).getRoomPermissions({ roomId: s.publicRoom }, as(s.owner.token));
  });
});

describe("DeleteUser under concurrency: never half-deleted", () => {
  it("racing logins: every token a login returned is refused afterwards, and the row is fully scrubbed", async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    let won = 0;
    let lost = 0;
    for (let round = 0; round < 3; round++) {
      const u = await loggedIn();
      // Logins spread over time, so one finishes before the deletion, some
      // are hashing while it commits, and some start after it. The delays
      // shape the race under test and synchronise nothing: whichever way
      // each login falls, the assertions below hold.
      const logins = Array.from({ length: 10 }, async (_, i) => {
        await sleep(i * 15);
        return account.login({ tenantId: srv.tenantId, username: u.username, password: u.password });
      });
      // The deletion goes in once the first login is through, while the later ones are under way.
      const deletion = logins[0]!.then(() => (round % 2 ? json : grpc).deleteUser({ userId: u.id }, key()));
      const [done, ...results] = await Promise.allSettled([deletion, ...logins]);
      expect(done.status).toBe("fulfilled");
      for (const r of results) {
        if (r.status === "fulfilled") {
          won++;
          await expectCode(grpc.verifyAccessToken({ token: r.value.accessToken }, key()), Code.Unauthenticated);
        } else {
          lost++;
          expect(Code[(r.reason as { code: Code }).code]).toBe(Code[Code.Unauthenticated]);
        }
      }
      await expectCode(
        account.login({ tenantId: srv.tenantId, username: u.username, password: u.password }),
        Code.Unauthenticated,
      );
      expectScrubbed(await userRow(u.id));
    }
    // The race spanned the deletion: logins landed on both sides of it.
    expect(won).toBeGreaterThan(0);
    expect(lost).toBeGreaterThan(0);
  });

  it("racing updates: the update lands before (and is scrubbed) or is not_found; never a half-deleted row", async () => {
    for (let round = 0; round < 4; round++) {
      const u = await loggedIn();
      const newName = `Racer ${round} ${seq}`;
      const results = await Promise.allSettled([
        grpc.updateUser(
          {
            userId: u.id,
            username: newName,
            email: `racer${round}.${seq}@example.com`,
            meta: "m",
            password: "racing-secret",
          },
          key(),
        ),
        json.deleteUser({ userId: u.id }, key()),
        json.updateUser({ userId: u.id, phone: "+15550001111", externalUserId: "racer" }, key()),
      ]);
      expect(results[1]!.status).toBe("fulfilled");
      for (const r of [results[0]!, results[2]!]) {
        if (r.status === "rejected") expect(Code[(r.reason as { code: Code }).code]).toBe(Code[Code.NotFound]);
      }
      expectScrubbed(await userRow(u.id));
      // Whatever the update wrote is gone: the new name and email are free.
      await grpc.createUser(
        { username: newName, email: `racer${round}.${seq}@example.com`, password: "another-secret" },
        key(),
      );
      await expectCode(
        account.login({ tenantId: srv.tenantId, username: newName, password: "racing-secret" }),
        Code.Unauthenticated,
      );
    }
  });

  it("concurrent deletions of one user: exactly one succeeds, one USER_DELETED", async () => {
    const u = await loggedIn();
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? json : grpc).deleteUser({ userId: u.id }, key())),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results)
      if (r.status === "rejected") expect(Code[(r.reason as { code: Code }).code]).toBe(Code[Code.NotFound]);
    const deleted = await srv.h.rows.get(
      sql`select count(*) as "n" from events where type = ${EventType.USER_DELETED} and user_id = ${u.id}`,
    );
    expect(Number(deleted?.n)).toBe(1);
  });

  it("racing seed 003 logins by identifier: the old user's tokens all end; a later call makes a new user", async () => {
    const first = await consumer.createUser(
      { username: "racer", uniqueUserIdentifier: "uui-race", chatRoom: "race-room" },
      key(),
    );
    const calls = Array.from({ length: 6 }, () =>
      consumer.createUser({ uniqueUserIdentifier: "uui-race", username: "racer" }, key()),
    );
    const deletion = grpc.deleteUser({ userId: first.userId }, key());
    const [done, ...results] = await Promise.allSettled([deletion, ...calls]);
    expect(done.status).toBe("fulfilled");
    for (const r of results) {
      expect(r.status).toBe("fulfilled");
      if (r.status !== "fulfilled") continue;
      if (r.value.userId === first.userId)
        await expectCode(grpc.verifyAccessToken({ token: r.value.accessToken }, key()), Code.Unauthenticated);
      else await grpc.verifyAccessToken({ token: r.value.accessToken }, key());
    }
    expectScrubbed(await userRow(first.userId));
    expect(await rowCount(srv, roomMembers, eq(roomMembers.userId, first.userId))).toBe(0);
  });
});
