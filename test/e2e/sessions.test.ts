import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { bearer, connectTransport, expectCode, grpcTransport } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { as } from "../support/spaces-clients.js";

// Issue 19, section 1: sessions that end. Login starts a session with a
// short access token and a refresh token; Refresh rotates; Logout, the
// session lists and RevokeSession end one.

let offset = 0;
const clock = () => Date.now() + offset;
let srv: TestServer;
let admin: Client<typeof UsersPrivate>;
let account: Client<typeof Users>;
beforeAll(async () => {
  srv = await startTestServer({ clock });
  admin = createClient(UsersPrivate, grpcTransport(srv.baseUrl));
  account = createClient(Users, connectTransport(srv.baseUrl));
});
afterAll(async () => {
  await srv?.close();
});

/** Moves the server's clock on, so what is issued next is strictly newer than a revocation before it. */
const tick = () => {
  offset += 5;
};

let n = 0;
/** A registered user with a password; returns its username and id. */
async function registered(): Promise<{ username: string; userId: string }> {
  const username = `sess-${process.pid}-${++n}-${Date.now()}`;
  const { id } = await admin.createUser(
    { email: `${username}@example.test`, username, password: "correct-horse" },
    bearer(srv.apiKey),
  );
  return { username, userId: id };
}

const login = (username: string) => account.login({ tenantId: srv.tenantId, username, password: "correct-horse" });
const verify = (token: string) => admin.verifyAccessToken({ token }, bearer(srv.apiKey));

/** Rows of the session tables and the audit log, to show a refused call wrote nothing. */
async function written(): Promise<string> {
  const q = (t: string) => srv.h.rows.get<{ n: unknown }>(sql.raw(`select count(*) as "n" from ${t}`));
  const counts = await Promise.all(["user_sessions", "refresh_tokens", "audit_log", "revocations"].map(q));
  return counts.map((c) => String(c?.n)).join(",");
}

/** POSTs Connect JSON; returns status, body and Set-Cookie headers. */
async function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    json: (await res.json()) as Record<string, unknown>,
    cookies: res.headers.getSetCookie(),
  };
}

describe("Login starts a session", () => {
  it("returns a 15-minute access token whose token id is the session, and a refresh token (body and cookie)", async () => {
    const u = await registered();
    const t0 = clock();
    const res = await postJson(
      "/room.users.v1.Service/Login",
      { tenantId: srv.tenantId, username: u.username, password: "correct-horse" },
      { "user-agent": "sessions-test/1" },
    );
    expect(res.status).toBe(200);
    const body = res.json as { accessToken: string; refreshToken: string; sessionId: string; expiresAt: string };
    expect(Object.keys(body).sort()).toEqual(["accessToken", "expiresAt", "refreshToken", "sessionId", "userId"]);
    expect(Date.parse(body.expiresAt)).toBeGreaterThanOrEqual(t0 + 900_000);
    expect(Date.parse(body.expiresAt)).toBeLessThanOrEqual(clock() + 900_000);
    expect(res.cookies).toEqual([
      `roomgate_session=${body.accessToken}; Path=/; HttpOnly; SameSite=Lax; Max-Age=900`,
      `roomgate_refresh=${body.refreshToken}; Path=/room.users.v1.Service/Refresh; HttpOnly; SameSite=Strict; Max-Age=2592000`,
    ]);
    const v = await verify(body.accessToken);
    expect(v.tokenId).toBe(body.sessionId);
    const { sessions } = await account.listSessions({}, as(body.accessToken));
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({
      id: body.sessionId,
      userId: u.userId,
      userAgent: "sessions-test/1",
      current: true,
    });
    expect(sessions[0]!.clientAddress).toMatch(/127\.0\.0\.1/);
    expect(timestampMs(sessions[0]!.expiresAt!)).toBe(timestampMs(sessions[0]!.lastUsedAt!) + 30 * 86_400_000);
    // Only a hash of the refresh token is stored.
    const rows = await srv.h.rows.all(sql`select * from refresh_tokens`);
    expect(JSON.stringify(rows)).not.toContain(body.refreshToken.slice(4));
  });
});

describe("Refresh rotates", () => {
  it("issues new tokens of the same session; the body's token or the cookie works, each once", async () => {
    const u = await registered();
    const first = await login(u.username);
    const second = await account.refresh({ refreshToken: first.refreshToken });
    expect(second.sessionId).toBe(first.sessionId);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect((await verify(second.accessToken)).userId).toBe(u.userId);
    // By cookie, as a browser sends it (Connect JSON, no body token).
    const res = await postJson(
      "/room.users.v1.Service/Refresh",
      {},
      { cookie: `roomgate_refresh=${second.refreshToken}` },
    );
    expect(res.status).toBe(200);
    expect(res.json["sessionId"]).toBe(first.sessionId);
    expect(res.cookies[1]).toMatch(/^roomgate_refresh=rt1_/);
    expect((await verify(res.json["accessToken"] as string)).tokenId).toBe(first.sessionId);
  });

  it("a used refresh token presented again ends the whole session, audited as session.reuse", async () => {
    const u = await registered();
    const first = await login(u.username);
    const second = await account.refresh({ refreshToken: first.refreshToken });
    await expectCode(
      account.refresh({ refreshToken: first.refreshToken }),
      Code.Unauthenticated,
      "refresh token not valid",
    );
    // The whole family: the newest access and refresh tokens stop too.
    await expectCode(verify(second.accessToken), Code.Unauthenticated, "token revoked");
    await expectCode(
      account.refresh({ refreshToken: second.refreshToken }),
      Code.Unauthenticated,
      "refresh token not valid",
    );
    const audit = await srv.h.rows.all<{ action: string; actor: string }>(
      sql`select action as "action", actor as "actor" from audit_log where target = ${first.sessionId}`,
    );
    expect(audit).toEqual([{ action: "session.reuse", actor: "system" }]);
    tick();
    const again = await login(u.username);
    expect((await account.listSessions({}, as(again.accessToken))).sessions.map((s) => s.id)).toEqual([
      again.sessionId,
    ]);
  });

  it("refuses bad input with exact codes and writes nothing", async () => {
    const before = await written();
    await expectCode(account.refresh({ refreshToken: "" }), Code.InvalidArgument, "refresh_token: must not be empty");
    await expectCode(account.refresh({ refreshToken: "rt1_nope" }), Code.Unauthenticated, "refresh token not valid");
    await expectCode(
      account.refresh({ refreshToken: "x".repeat(5000) }),
      Code.Unauthenticated,
      "refresh token not valid",
    );
    // An access token is not a refresh token.
    const u = await registered();
    const s = await login(u.username);
    const mid = await written();
    await expectCode(account.refresh({ refreshToken: s.accessToken }), Code.Unauthenticated, "refresh token not valid");
    expect(await written()).toBe(mid);
    expect(before).not.toBe(mid);
  });
});

describe("Logout", () => {
  it("ends the presented session (access and refresh) and clears both cookies; other sessions stay", async () => {
    const u = await registered();
    const a = await login(u.username);
    const b = await login(u.username);
    const res = await postJson("/room.users.v1.Service/Logout", {}, { authorization: `Bearer ${a.accessToken}` });
    expect(res.status).toBe(200);
    expect(Number(res.json["eventId"])).toBeGreaterThan(0);
    expect(res.cookies).toEqual([
      "roomgate_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
      "roomgate_refresh=; Path=/room.users.v1.Service/Refresh; HttpOnly; SameSite=Strict; Max-Age=0",
    ]);
    await expectCode(verify(a.accessToken), Code.Unauthenticated, "token revoked");
    await expectCode(
      account.refresh({ refreshToken: a.refreshToken }),
      Code.Unauthenticated,
      "refresh token not valid",
    );
    await expectCode(account.logout({}, as(a.accessToken)), Code.Unauthenticated, "token revoked");
    expect((await verify(b.accessToken)).userId).toBe(u.userId);
    expect((await account.listSessions({}, as(b.accessToken))).sessions.map((s) => s.id)).toEqual([b.sessionId]);
  });

  it("the session cookie alone logs out too; no credential is unauthenticated and writes nothing", async () => {
    const u = await registered();
    const a = await login(u.username);
    const res = await postJson("/room.users.v1.Service/Logout", {}, { cookie: `roomgate_session=${a.accessToken}` });
    expect(res.status).toBe(200);
    await expectCode(verify(a.accessToken), Code.Unauthenticated, "token revoked");
    const before = await written();
    await expectCode(account.logout({}), Code.Unauthenticated, /missing credential/);
    expect(await written()).toBe(before);
  });
});

describe("ListSessions and RevokeSession", () => {
  it("the user lists and ends their own sessions; another's or an unknown one is not_found", async () => {
    const u = await registered();
    const a = await login(u.username);
    tick();
    const b = await login(u.username);
    const listed = (await account.listSessions({}, as(a.accessToken))).sessions;
    expect(listed.map((s) => [s.id, s.current])).toEqual([
      [b.sessionId, false],
      [a.sessionId, true],
    ]);
    const other = await login((await registered()).username);
    const before = await written();
    await expectCode(account.revokeSession({ sessionId: other.sessionId }, as(a.accessToken)), Code.NotFound);
    await expectCode(account.revokeSession({ sessionId: "0".repeat(32) }, as(a.accessToken)), Code.NotFound);
    await expectCode(
      account.revokeSession({ sessionId: "nope" }, as(a.accessToken)),
      Code.InvalidArgument,
      "session_id: must be 32 lower-case hex digits",
    );
    await expectCode(account.listSessions({}), Code.Unauthenticated);
    expect(await written()).toBe(before);
    const r = await account.revokeSession({ sessionId: b.sessionId }, as(a.accessToken));
    expect(r.eventId).toBeGreaterThan(0n);
    await expectCode(verify(b.accessToken), Code.Unauthenticated, "token revoked");
    await expectCode(
      account.refresh({ refreshToken: b.refreshToken }),
      Code.Unauthenticated,
      "refresh token not valid",
    );
    expect((await account.listSessions({}, as(a.accessToken))).sessions.map((s) => s.id)).toEqual([a.sessionId]);
    await expectCode(account.revokeSession({ sessionId: b.sessionId }, as(a.accessToken)), Code.NotFound);
  });

  it("the API key lists and ends a user's sessions of its tenant only, audited with the reason", async () => {
    const u = await registered();
    const a = await login(u.username);
    const listed = await admin.listSessions({ userId: u.userId }, bearer(srv.apiKey));
    expect(listed.sessions.map((s) => s.id)).toEqual([a.sessionId]);
    expect((await admin.listSessions({ userId: u.userId }, bearer(srv.otherKey))).sessions).toEqual([]);
    const before = await written();
    await expectCode(admin.revokeSession({ sessionId: a.sessionId }, bearer(srv.otherKey)), Code.NotFound);
    await expectCode(admin.listSessions({ userId: "" }, bearer(srv.apiKey)), Code.InvalidArgument);
    await expectCode(
      admin.revokeSession({ sessionId: a.sessionId, reason: "r".repeat(1025) }, bearer(srv.apiKey)),
      Code.InvalidArgument,
    );
    expect(await written()).toBe(before);
    await admin.revokeSession({ sessionId: a.sessionId, reason: "lost laptop" }, bearer(srv.apiKey));
    await expectCode(verify(a.accessToken), Code.Unauthenticated, "token revoked");
    await expectCode(
      account.refresh({ refreshToken: a.refreshToken }),
      Code.Unauthenticated,
      "refresh token not valid",
    );
    const audit = await srv.h.rows.all<{ action: string; reason: string }>(
      sql`select action as "action", reason as "reason" from audit_log where target = ${a.sessionId}`,
    );
    expect(audit).toEqual([{ action: "session.revoke", reason: "lost laptop" }]);
    expect((await admin.listSessions({ userId: u.userId }, bearer(srv.apiKey))).sessions).toEqual([]);
  });
});

describe("a session is bounded by idleness (ROOMGATE_SESSION_TTL_SECONDS)", () => {
  it("each refresh starts the time again; unused that long, the refresh token no longer works", async () => {
    const u = await registered();
    const s = await login(u.username);
    const ttl = 30 * 86_400_000;
    offset += ttl - 1_000;
    const next = await account.refresh({ refreshToken: s.refreshToken });
    offset += ttl - 1_000;
    const last = await account.refresh({ refreshToken: next.refreshToken });
    expect(last.sessionId).toBe(s.sessionId);
    offset += ttl;
    await expectCode(
      account.refresh({ refreshToken: last.refreshToken }),
      Code.Unauthenticated,
      "refresh token not valid",
    );
    // Gone from the lists too; nothing was audited (nobody ended it).
    expect((await admin.listSessions({ userId: u.userId }, bearer(srv.apiKey))).sessions).toEqual([]);
  });
});
