import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { eq, sql } from "drizzle-orm";
import { readFileSync } from "node:fs";
import https from "node:https";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { users } from "../../src/store/schema.js";
import {
  bearer,
  connectTransport,
  expectCode,
  expectNoStackTrace,
  grpcTransport,
  tokensClient,
  TRANSPORTS,
} from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { rowCount } from "../support/spaces-clients.js";

let srv: TestServer;
let admin: Client<typeof UsersPrivate>;
let account: Client<typeof Users>;

beforeAll(async () => {
  srv = await startTestServer();
  // Backends use gRPC (always HTTP/2 in connect-node); browsers use Connect JSON.
  admin = createClient(UsersPrivate, grpcTransport(srv.baseUrl));
  account = createClient(Users, connectTransport(srv.baseUrl));
});
afterAll(async () => {
  await srv?.close();
});

/** Rows in `users`, in one tenant or in all. */
function userCount(tenantId?: string): Promise<number> {
  return rowCount(srv, users, tenantId === undefined ? undefined : eq(users.tenantId, tenantId));
}

/** A stored user row (the columns these tests look at), read through the SQL both stores share. */
async function userRow(id: string) {
  const row = await srv.h.rows.get<{
    tenantId: string;
    kind: string;
    username: string;
    email: string;
    phone: string;
    passwordHash: string | null;
  }>(
    sql`select tenant_id as "tenantId", kind as "kind", username as "username", email as "email", phone as "phone", password_hash as "passwordHash"
        from users where id = ${id}`,
  );
  expect(row, `user ${id} is stored`).toBeDefined();
  return row!;
}

/** Runs `fn` and asserts that no user row was written meanwhile. */
async function writesNothing(fn: () => Promise<unknown>): Promise<void> {
  const before = await userCount();
  await fn();
  expect(await userCount()).toBe(before);
}

let seq = 0;
/** A valid, unused createUser body. */
function newUser(
  extra: Partial<{ email: string; username: string; password: string; phone: string; captchaToken: string }> = {},
) {
  seq++;
  return {
    email: `user${seq}@example.com`,
    username: `user ${seq}`,
    password: `pw-${seq}-secret`,
    phone: "",
    ...extra,
  };
}

/** POSTs Connect JSON with plain fetch; returns status, headers and the raw body. */
async function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe("CreateUser (backend, gRPC) then Login (browser, Connect JSON)", () => {
  it("creates a user, logs in, and the token names that user", async () => {
    const body = newUser({ email: "Jon.Smith@Example.COM", phone: "+79671234567", captchaToken: "ignored" });
    const before = await userCount(srv.tenantId);
    const { id } = await admin.createUser(body, bearer(srv.apiKey));
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await userCount(srv.tenantId)).toBe(before + 1);

    const row = await userRow(id);
    expect(row).toMatchObject({
      tenantId: srv.tenantId,
      kind: "registered",
      username: body.username,
      email: "jon.smith@example.com",
      phone: "+79671234567",
    });

    const t0 = Date.now();
    const r = await account.login({ tenantId: srv.tenantId, username: body.username, password: body.password });
    expect(r.userId).toBe(id);
    const exp = timestampMs(r.expiresAt!);
    // Issue 19: Login's access token is short-lived (15 minutes); Refresh renews it.
    expect(exp).toBeGreaterThanOrEqual(t0 + 900_000 - 5_000);
    expect(exp).toBeLessThanOrEqual(Date.now() + 900_000 + 5_000);
    // Use the token: it verifies as a user access token for this user and tenant.
    const claims = srv.h.userTokens.verify(r.accessToken);
    expect(claims.userId).toBe(id);
    expect(claims.tenantId).toBe(srv.tenantId);
  });

  it("the user access token is not a room member token: tokens Verify says unauthenticated", async () => {
    const body = newUser();
    await admin.createUser(body, bearer(srv.apiKey));
    const { accessToken } = await account.login({
      tenantId: srv.tenantId,
      username: body.username,
      password: body.password,
    });
    const tokens = tokensClient(TRANSPORTS[0]!.make(srv.baseUrl));
    await expectCode(tokens.verify({ token: accessToken }, bearer(srv.apiKey)), Code.Unauthenticated, "invalid token");
  });

  it("the password is stored only as scrypt and never returned", async () => {
    const body = newUser({ password: "Tr0ub4dor&3-unique" });
    const created = await postJson("/room.users.private.v1.Service/CreateUser", body, {
      authorization: `Bearer ${srv.apiKey}`,
    });
    expect(created.status).toBe(200);
    expect(Object.keys(JSON.parse(created.text))).toEqual(["id"]);
    expect(created.text).not.toContain(body.password);

    const id = (JSON.parse(created.text) as { id: string }).id;
    const row = await userRow(id);
    expect(row.passwordHash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(row.passwordHash).not.toContain(body.password);
    const raw = await srv.h.rows.get(sql`select * from users where id = ${id}`);
    expect(raw).toBeDefined();
    expect(JSON.stringify(raw)).not.toContain(body.password);

    const login = await postJson("/room.users.v1.Service/Login", {
      tenantId: srv.tenantId,
      username: body.username,
      password: body.password,
    });
    expect(login.status).toBe(200);
    expect(Object.keys(JSON.parse(login.text)).sort()).toEqual([
      "accessToken",
      "expiresAt",
      "refreshToken",
      "sessionId",
      "userId",
    ]);
    expect(login.text).not.toContain(body.password);
    expect(login.headers.get("set-cookie")).not.toContain(body.password);
  });
});

describe("the session cookie", () => {
  it("over cleartext: HttpOnly, SameSite=Lax, Path=/, Max-Age 15 min, not Secure; it carries the token", async () => {
    const body = newUser();
    await admin.createUser(body, bearer(srv.apiKey));
    const res = await postJson("/room.users.v1.Service/Login", {
      tenantId: srv.tenantId,
      username: body.username,
      password: body.password,
    });
    expect(res.status).toBe(200);
    const token = JSON.parse(res.text).accessToken as string;
    const cookies = res.headers.getSetCookie();
    // The second cookie is the refresh cookie (issue 19, test/e2e/sessions.test.ts).
    expect(cookies).toHaveLength(2);
    expect(cookies[0]).toBe(`roomgate_session=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=900`);
    expect(cookies[0]).not.toMatch(/secure/i);
  });

  it("logging in again works with a stale cookie or bearer token still attached", async () => {
    const body = newUser();
    await admin.createUser(body, bearer(srv.apiKey));
    const login = { tenantId: srv.tenantId, username: body.username, password: body.password };
    const withCookie = await postJson("/room.users.v1.Service/Login", login, {
      cookie: "roomgate_session=stale-garbage",
    });
    expect(withCookie.status).toBe(200);
    const withBearer = await postJson("/room.users.v1.Service/Login", login, { authorization: "Bearer stale-garbage" });
    expect(withBearer.status).toBe(200);
  });

  it("a failed login sets no cookie", async () => {
    const res = await postJson("/room.users.v1.Service/Login", {
      tenantId: srv.tenantId,
      username: "nobody",
      password: "whatever-pw",
    });
    expect(res.status).toBe(401);
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  describe("under TLS", () => {
    const certPath = fileURLToPath(new URL("../fixtures/tls/cert.pem", import.meta.url));
    const keyPath = fileURLToPath(new URL("../fixtures/tls/key.pem", import.meta.url));
    const cert = readFileSync(certPath);
    let tls: TestServer;
    beforeAll(async () => {
      tls = await startTestServer({
        env: { ROOMGATE_TLS_CERT: certPath, ROOMGATE_TLS_KEY: keyPath, ROOMGATE_ACCESS_TOKEN_TTL_SECONDS: "600" },
      });
    });
    afterAll(async () => {
      await tls?.close();
    });

    /** Login over HTTPS/1.1 with node:https, trusting the fixture certificate. */
    function httpsLogin(body: unknown): Promise<{ status: number; setCookie: string[]; body: string }> {
      return new Promise((resolve, reject) => {
        const req = https.request(
          `https://localhost:${tls.port}/room.users.v1.Service/Login`,
          { method: "POST", ca: cert, headers: { "content-type": "application/json" } },
          (r) => {
            let text = "";
            r.setEncoding("utf8");
            r.on("data", (c: string) => (text += c));
            r.on("end", () => resolve({ status: r.statusCode!, setCookie: r.headers["set-cookie"] ?? [], body: text }));
          },
        );
        req.on("error", reject);
        req.end(JSON.stringify(body));
      });
    }

    it("adds Secure over TLS (and the configured Max-Age); cleartext on the same port does not", async () => {
      const tlsAdmin = createClient(
        UsersPrivate,
        createGrpcTransport({ baseUrl: `https://localhost:${tls.port}`, nodeOptions: { ca: cert } }),
      );
      const body = newUser();
      await tlsAdmin.createUser(body, bearer(tls.apiKey));
      const login = { tenantId: tls.tenantId, username: body.username, password: body.password };

      const secure = await httpsLogin(login);
      expect(secure.status).toBe(200);
      const token = JSON.parse(secure.body).accessToken as string;
      expect(secure.setCookie[0]).toBe(
        `roomgate_session=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=600; Secure`,
      );
      expect(secure.setCookie[1]).toMatch(/; Secure$/);

      const plain = await fetch(`http://127.0.0.1:${tls.port}/room.users.v1.Service/Login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(login),
      });
      expect(plain.status).toBe(200);
      const cookies = plain.headers.getSetCookie();
      expect(cookies).toHaveLength(2);
      expect(cookies[0]).toMatch(/; Max-Age=600$/);
      expect(cookies[1]).not.toMatch(/secure/i);
      expect(cookies[0]).not.toMatch(/secure/i);
    });
  });
});

describe("bad input: exact codes, nothing written", () => {
  it("a duplicate username is already_exists (within the tenant)", async () => {
    const first = newUser();
    await admin.createUser(first, bearer(srv.apiKey));
    await writesNothing(() =>
      expectCode(
        admin.createUser(newUser({ username: first.username }), bearer(srv.apiKey)),
        Code.AlreadyExists,
        "username: already taken",
      ),
    );
  });

  it("a duplicate email is already_exists, whatever its capitalisation", async () => {
    const first = newUser();
    await admin.createUser(first, bearer(srv.apiKey));
    await writesNothing(() =>
      expectCode(
        admin.createUser(newUser({ email: first.email }), bearer(srv.apiKey)),
        Code.AlreadyExists,
        "email: already registered",
      ),
    );
    await writesNothing(() =>
      expectCode(
        admin.createUser(newUser({ email: first.email.toUpperCase() }), bearer(srv.apiKey)),
        Code.AlreadyExists,
        "email: already registered",
      ),
    );
  });

  it.each([
    ["a bad email", { email: "not-an-email" }, "email: not a valid email address"],
    ["an empty email", { email: "" }, "email: must not be empty"],
    ["an empty username", { username: "" }, "username: must not be empty"],
    ["a 65-character username", { username: "u".repeat(65) }, "username: must be at most 64 characters"],
    ["a username with a newline", { username: "two\nlines" }, "username: must not contain control characters"],
    ["a short password", { password: "1234567" }, "password: must be at least 8 characters"],
    ["a 257-character password", { password: "p".repeat(257) }, "password: must be at most 256 characters"],
    ["a bad phone", { phone: "89671234567" }, "phone: must be in E.164 form, e.g. +79671234567"],
  ])("%s is invalid_argument", async (_name, extra, message) => {
    await writesNothing(() =>
      expectCode(admin.createUser(newUser(extra), bearer(srv.apiKey)), Code.InvalidArgument, message),
    );
  });

  it("an unknown JSON field is invalid_argument, not silently dropped", async () => {
    await writesNothing(async () => {
      const { password: _pw, ...rest } = newUser();
      const res = await postJson(
        "/room.users.private.v1.Service/CreateUser",
        { ...rest, passwd: "gmi28abc-pw" },
        { authorization: `Bearer ${srv.apiKey}` },
      );
      expect(res.status).toBe(400);
      const err = JSON.parse(res.text);
      expect(err.code).toBe("invalid_argument");
      expect(err.message).toMatch(/passwd/);
      expectNoStackTrace(err.message);
    });
    const login = await postJson("/room.users.v1.Service/Login", {
      tenantId: srv.tenantId,
      username: "x",
      password: "y",
      remember: true,
    });
    expect(login.status).toBe(400);
    expect(JSON.parse(login.text).code).toBe("invalid_argument");
  });

  it("no API key, a wrong one, or a user token in its place is unauthenticated", async () => {
    await writesNothing(() => expectCode(admin.createUser(newUser()), Code.Unauthenticated));
    await writesNothing(() =>
      expectCode(
        admin.createUser(newUser(), bearer(`rgk_0000000000000000_${"A".repeat(43)}`)),
        Code.Unauthenticated,
        "invalid API key",
      ),
    );
    const u = newUser();
    await admin.createUser(u, bearer(srv.apiKey));
    const { accessToken } = await account.login({ tenantId: srv.tenantId, username: u.username, password: u.password });
    await writesNothing(() =>
      expectCode(admin.createUser(newUser(), bearer(accessToken)), Code.Unauthenticated, "invalid API key"),
    );
  });

  it("Login with an empty field is invalid_argument", async () => {
    await expectCode(
      account.login({ tenantId: "", username: "a", password: "b" }),
      Code.InvalidArgument,
      "tenant_id: must not be empty",
    );
    await expectCode(
      account.login({ tenantId: srv.tenantId, username: "", password: "b" }),
      Code.InvalidArgument,
      "username: must not be empty",
    );
    await expectCode(
      account.login({ tenantId: srv.tenantId, username: "a", password: "" }),
      Code.InvalidArgument,
      "password: must not be empty",
    );
  });
});

describe("failed logins say nothing about what was wrong", () => {
  it("wrong password, unknown user and unknown tenant: the same unauthenticated message", async () => {
    const u = newUser();
    await admin.createUser(u, bearer(srv.apiKey));
    const wrongPassword = await expectCode(
      account.login({ tenantId: srv.tenantId, username: u.username, password: `${u.password}x` }),
      Code.Unauthenticated,
    );
    const unknownUser = await expectCode(
      account.login({ tenantId: srv.tenantId, username: "no such user", password: u.password }),
      Code.Unauthenticated,
    );
    const unknownTenant = await expectCode(
      account.login({ tenantId: "no-such-tenant", username: u.username, password: u.password }),
      Code.Unauthenticated,
    );
    expect(wrongPassword.rawMessage).toBe("wrong username or password");
    expect(unknownUser.rawMessage).toBe(wrongPassword.rawMessage);
    expect(unknownTenant.rawMessage).toBe(wrongPassword.rawMessage);
  });

  it("the username is case-insensitive: another capitalisation is the same user (issue 7 point 16)", async () => {
    const u = newUser({ username: `CaseInsensitive${seq}` });
    const { id } = await admin.createUser(u, bearer(srv.apiKey));
    const r = await account.login({ tenantId: srv.tenantId, username: u.username.toLowerCase(), password: u.password });
    expect(r.userId).toBe(id);
    await expectCode(
      account.login({ tenantId: srv.tenantId, username: u.username.toUpperCase(), password: `${u.password}x` }),
      Code.Unauthenticated,
      "wrong username or password",
    );
  });
});

describe("tenant isolation", () => {
  it("the same username and email may exist in two tenants; each logs in only to its own", async () => {
    const a = newUser();
    const b = { ...a, password: "tenant-b-password" };
    const inA = await admin.createUser(a, bearer(srv.apiKey));
    const beforeB = await userCount(srv.otherTenantId);
    const inB = await admin.createUser(b, bearer(srv.otherKey));
    expect(inB.id).not.toBe(inA.id);
    expect(await userCount(srv.otherTenantId)).toBe(beforeB + 1);
    expect((await userRow(inB.id)).tenantId).toBe(srv.otherTenantId);

    // Tenant A's credentials against tenant B's id: refused.
    await expectCode(
      account.login({ tenantId: srv.otherTenantId, username: a.username, password: a.password }),
      Code.Unauthenticated,
      "wrong username or password",
    );
    // And B's against A.
    await expectCode(
      account.login({ tenantId: srv.tenantId, username: b.username, password: b.password }),
      Code.Unauthenticated,
      "wrong username or password",
    );

    const loginB = await account.login({ tenantId: srv.otherTenantId, username: b.username, password: b.password });
    expect(loginB.userId).toBe(inB.id);
    expect(srv.h.userTokens.verify(loginB.accessToken).tenantId).toBe(srv.otherTenantId);
  });
});
