import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Service as ConsumerPrivate } from "../../gen/room/consumer/private/v1/service_pb.js";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { ModeratorScope, Service as UsersPrivate, UserKind } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { createTenantWithKey } from "../../src/domain/auth/tenants.js";
import { auditLog, events, users } from "../../src/store/schema.js";
import { bearer, connectTransport, expectCode, grpcTransport } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { rowCount } from "../support/spaces-clients.js";

// Issue 9, the users side: GetUser, ListUsers and UpdateUser on
// room.users.private.v1 (API key, tenant-scoped), over Connect JSON and gRPC.

let srv: TestServer;
let grpc: Client<typeof UsersPrivate>;
let json: Client<typeof UsersPrivate>;
let consumer: Client<typeof ConsumerPrivate>;
let account: Client<typeof Users>;

beforeAll(async () => {
  srv = await startTestServer({
    env: {
      ROOMGATE_LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS: "100000",
      ROOMGATE_LOGIN_ATTEMPTS_PER_SECOND_PER_TENANT: "10000",
    },
  });
  grpc = createClient(UsersPrivate, grpcTransport(srv.baseUrl));
  json = createClient(UsersPrivate, connectTransport(srv.baseUrl));
  consumer = createClient(ConsumerPrivate, grpcTransport(srv.baseUrl));
  account = createClient(Users, connectTransport(srv.baseUrl));
});
afterAll(async () => {
  await srv?.close();
});

const key = () => bearer(srv.apiKey);
const both = () =>
  [
    ["Connect JSON", json],
    ["gRPC", grpc],
  ] as const;

let seq = 0;
/** Registers a fresh user; returns its id and what it was created with. */
async function register(extra: Partial<{ username: string; email: string; phone: string; password: string }> = {}) {
  seq++;
  const body = {
    email: `u${seq}@example.com`,
    username: `User ${seq}`,
    password: `pw-${seq}-secret`,
    phone: "",
    ...extra,
  };
  const { id } = await grpc.createUser(body, key());
  return { id, ...body };
}

/** Every write a refused call must not have made: users rows as stored, audit entries, events. */
async function snapshot() {
  const rows = await srv.h.rows.all(sql`select * from users order by id`);
  return { rows: JSON.stringify(rows), audit: await rowCount(srv, auditLog), events: await rowCount(srv, events) };
}

describe("GetUser", () => {
  it("reads back a registered user over Connect JSON and gRPC, never the password", async () => {
    const u = await register({ phone: "+79671234567" });
    for (const [name, client] of both()) {
      const { user } = await client.getUser({ userId: u.id }, key());
      expect(user, name).toMatchObject({
        id: u.id,
        kind: UserKind.REGISTERED,
        username: u.username,
        email: u.email,
        phone: "+79671234567",
        externalUserId: "",
        meta: "",
        profilePic: "",
        uniqueUserIdentifier: "",
        moderatorScope: ModeratorScope.NONE,
        moderatedRoomIds: [],
        moderatedRoomIdsTruncated: false,
        hasPassword: true,
      });
      expect(Math.abs(timestampMs(user!.createdAt!) - Date.now())).toBeLessThan(60_000);
      expect(JSON.stringify(user, (_k, v) => (typeof v === "bigint" ? String(v) : v))).not.toMatch(
        /scrypt|password_hash|passwordHash/,
      );
    }
  });

  it("reads back seed 003's meta, profilePic, externalUserId and identifier, and the moderator scope", async () => {
    const roomMod = await consumer.createUser(
      {
        username: "mod",
        chatRoom: "room-a",
        isModerator: true,
        externalUserId: "ext-1",
        meta: '{"team":"blue"}',
        profilePic: "https://example.com/p.png",
        uniqueUserIdentifier: "uui-1",
        email: "Mod@Example.com",
      },
      key(),
    );
    const { user } = await json.getUser({ userId: roomMod.userId }, key());
    expect(user).toMatchObject({
      kind: UserKind.CONSUMER,
      username: "mod",
      email: "mod@example.com",
      externalUserId: "ext-1",
      meta: '{"team":"blue"}',
      profilePic: "https://example.com/p.png",
      uniqueUserIdentifier: "uui-1",
      moderatorScope: ModeratorScope.ROOMS,
      moderatedRoomIds: ["room-a"],
      hasPassword: false,
    });
    const tenantMod = await consumer.createUser({ username: "boss", isModerator: true }, key());
    expect((await grpc.getUser({ userId: tenantMod.userId }, key())).user!.moderatorScope).toBe(ModeratorScope.TENANT);
    const plain = await consumer.createUser({ username: "viewer", chatRoom: "room-a" }, key());
    expect((await grpc.getUser({ userId: plain.userId }, key())).user).toMatchObject({
      moderatorScope: ModeratorScope.NONE,
      moderatedRoomIds: [],
    });
  });

  it("refusals: another tenant's user and an unknown id are not_found, a bad id invalid_argument", async () => {
    const u = await register();
    for (const [name, client] of both()) {
      await expectCode(client.getUser({ userId: u.id }, bearer(srv.otherKey)), Code.NotFound, `user ${u.id} not found`);
      await expectCode(client.getUser({ userId: "no-such-user" }, key()), Code.NotFound);
      await expectCode(client.getUser({ userId: "" }, key()), Code.InvalidArgument, "user_id: must not be empty");
      await expectCode(client.getUser({ userId: "a\u0000b" }, key()), Code.InvalidArgument);
      await expectCode(client.getUser({ userId: u.id }, bearer("wrong-key")), Code.Unauthenticated);
      expect(name).toBeTruthy();
    }
  });
});

describe("ListUsers", () => {
  it("pages newest first, with filters by external id, username (any case) and kind; tenant-scoped", async () => {
    const made: Awaited<ReturnType<typeof register>>[] = [];
    for (let i = 0; i < 5; i++) made.push(await register());
    const ext = await consumer.createUser(
      { username: "ext user", externalUserId: "find-me", uniqueUserIdentifier: "uui-list" },
      key(),
    );
    for (const [name, client] of both()) {
      const seen: string[] = [];
      let pageToken = "";
      do {
        const page = await client.listUsers({ pageSize: 2, pageToken }, key());
        expect(page.users.length, name).toBeLessThanOrEqual(2);
        seen.push(...page.users.map((u) => u.id));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      expect(new Set(seen).size).toBe(seen.length);
      // Newest first: the last ones made lead, in reverse order of creation.
      const ours = seen.filter((id) => made.some((m) => m.id === id));
      expect(ours).toEqual(made.map((m) => m.id).reverse());
      expect(seen).toContain(ext.userId);
      expect(seen.length).toBe(await rowCount(srv, users, eq(users.tenantId, srv.tenantId)));

      expect((await client.listUsers({ externalUserId: "find-me" }, key())).users.map((u) => u.id)).toEqual([
        ext.userId,
      ]);
      expect(
        (await client.listUsers({ username: made[2]!.username.toUpperCase() }, key())).users.map((u) => u.id),
      ).toEqual([made[2]!.id]);
      const consumers = (await client.listUsers({ kind: UserKind.CONSUMER, pageSize: 500 }, key())).users;
      expect(consumers.length).toBeGreaterThan(0);
      expect(consumers.every((u) => u.kind === UserKind.CONSUMER)).toBe(true);
      // Another tenant sees none of them.
      expect((await client.listUsers({}, bearer(srv.otherKey))).users.filter((u) => seen.includes(u.id))).toEqual([]);
      expect((await client.listUsers({ externalUserId: "find-me" }, bearer(srv.otherKey))).users).toEqual([]);
    }
  });

  it("refusals: a forged page token, an oversized page, an unknown kind, a bad filter are invalid_argument", async () => {
    for (const [, client] of both()) {
      await expectCode(
        client.listUsers({ pageToken: "bogus!" }, key()),
        Code.InvalidArgument,
        "page_token: not a token from a previous response",
      );
      await expectCode(
        client.listUsers({ pageToken: Buffer.from("12.").toString("base64url") }, key()),
        Code.InvalidArgument,
      );
      await expectCode(
        client.listUsers({ pageToken: Buffer.from("x.abc").toString("base64url") }, key()),
        Code.InvalidArgument,
      );
      await expectCode(client.listUsers({ pageSize: 501 }, key()), Code.InvalidArgument);
      await expectCode(client.listUsers({ kind: 42 as UserKind }, key()), Code.InvalidArgument);
      await expectCode(client.listUsers({ username: "a\u0001" }, key()), Code.InvalidArgument);
      await expectCode(client.listUsers({ externalUserId: "x".repeat(300) }, key()), Code.InvalidArgument);
    }
    // A misspelled kind name over JSON is refused, not dropped.
    const res = await fetch(`${srv.baseUrl}/room.users.private.v1.Service/ListUsers`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${srv.apiKey}` },
      body: JSON.stringify({ kind: "USER_KIND_REGISTRED" }),
    });
    expect(res.status).toBe(400);
  });

  it("pages without gaps or repeats while another loop creates users", async () => {
    // A tenant of its own, so only this test's users are in it.
    const t = await createTenantWithKey(srv.h.tenants, "paging", Date.now());
    const client = grpc;
    const before: string[] = [];
    for (let i = 0; i < 30; i++) {
      before.push(
        (
          await client.createUser(
            { email: `p${i}@example.com`, username: `p${i}`, password: "paging-secret" },
            bearer(t.key),
          )
        ).id,
      );
    }
    let stop = false;
    let created = 0;
    const writer = (async () => {
      while (!stop) {
        await client.createUser(
          { email: `w${created}@example.com`, username: `w${created}`, password: "paging-secret" },
          bearer(t.key),
        );
        created++;
      }
    })();
    const seen: string[] = [];
    let pageToken = "";
    try {
      do {
        const page = await client.listUsers({ pageSize: 3, pageToken }, bearer(t.key));
        seen.push(...page.users.map((u) => u.id));
        pageToken = page.nextPageToken;
        // The writer gets a turn between pages: another user is created before the next page is read.
        const made = created;
        await vi.waitFor(() => expect(created).toBeGreaterThan(made), { timeout: 10_000, interval: 1 });
      } while (pageToken !== "");
    } finally {
      stop = true;
      await writer;
    }
    expect(created).toBeGreaterThan(0);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of before) expect(seen).toContain(id);
  });
});

describe("UpdateUser", () => {
  it("changes only the fields set, over Connect JSON and gRPC; audited and announced with its event id", async () => {
    for (const [name, client] of both()) {
      const u = await register({ phone: "+79671234567" });
      const audit = await rowCount(srv, auditLog);
      const res = await client.updateUser(
        { userId: u.id, username: `${u.username} renamed`, meta: "m", externalUserId: "ext-upd" },
        key(),
      );
      expect(res.user, name).toMatchObject({
        id: u.id,
        username: `${u.username} renamed`,
        email: u.email,
        phone: "+79671234567",
        meta: "m",
        externalUserId: "ext-upd",
      });
      expect((await client.getUser({ userId: u.id }, key())).user).toEqual(res.user);
      const e = (await srv.h.journal.eventsAfter(srv.tenantId, undefined, Number(res.eventId) - 1, 1))[0]!;
      expect(e).toMatchObject({
        id: Number(res.eventId),
        type: EventType.USER_UPDATED,
        userId: u.id,
        actor: expect.stringMatching(/^key:/),
      });
      expect(await rowCount(srv, auditLog)).toBe(audit + 1);
      const entry = await srv.h.rows.get(
        sql`select action as "action", detail as "detail" from audit_log where target_user_id = ${u.id} order by id desc limit 1`,
      );
      expect(entry?.action).toBe("user.update");
      expect(JSON.parse(String(entry?.detail))).toEqual({ fields: ["username", "externalUserId", "meta"] });

      // "" clears a clearable field; the rest stays.
      const cleared = await client.updateUser({ userId: u.id, phone: "", meta: "" }, key());
      expect(cleared.user).toMatchObject({
        phone: "",
        meta: "",
        externalUserId: "ext-upd",
        username: `${u.username} renamed`,
      });
    }
  });

  it("a new username, email and password: login goes by the new ones; the old name and email are free", async () => {
    const u = await register();
    await grpc.updateUser(
      { userId: u.id, username: "Renamed Ann", email: "Renamed@Example.com", password: "new-password-1" },
      key(),
    );
    await expectCode(
      account.login({ tenantId: srv.tenantId, username: u.username, password: u.password }),
      Code.Unauthenticated,
    );
    await expectCode(
      account.login({ tenantId: srv.tenantId, username: "renamed ann", password: u.password }),
      Code.Unauthenticated,
    );
    const ok = await account.login({ tenantId: srv.tenantId, username: "RENAMED ANN", password: "new-password-1" });
    expect(ok.userId).toBe(u.id);
    expect((await grpc.getUser({ userId: u.id }, key())).user!.email).toBe("renamed@example.com");
    const reuse = await grpc.createUser({ username: u.username, email: u.email, password: "another-secret" }, key());
    expect(reuse.id).not.toBe(u.id);
    // Its own name in another case is not "taken".
    await grpc.updateUser({ userId: u.id, username: "RENAMED ann" }, key());
  });

  it("taken username (any case) or email is already_exists; bad input invalid_argument; nothing is written", async () => {
    const a = await register();
    const b = await register();
    const c = await consumer.createUser({ username: "consumer", uniqueUserIdentifier: "uui-upd" }, key());
    const cases: [string, () => Promise<unknown>, Code][] = [];
    const s0 = await snapshot();
    for (const [, client] of both()) {
      cases.push(
        [
          "username taken in another case",
          () => client.updateUser({ userId: b.id, username: a.username.toUpperCase(), meta: "x" }, key()),
          Code.AlreadyExists,
        ],
        [
          "email taken",
          () => client.updateUser({ userId: b.id, email: a.email.toUpperCase(), meta: "x" }, key()),
          Code.AlreadyExists,
        ],
        ["another tenant", () => client.updateUser({ userId: a.id, meta: "x" }, bearer(srv.otherKey)), Code.NotFound],
        ["unknown user", () => client.updateUser({ userId: "nobody", meta: "x" }, key()), Code.NotFound],
        ["empty id", () => client.updateUser({ userId: "", meta: "x" }, key()), Code.InvalidArgument],
        ["nothing set", () => client.updateUser({ userId: a.id }, key()), Code.InvalidArgument],
        [
          "empty username",
          () => client.updateUser({ userId: a.id, username: " ", meta: "x" }, key()),
          Code.InvalidArgument,
        ],
        [
          "long username",
          () => client.updateUser({ userId: a.id, username: "x".repeat(65) }, key()),
          Code.InvalidArgument,
        ],
        [
          "bad email",
          () => client.updateUser({ userId: a.id, email: "not-an-email", meta: "x" }, key()),
          Code.InvalidArgument,
        ],
        [
          "registered email cleared",
          () => client.updateUser({ userId: a.id, email: "", meta: "x" }, key()),
          Code.InvalidArgument,
        ],
        [
          "bad phone",
          () => client.updateUser({ userId: a.id, phone: "12345", meta: "x" }, key()),
          Code.InvalidArgument,
        ],
        [
          "short password",
          () => client.updateUser({ userId: a.id, password: "short", meta: "x" }, key()),
          Code.InvalidArgument,
        ],
        [
          "http picture",
          () => client.updateUser({ userId: a.id, profilePic: "http://example.com/p.png" }, key()),
          Code.InvalidArgument,
        ],
        [
          "meta too big",
          () => client.updateUser({ userId: a.id, meta: "x".repeat(4097) }, key()),
          Code.InvalidArgument,
        ],
        [
          "bad external id",
          () => client.updateUser({ userId: a.id, externalUserId: "a\u202eb" }, key()),
          Code.InvalidArgument,
        ],
        [
          "password for a consumer user",
          () => client.updateUser({ userId: c.userId, password: "long-enough-1", meta: "x" }, key()),
          Code.FailedPrecondition,
        ],
      );
    }
    for (const [what, call, code] of cases) {
      const err = await expectCode(call(), code);
      expect(err.rawMessage, what).not.toBe("");
    }
    expect(await snapshot()).toEqual(s0);
  });

  it("consumer users: username is a display name (not unique), email may be cleared", async () => {
    const a = await register();
    const c = await consumer.createUser(
      { username: "display", email: "c@example.com", uniqueUserIdentifier: "uui-disp" },
      key(),
    );
    const res = await json.updateUser(
      { userId: c.userId, username: a.username, email: "", profilePic: "https://example.com/x.png" },
      key(),
    );
    expect(res.user).toMatchObject({
      username: a.username,
      email: "",
      profilePic: "https://example.com/x.png",
      kind: UserKind.CONSUMER,
    });
  });

  it("concurrent renames to one free name: exactly one wins, the others are already_exists", async () => {
    const us: Awaited<ReturnType<typeof register>>[] = [];
    for (let i = 0; i < 6; i++) us.push(await register());
    const audit = await rowCount(srv, auditLog);
    const results = await Promise.allSettled(
      us.map((u, i) => (i % 2 ? json : grpc).updateUser({ userId: u.id, username: "Contested Name" }, key())),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results)
      if (r.status === "rejected") expect(Code[(r.reason as { code: Code }).code]).toBe(Code[Code.AlreadyExists]);
    expect(await rowCount(srv, auditLog)).toBe(audit + 1);
    const named = await srv.h.rows.all(sql`select id as "id" from users where username_key = ${"contested name"}`);
    expect(named).toHaveLength(1);
  });
});
