import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as ConsumerPrivate } from "../../gen/room/consumer/private/v1/service_pb.js";
import { createTenantWithKey } from "../../src/domain/auth/tenants.js";
import { users } from "../../src/store/schema.js";
import { bearer, connectTransport, expectCode, grpcTransport } from "../support/clients.js";
import {
  credential,
  getRoomPermissionsRest,
  insertUser,
  permissionsClient,
  userToken,
  userWithRoomRole,
} from "../support/permissions-fixtures.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { rowCount } from "../support/spaces-clients.js";

// Issue 7 point 11: seed 003's REST route skipped the per-key rate limit
// its RPC twin has. The clock stands still, so no bucket refills during a
// test: 1 call per second gives each key a burst of exactly 2.

const NOW = 1_950_000_000_000;
let srv: TestServer;
let connect: Client<typeof ConsumerPrivate>;
let grpc: Client<typeof ConsumerPrivate>;

beforeAll(async () => {
  srv = await startTestServer({ clock: () => NOW, env: { ROOMGATE_RATE_LIMIT_PER_SECOND: "1" } });
  connect = createClient(ConsumerPrivate, connectTransport(srv.baseUrl));
  grpc = createClient(ConsumerPrivate, grpcTransport(srv.baseUrl));
});
afterAll(() => srv.close());

const BURST = 2;
const userCount = () => rowCount(srv, users);
/** A fresh API key of its own tenant, so each test starts with a full bucket. */
const freshKey = async (name: string) => (await createTenantWithKey(srv.h.tenants, name, NOW)).key;

let seq = 0;
const body = () => ({ chatRoom: `limit-room-${++seq}`, uniqueUserIdentifier: `limit-uui-${seq}`, username: "jon" });

async function rest(
  key: string,
): Promise<{ status: number; json: Record<string, unknown>; retryAfter: string | null }> {
  const res = await fetch(`${srv.baseUrl}/consumer/api/v1/user?auth=${encodeURIComponent(key)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body()),
  });
  return {
    status: res.status,
    json: (await res.json()) as Record<string, unknown>,
    retryAfter: res.headers.get("retry-after"),
  };
}

function expectRestLimited(res: Awaited<ReturnType<typeof rest>>): void {
  expect(res.status).toBe(429);
  expect(Object.keys(res.json).sort()).toEqual(["code", "message"]);
  expect(res.json.code).toBe("resource_exhausted");
  expect(res.json.message).toMatch(/^rate limit exceeded for this API key; retry in \d+ ms$/);
  expect(Number(res.retryAfter)).toBeGreaterThanOrEqual(1);
}

describe("issue 7 point 11: the REST routes share the RPCs' API-key auth and per-key rate limit", () => {
  it("the RPC exhausts the key's budget, then the REST route is refused with 429 in its shape; nothing is written", async () => {
    const key = await freshKey("rpc-first");
    await connect.createUser(body(), bearer(key));
    await grpc.createUser(body(), bearer(key));
    await expectCode(
      connect.createUser(body(), bearer(key)),
      Code.ResourceExhausted,
      /^rate limit exceeded for this API key/,
    );
    const before = await userCount();
    expectRestLimited(await rest(key));
    expect(await userCount()).toBe(before);
  });

  it("vice versa: the REST route exhausts it, then Connect and gRPC are resource_exhausted; nothing is written", async () => {
    const key = await freshKey("rest-first");
    for (let i = 0; i < BURST; i++) expect((await rest(key)).status).toBe(200);
    expectRestLimited(await rest(key));
    const before = await userCount();
    await expectCode(
      connect.createUser(body(), bearer(key)),
      Code.ResourceExhausted,
      /^rate limit exceeded for this API key/,
    );
    await expectCode(
      grpc.createUser(body(), bearer(key)),
      Code.ResourceExhausted,
      /^rate limit exceeded for this API key/,
    );
    expect(await userCount()).toBe(before);
  });

  it("one key's budget is its own: another key is unaffected on both paths", async () => {
    const spent = await freshKey("spent");
    for (let i = 0; i < BURST; i++) expect((await rest(spent)).status).toBe(200);
    expectRestLimited(await rest(spent));
    const other = await freshKey("untouched");
    expect((await rest(other)).status).toBe(200);
    await connect.createUser(body(), bearer(other));
  });

  it("concurrency: 12 calls at once, mixed REST and RPC, on one key: exactly the burst succeeds and writes", async () => {
    const key = await freshKey("concurrent");
    const before = await userCount();
    const calls = Array.from({ length: 12 }, (_, i) => {
      if (i % 3 === 0)
        return rest(key).then((r) => {
          if (r.status === 200) return "ok";
          expectRestLimited(r);
          return "limited";
        });
      const client = i % 3 === 1 ? connect : grpc;
      return client.createUser(body(), bearer(key)).then(
        () => "ok",
        (err: unknown) => {
          expect(ConnectError.from(err).code).toBe(Code.ResourceExhausted);
          return "limited";
        },
      );
    });
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(BURST);
    expect(outcomes.filter((o) => o === "limited")).toHaveLength(12 - BURST);
    expect(await userCount()).toBe(before + BURST);
  });

  it("a wrong key is refused alike and spends nobody's budget", async () => {
    const res = await rest("not-a-key");
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ code: "unauthenticated", message: "invalid API key" });
    await expectCode(connect.createUser(body(), bearer("not-a-key")), Code.Unauthenticated, "invalid API key");
  });
});

describe("issue 7 point 11: seed 002's route resolves end-user credentials exactly as the RPC does", () => {
  it("each credential form is accepted or refused the same way by GET /api/v1/room-permissions and GetRoomPermissions", async () => {
    const member = await userWithRoomRole(srv, "role_room_user");
    const stranger = await insertUser(srv);
    const cases: [string, Record<string, string>, boolean][] = [
      ["bearer user token", credential.bearer(userToken(srv, member.userId)), true],
      ["session cookie", credential.cookie(userToken(srv, member.userId)), true],
      ["garbage bearer", credential.bearer("%%%"), false],
      ["not a bearer", { authorization: "Basic dXNlcjpwYXNz" }, false],
      ["an API key is not an end-user credential", credential.bearer(srv.apiKey), false],
      ["stranger's token opens but has no way into the room", credential.bearer(userToken(srv, stranger)), true],
    ];
    for (const [name, headers, opens] of cases) {
      const restRes = await getRoomPermissionsRest(srv, member.roomId, headers);
      let rpcCode: Code | undefined;
      try {
        await permissionsClient(srv).getRoomPermissions({ roomId: member.roomId }, { headers });
      } catch (err) {
        rpcCode = ConnectError.from(err).code;
      }
      if (opens) {
        expect(restRes.status, name).not.toBe(401);
        expect(rpcCode, name).not.toBe(Code.Unauthenticated);
      } else {
        expect(restRes.status, name).toBe(401);
        expect(restRes.body, name).toEqual({
          errorText: "Wrong Bearer, please renew Web API Access Token",
          httpStatusCode: 401,
        });
        expect(rpcCode, name).toBe(Code.Unauthenticated);
      }
    }
  });
});
