import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { users } from "../../src/store/schema.js";
import { bearer, connectTransport, expectCode, grpcTransport } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { rowCount } from "../support/spaces-clients.js";

// Issue 7, point 16: usernames and emails are unique per tenant without
// regard to case, and Login finds a user in any case.

const WIRES = [
  {
    name: "Connect JSON",
    make: (baseUrl: string): Transport => connectTransport(baseUrl),
  },
  { name: "gRPC", make: (baseUrl: string): Transport => grpcTransport(baseUrl) },
] as const;

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(() => srv?.close());

function userCount(): Promise<number> {
  return rowCount(srv, users);
}

let seq = 0;
function body(username: string, extra: Partial<{ email: string; password: string }> = {}) {
  seq++;
  return { email: `u${seq}@example.com`, username, password: `password-${seq}`, phone: "", ...extra };
}

describe.each(WIRES)("over $name", (wire) => {
  let admin: Client<typeof UsersPrivate>;
  let account: Client<typeof Users>;
  beforeAll(() => {
    admin = createClient(UsersPrivate, wire.make(srv.baseUrl));
    account = createClient(Users, wire.make(srv.baseUrl));
  });

  it("`Ann` then `ann` is already_exists, and nothing is written", async () => {
    const name = `Ann-${wire.name}`;
    await admin.createUser(body(name), bearer(srv.apiKey));
    const before = await userCount();
    await expectCode(
      admin.createUser(body(name.toLowerCase()), bearer(srv.apiKey)),
      Code.AlreadyExists,
      "username: already taken",
    );
    await expectCode(
      admin.createUser(body(name.toUpperCase()), bearer(srv.apiKey)),
      Code.AlreadyExists,
      "username: already taken",
    );
    expect(await userCount()).toBe(before);
  });

  it("created concurrently in every capitalisation, exactly one exists", async () => {
    const base = `bob-${wire.name.replace(/\W/g, "")}`;
    const variants = [
      base,
      base.toUpperCase(),
      `B${base.slice(1)}`,
      `${base.slice(0, -1)}${base.at(-1)!.toUpperCase()}`,
      base,
      base.toUpperCase(),
    ];
    const before = await userCount();
    const results = await Promise.allSettled(variants.map((v) => admin.createUser(body(v), bearer(srv.apiKey))));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") {
        const e = ConnectError.from(r.reason);
        expect([Code[e.code], e.rawMessage]).toEqual(["AlreadyExists", "username: already taken"]);
      }
    }
    expect(await userCount()).toBe(before + 1);
  });

  it("Login finds the user in any capitalisation; the stored name keeps the original spelling", async () => {
    const b = body(`Carol-${seq}`);
    const { id } = await admin.createUser(b, bearer(srv.apiKey));
    for (const typed of [b.username, b.username.toLowerCase(), b.username.toUpperCase()]) {
      expect((await account.login({ tenantId: srv.tenantId, username: typed, password: b.password })).userId).toBe(id);
    }
    expect((await srv.h.rows.get(sql`select username as "u" from users where id = ${id}`))?.u).toBe(b.username);
  });

  it("emails are case-insensitive too (stored lower-cased)", async () => {
    const b = body(`dave-${seq}`, { email: `Dave.${seq}@Example.COM` });
    await admin.createUser(b, bearer(srv.apiKey));
    const before = await userCount();
    await expectCode(
      admin.createUser(body(`other-${seq}`, { email: b.email.toLowerCase() }), bearer(srv.apiKey)),
      Code.AlreadyExists,
      "email: already registered",
    );
    expect(await userCount()).toBe(before);
  });
});

describe("Unicode case (usernameKey: NFC, upper then lower case)", () => {
  let admin: Client<typeof UsersPrivate>;
  let account: Client<typeof Users>;
  beforeAll(() => {
    admin = createClient(UsersPrivate, WIRES[1].make(srv.baseUrl));
    account = createClient(Users, WIRES[0].make(srv.baseUrl));
  });

  it.each([
    ["Ärger", "ärger"],
    ["Ärger", "A\u0308RGER"], // decomposed Ä
    ["straße", "STRASSE"],
    ["ΟΔΟΣ", "οδοσ"], // final sigma
    ["Iñigo", "IÑIGO"],
  ])("%s and %s are one name", async (first, second) => {
    const tag = `-${seq++}`;
    const b = body(first + tag);
    const { id } = await admin.createUser(b, bearer(srv.apiKey));
    await expectCode(
      admin.createUser(body(second + tag), bearer(srv.apiKey)),
      Code.AlreadyExists,
      "username: already taken",
    );
    expect((await account.login({ tenantId: srv.tenantId, username: second + tag, password: b.password })).userId).toBe(
      id,
    );
  });

  it("look-alikes from other scripts stay different names", async () => {
    const tag = `-${seq++}`;
    await admin.createUser(body(`anna${tag}`), bearer(srv.apiKey));
    // Cyrillic а (U+0430) is not Latin a: not a case variant.
    await admin.createUser(body(`\u0430nna${tag}`), bearer(srv.apiKey));
  });

  it("the same name in another tenant is free", async () => {
    const name = `Eve-${seq++}`;
    await admin.createUser(body(name), bearer(srv.apiKey));
    await admin.createUser(body(name.toLowerCase()), bearer(srv.otherKey));
  });
});
