import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { passwordChecksStarted } from "../../src/domain/users/passwords.js";
import { bearer, expectCode, grpcTransport } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

// Issue 7, point 7. Every server here runs on a frozen clock, so no bucket
// refills during a test and every count is exact. Clients pick their source
// address on the loopback network (127.0.0.0/8) to act as distinct machines.

const now = 1_900_000_000_000;

/** The two ways a login arrives: a browser over Connect JSON, a service over gRPC. */
const WIRES = [
  {
    name: "Connect JSON",
    make: (baseUrl: string, localAddress: string) =>
      createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { localAddress } }),
  },
  // connect-node hands nodeOptions to http2.connect, which passes them on to net.connect.
  {
    name: "gRPC",
    make: (baseUrl: string, localAddress: string) =>
      createGrpcTransport({ baseUrl, nodeOptions: { localAddress } as object }),
  },
] as const;

/** A Users client whose connections come from `localAddress`. */
function usersFrom(
  srv: TestServer,
  localAddress: string,
  wire: (typeof WIRES)[number] = WIRES[0],
): Client<typeof Users> {
  const transport: Transport = wire.make(srv.baseUrl, localAddress);
  return createClient(Users, transport);
}

/** Creates a registered user with the API key; returns its login. */
async function newAccount(srv: TestServer, password = "right-password") {
  const username = `user-${randomUUID()}`;
  const admin = createClient(UsersPrivate, grpcTransport(srv.baseUrl));
  const { id } = await admin.createUser(
    { email: `${randomUUID()}@example.com`, username, password },
    bearer(srv.apiKey),
  );
  return { id, username, password };
}

/**
 * Settles every call and counts the answers by code name ("OK" for
 * success), plus `scrypt`: the password checks the server started meanwhile
 * (the server runs in this process, so its counter is readable here).
 */
async function codesOf(calls: Promise<unknown>[]): Promise<Record<string, number>> {
  const before = passwordChecksStarted();
  const counts: Record<string, number> = {};
  for (const r of await Promise.allSettled(calls)) {
    const name = r.status === "fulfilled" ? "OK" : Code[ConnectError.from(r.reason).code];
    counts[name] = (counts[name] ?? 0) + 1;
  }
  counts["scrypt"] = passwordChecksStarted() - before;
  return counts;
}

function serverWith(env: Record<string, string>): Promise<TestServer> {
  return startTestServer({ clock: () => now, env });
}

describe("failed-login limit under concurrency (per account and address: 5, per account: 10)", () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await serverWith({
      ROOMGATE_LOGIN_FAILURES_PER_MINUTE: "5",
      ROOMGATE_LOGIN_ACCOUNT_FAILURES_PER_MINUTE: "10",
      ROOMGATE_LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS: "1000",
      ROOMGATE_LOGIN_ATTEMPTS_PER_SECOND_PER_TENANT: "1000",
    });
  });
  afterAll(() => srv?.close());

  for (const wire of WIRES) {
    it(`40 concurrent wrong logins get 5 password checks, the rest resource_exhausted without one (${wire.name})`, async () => {
      const acct = await newAccount(srv);
      const users = usersFrom(srv, "127.0.0.1", wire);
      const wrong = () => users.login({ tenantId: srv.tenantId, username: acct.username, password: "wrong-password" });
      // Only an admitted attempt runs scrypt; the rest are refused before hashing.
      expect(await codesOf(Array.from({ length: 40 }, wrong))).toEqual({
        Unauthenticated: 5,
        ResourceExhausted: 35,
        scrypt: 5,
      });
      // The account is now locked from this address, even for the right password.
      await expectCode(
        users.login({ tenantId: srv.tenantId, username: acct.username, password: acct.password }),
        Code.ResourceExhausted,
        /^too many failed logins; retry in \d+ s$/,
      );
    });
  }

  it("a successful login gives its reserved slot back: sequential right logins never lock", async () => {
    const acct = await newAccount(srv);
    const users = usersFrom(srv, "127.0.0.1");
    for (let i = 0; i < 12; i++) {
      expect(
        (await users.login({ tenantId: srv.tenantId, username: acct.username, password: acct.password })).userId,
      ).toBe(acct.id);
    }
    // Failures still count after the successes: 5, then locked.
    const wrong = () => users.login({ tenantId: srv.tenantId, username: acct.username, password: "wrong-password" });
    expect(await codesOf(Array.from({ length: 8 }, wrong))).toEqual({
      Unauthenticated: 5,
      ResourceExhausted: 3,
      scrypt: 5,
    });
  });

  it("the account key is case-insensitive: other capitalisations share the failure budget", async () => {
    const acct = await newAccount(srv);
    const users = usersFrom(srv, "127.0.0.1");
    const names = [acct.username, acct.username.toUpperCase(), `U${acct.username.slice(1)}`];
    const calls = Array.from({ length: 12 }, (_, i) =>
      users.login({ tenantId: srv.tenantId, username: names[i % 3]!, password: "wrong-password" }),
    );
    expect(await codesOf(calls)).toEqual({ Unauthenticated: 5, ResourceExhausted: 7, scrypt: 5 });
  });

  for (const wire of WIRES) {
    it(`lockout cannot keep a known user out: attackers from other addresses exhaust the account, the user still gets in (${wire.name})`, async () => {
      const acct = await newAccount(srv);
      const login = (from: string, password: string) =>
        usersFrom(srv, from, wire).login({ tenantId: srv.tenantId, username: acct.username, password });
      // The user logs in once from home: that (account, address) is now known.
      expect((await login("127.0.0.1", acct.password)).userId).toBe(acct.id);
      // Two attacker addresses, 5 failures each, use up the account-wide 10.
      for (const from of ["127.0.0.2", "127.0.0.3"]) {
        expect(await codesOf(Array.from({ length: 7 }, () => login(from, "guess-password")))).toEqual({
          Unauthenticated: 5,
          ResourceExhausted: 2,
          scrypt: 5,
        });
      }
      // A third attacker address is refused before any password check.
      await expectCode(login("127.0.0.4", "guess-password"), Code.ResourceExhausted, /^too many failed logins/);
      // So is a new address, even with the right password: the documented cost.
      await expectCode(login("127.0.0.5", acct.password), Code.ResourceExhausted, /^too many failed logins/);
      // The known address is not locked out.
      expect((await login("127.0.0.1", acct.password)).userId).toBe(acct.id);
      expect((await login("127.0.0.1", acct.password)).userId).toBe(acct.id);
      // And it still has its own guessing limit: a wrong password there is checked and refused.
      await expectCode(login("127.0.0.1", "wrong-password"), Code.Unauthenticated, "wrong username or password");
    });
  }
});

describe("Login calls per client address (4 a minute)", () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await serverWith({
      ROOMGATE_LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS: "4",
      ROOMGATE_LOGIN_ATTEMPTS_PER_SECOND_PER_TENANT: "1000",
    });
  });
  afterAll(() => srv?.close());

  for (const [i, wire] of WIRES.entries()) {
    it(`a flood from one address gets 4 password checks; another address is unaffected (${wire.name})`, async () => {
      const acct = await newAccount(srv);
      const flooder = usersFrom(srv, `127.0.1.${i + 1}`, wire);
      // Distinct usernames, so only the per-address limit can refuse.
      const calls = Array.from({ length: 20 }, () =>
        flooder.login({ tenantId: srv.tenantId, username: `nobody-${randomUUID()}`, password: "some-password" }),
      );
      expect(await codesOf(calls)).toEqual({ Unauthenticated: 4, ResourceExhausted: 16, scrypt: 4 });
      await expectCode(
        flooder.login({ tenantId: srv.tenantId, username: acct.username, password: acct.password }),
        Code.ResourceExhausted,
        /^too many login attempts from this address; retry in \d+ s$/,
      );
      const other = usersFrom(srv, `127.0.2.${i + 1}`, wire);
      expect(
        (await other.login({ tenantId: srv.tenantId, username: acct.username, password: acct.password })).userId,
      ).toBe(acct.id);
    });
  }
});

describe("Login calls per tenant (2 a second, burst 4)", () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await serverWith({
      ROOMGATE_LOGIN_ATTEMPTS_PER_SECOND_PER_TENANT: "2",
      ROOMGATE_LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS: "1000",
    });
  });
  afterAll(() => srv?.close());

  it("a flood from many addresses gets 4 password checks per tenant; a known user and another tenant are unaffected", async () => {
    // Accounts are created by the API key, which is not limited here; the
    // known user logs in once before the flood (that uses 1 of the 4).
    const known = await newAccount(srv);
    const fresh = await newAccount(srv);
    expect(
      (
        await usersFrom(srv, "127.0.3.1").login({
          tenantId: srv.tenantId,
          username: known.username,
          password: known.password,
        })
      ).userId,
    ).toBe(known.id);
    const calls = Array.from({ length: 12 }, (_, i) =>
      usersFrom(srv, `127.0.4.${i + 1}`).login({
        tenantId: srv.tenantId,
        username: `nobody-${i}`,
        password: "some-password",
      }),
    );
    expect(await codesOf(calls)).toEqual({ Unauthenticated: 3, ResourceExhausted: 9, scrypt: 3 });
    await expectCode(
      usersFrom(srv, "127.0.3.2").login({ tenantId: srv.tenantId, username: fresh.username, password: fresh.password }),
      Code.ResourceExhausted,
      /^too many login attempts for this tenant; retry in \d+ s$/,
    );
    // Known (account, address) pairs skip the shared tenant bucket.
    expect(
      (
        await usersFrom(srv, "127.0.3.1", WIRES[1]).login({
          tenantId: srv.tenantId,
          username: known.username,
          password: known.password,
        })
      ).userId,
    ).toBe(known.id);
    // Another tenant has its own bucket.
    await expectCode(
      usersFrom(srv, "127.0.3.3").login({ tenantId: srv.otherTenantId, username: "nobody", password: "some-password" }),
      Code.Unauthenticated,
    );
  });

  it("unknown tenant ids share one bucket, so random ids cannot buy more password checks", async () => {
    const calls = Array.from({ length: 12 }, (_, i) =>
      usersFrom(srv, `127.0.5.${i + 1}`).login({
        tenantId: randomUUID(),
        username: "nobody",
        password: "some-password",
      }),
    );
    expect(await codesOf(calls)).toEqual({ Unauthenticated: 4, ResourceExhausted: 8, scrypt: 4 });
  });
});

describe("login limit settings", () => {
  it("have sane defaults", () => {
    const c = loadConfig({});
    expect([
      c.loginFailuresPerMinute,
      c.loginAccountFailuresPerMinute,
      c.loginAttemptsPerMinutePerAddress,
      c.loginAttemptsPerSecondPerTenant,
      c.loginKnownAddressDays,
    ]).toEqual([5, 20, 60, 10, 30]);
    // Raising the per-address limit alone raises the account-wide default with it.
    expect(loadConfig({ ROOMGATE_LOGIN_FAILURES_PER_MINUTE: "50" }).loginAccountFailuresPerMinute).toBe(200);
  });

  it.each([
    ["ROOMGATE_LOGIN_ACCOUNT_FAILURES_PER_MINUTE", "-1"],
    ["ROOMGATE_LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS", "many"],
    ["ROOMGATE_LOGIN_ATTEMPTS_PER_SECOND_PER_TENANT", "10001"],
    ["ROOMGATE_LOGIN_KNOWN_ADDRESS_DAYS", "1.5"],
  ])("refuse a bad %s, naming it", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });

  it("refuse an account-wide failure limit below the per-address one", () => {
    expect(() =>
      loadConfig({ ROOMGATE_LOGIN_FAILURES_PER_MINUTE: "10", ROOMGATE_LOGIN_ACCOUNT_FAILURES_PER_MINUTE: "5" }),
    ).toThrow(
      /ROOMGATE_LOGIN_ACCOUNT_FAILURES_PER_MINUTE must be 0 \(off\) or at least ROOMGATE_LOGIN_FAILURES_PER_MINUTE/,
    );
    expect(
      loadConfig({ ROOMGATE_LOGIN_FAILURES_PER_MINUTE: "10", ROOMGATE_LOGIN_ACCOUNT_FAILURES_PER_MINUTE: "0" })
        .loginAccountFailuresPerMinute,
    ).toBe(0);
  });
});
