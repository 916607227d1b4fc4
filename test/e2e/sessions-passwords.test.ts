import { Code, createClient, type Client } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { bearer, connectTransport, expectCode, grpcTransport } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { as } from "../support/spaces-clients.js";
import { createTestUser } from "../support/users.js";

// Issue 19, section 1: ChangePassword ends every other session; the API
// key's SetPassword ends all of them.

let srv: TestServer;
let admin: Client<typeof UsersPrivate>;
let account: Client<typeof Users>;
beforeAll(async () => {
  srv = await startTestServer();
  admin = createClient(UsersPrivate, grpcTransport(srv.baseUrl));
  account = createClient(Users, connectTransport(srv.baseUrl));
});
afterAll(async () => {
  await srv?.close();
});

let n = 0;
async function registered(): Promise<{ username: string; userId: string }> {
  const username = `pw-${process.pid}-${++n}-${Date.now()}`;
  const { id } = await admin.createUser(
    { email: `${username}@example.test`, username, password: "correct-horse" },
    bearer(srv.apiKey),
  );
  return { username, userId: id };
}
const login = (username: string, password = "correct-horse") =>
  account.login({ tenantId: srv.tenantId, username, password });
const verify = (token: string) => admin.verifyAccessToken({ token }, bearer(srv.apiKey));

/** The stored hash and the rows a refusal must not touch. */
async function state(userId: string): Promise<string> {
  const h = await srv.h.rows.get(sql`select password_hash as "h" from users where id = ${userId}`);
  const c = await srv.h.rows.get(sql`select count(*) as "n" from audit_log`);
  const e = await srv.h.rows.get(sql`select count(*) as "n" from user_sessions where ended_at is not null`);
  return `${String(h?.h)}|${String(c?.n)}|${String(e?.n)}`;
}

describe("ChangePassword", () => {
  it("with the old password: the new one logs in, every other session ends, this one stays", async () => {
    const u = await registered();
    const a = await login(u.username);
    const b = await login(u.username);
    const r = await account.changePassword(
      { oldPassword: "correct-horse", newPassword: "battery-staple" },
      as(a.accessToken),
    );
    expect(r.eventId).toBeGreaterThan(0n);
    await expectCode(verify(b.accessToken), Code.Unauthenticated, "token revoked");
    await expectCode(
      account.refresh({ refreshToken: b.refreshToken }),
      Code.Unauthenticated,
      "refresh token not valid",
    );
    expect((await verify(a.accessToken)).userId).toBe(u.userId);
    expect((await account.refresh({ refreshToken: a.refreshToken })).sessionId).toBe(a.sessionId);
    await expectCode(login(u.username), Code.Unauthenticated);
    expect((await login(u.username, "battery-staple")).userId).toBe(u.userId);
    const audit = await srv.h.rows.all<{ action: string }>(
      sql`select action as "action" from audit_log where target_user_id = ${u.userId} order by id`,
    );
    expect(audit.map((x) => x.action)).toEqual(["user.password_change", "session.password"]);
  });

  it("refusals have exact codes and write nothing", async () => {
    const u = await registered();
    const a = await login(u.username);
    const before = await state(u.userId);
    const change = (oldPassword: string, newPassword: string, token = a.accessToken) =>
      account.changePassword({ oldPassword, newPassword }, as(token));
    await expectCode(change("wrong-password", "battery-staple"), Code.PermissionDenied, "old_password: does not match");
    await expectCode(change("", "battery-staple"), Code.InvalidArgument, "old_password: must not be empty");
    await expectCode(
      change("correct-horse", "short"),
      Code.InvalidArgument,
      "new_password: must be at least 8 characters",
    );
    await expectCode(
      account.changePassword({ oldPassword: "correct-horse", newPassword: "battery-staple" }),
      Code.Unauthenticated,
    );
    // A user without a password (a test user seeded without one).
    const nopw = await createTestUser(srv);
    await expectCode(change("correct-horse", "battery-staple", nopw.token), Code.FailedPrecondition);
    expect(await state(u.userId)).toBe(before);
  });
});

describe("ChangePassword and Login's limits", () => {
  it("wrong old passwords count as failed logins of the account: the sixth is resource_exhausted", async () => {
    const u = await registered();
    const a = await login(u.username);
    const change = () =>
      account.changePassword({ oldPassword: "wrong-password", newPassword: "battery-staple" }, as(a.accessToken));
    // ROOMGATE_LOGIN_FAILURES_PER_MINUTE (5) per account and address.
    for (let i = 0; i < 5; i++) await expectCode(change(), Code.PermissionDenied, "old_password: does not match");
    await expectCode(change(), Code.ResourceExhausted);
    await expectCode(login(u.username), Code.ResourceExhausted);
  });
});

describe("SetPassword (API key)", () => {
  it("sets the password and ends every session of the user", async () => {
    const u = await registered();
    const a = await login(u.username);
    const b = await login(u.username);
    const r = await admin.setPassword({ userId: u.userId, password: "battery-staple" }, bearer(srv.apiKey));
    expect(r.eventId).toBeGreaterThan(0n);
    for (const s of [a, b]) {
      await expectCode(verify(s.accessToken), Code.Unauthenticated, "token revoked");
      await expectCode(
        account.refresh({ refreshToken: s.refreshToken }),
        Code.Unauthenticated,
        "refresh token not valid",
      );
    }
    expect((await login(u.username, "battery-staple")).userId).toBe(u.userId);
    expect(
      (await admin.setPassword({ userId: u.userId, password: "third-password" }, bearer(srv.apiKey))).eventId,
    ).toBeGreaterThan(0n);
  });

  it("refusals have exact codes and write nothing", async () => {
    const u = await registered();
    await login(u.username);
    const before = await state(u.userId);
    const set = (userId: string, password: string, key = srv.apiKey) =>
      admin.setPassword({ userId, password }, bearer(key));
    await expectCode(set(u.userId, "battery-staple", srv.otherKey), Code.NotFound);
    await expectCode(set("no-such-user", "battery-staple"), Code.NotFound);
    await expectCode(set("", "battery-staple"), Code.InvalidArgument);
    await expectCode(set(u.userId, "short"), Code.InvalidArgument, "password: must be at least 8 characters");
    await expectCode(admin.setPassword({ userId: u.userId, password: "battery-staple" }), Code.Unauthenticated);
    expect(await state(u.userId)).toBe(before);
  });
});

describe("UpdateUser (API key) with a password", () => {
  it("ends every session of the user, as SetPassword does; an update without a password ends none", async () => {
    const u = await registered();
    const kept = await login(u.username);
    await admin.updateUser({ userId: u.userId, phone: "+79671234567" }, bearer(srv.apiKey));
    expect((await verify(kept.accessToken)).userId).toBe(u.userId);

    const other = await login(u.username);
    const r = await admin.updateUser({ userId: u.userId, password: "battery-staple" }, bearer(srv.apiKey));
    expect(r.eventId).toBeGreaterThan(0n);
    for (const s of [kept, other]) {
      await expectCode(verify(s.accessToken), Code.Unauthenticated, "token revoked");
      await expectCode(
        account.refresh({ refreshToken: s.refreshToken }),
        Code.Unauthenticated,
        "refresh token not valid",
      );
    }
    expect((await login(u.username, "battery-staple")).userId).toBe(u.userId);
  });
});
