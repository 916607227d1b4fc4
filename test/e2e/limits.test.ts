import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { bearer, connectTransport, expectCode, grpcTransport, tokensClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

let now = 1_900_000_000_000;
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({
    clock: () => now,
    env: { ROOMGATE_RATE_LIMIT_PER_SECOND: "2", ROOMGATE_LOGIN_FAILURES_PER_MINUTE: "3" },
  });
});
afterAll(() => srv.close());

describe("rate limits answer resource_exhausted", () => {
  it("bounds calls per API key (burst 2x the rate), per key, and writes nothing when refusing", async () => {
    const tokens = tokensClient(grpcTransport(srv.baseUrl));
    const arg = { arguments: [{ userId: "u", roomId: "r", permissions: [203] }] };
    for (let i = 0; i < 4; i++) await tokens.create(arg, bearer(srv.apiKey));
    const before = await srv.h.grants.countGrants();
    await expectCode(
      tokens.create(arg, bearer(srv.apiKey)),
      Code.ResourceExhausted,
      /rate limit exceeded for this API key/,
    );
    expect(await srv.h.grants.countGrants()).toBe(before);
    // Another tenant's key has its own bucket.
    await tokens.create(arg, bearer(srv.otherKey));
    // Half a second later one more call is allowed (2 per second).
    now += 500;
    await tokens.create(arg, bearer(srv.apiKey));
    await expectCode(tokens.create(arg, bearer(srv.apiKey)), Code.ResourceExhausted);
  });

  it("locks an account after repeated failed logins, even for the right password, until time passes", async () => {
    now += 10_000;
    const admin = createClient(UsersPrivate, grpcTransport(srv.baseUrl));
    const users = createClient(Users, connectTransport(srv.baseUrl));
    await admin.createUser(
      { email: "lock@example.com", username: "locky", password: "right-password" },
      bearer(srv.apiKey),
    );
    const login = (password: string) => users.login({ tenantId: srv.tenantId, username: "locky", password });
    for (let i = 0; i < 3; i++) await expectCode(login("wrong-password"), Code.Unauthenticated);
    await expectCode(login("right-password"), Code.ResourceExhausted, /too many failed logins; retry in \d+ s/);
    // Other accounts are not affected.
    await expectCode(
      users.login({ tenantId: srv.tenantId, username: "nobody", password: "x-password" }),
      Code.Unauthenticated,
    );
    now += 20_000; // one failure's worth of refill at 3 per minute
    expect((await login("right-password")).userId).not.toBe("");
  });
  it("does not count token verification: a burst of Verify and VerifyAccessToken far over the limit succeeds, while Create is refused", async () => {
    now += 10_000; // a full bucket: 4 calls at 2 per second
    const tokens = tokensClient(grpcTransport(srv.baseUrl));
    const admin = createClient(UsersPrivate, connectTransport(srv.baseUrl));
    const users = createClient(Users, connectTransport(srv.baseUrl));
    const key = bearer(srv.apiKey);
    const arg = { arguments: [{ userId: "v", roomId: "verify-room", permissions: [203] }] };
    // Two metered calls: the bucket has two left.
    const { id: userId } = await admin.createUser(
      { email: "verify@example.com", username: "verifier", password: "right-password" },
      key,
    );
    const token = (await tokens.create(arg, key)).tokens[0]!;
    const access = (await users.login({ tenantId: srv.tenantId, username: "verifier", password: "right-password" }))
      .accessToken;
    // 40 verifications at once (ten times the burst), over gRPC and Connect JSON.
    const verified = await Promise.all([
      ...Array.from({ length: 20 }, async () => (await tokens.verify({ token }, key)).userId),
      ...Array.from({ length: 20 }, async () => (await admin.verifyAccessToken({ token: access }, key)).userId),
    ]);
    expect(new Set(verified)).toEqual(new Set(["v", userId]));
    // The budget is untouched by them: two Creates still pass, the third is refused and writes nothing.
    await tokens.create(arg, key);
    await tokens.create(arg, key);
    const before = await srv.h.grants.countGrants();
    await expectCode(tokens.create(arg, key), Code.ResourceExhausted, /rate limit exceeded for this API key/);
    expect(await srv.h.grants.countGrants()).toBe(before);
    // Verification still answers with the bucket empty.
    expect((await tokens.verify({ token }, key)).userId).toBe("v");
  });
});
