import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Service as Events } from "../../gen/room/events/private/v1/service_pb.js";
import { grants } from "../../src/store/schema.js";
import { ROOMGATE_CLI } from "../support/cli.js";
import { bearer, connectTransport, expectCode, grpcTransport, tokensClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { rowCount } from "../support/spaces-clients.js";

// A presented API key is remembered for the key-cache time (here ten
// minutes, far longer than the test): a revocation must still stop it at
// once, through the change feed, not when the memo expires.
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ env: { ROOMGATE_API_KEY_CACHE_MS: "600000" } });
});
afterAll(async () => {
  await srv?.close();
});

/** `roomgate <args>` against the test server's store, as an operator runs it. */
async function cli(...args: string[]): Promise<string> {
  const url = srv.app.config.databaseUrl;
  const env = {
    ...process.env,
    ROOMGATE_DATA_DIR: srv.dataDir,
    LOG_LEVEL: "silent",
    ...(url === undefined ? {} : { ROOMGATE_DATABASE_URL: url }),
  };
  return (await promisify(execFile)(process.execPath, [...ROOMGATE_CLI, ...args], { env })).stdout;
}

describe("a remembered API key", () => {
  it("is refused at once after the CLI revokes it, on every protocol and on the REST route", async () => {
    const key = bearer(srv.otherKey);
    const json = tokensClient(connectTransport(srv.baseUrl));
    const grpc = tokensClient(grpcTransport(srv.baseUrl));
    // Remembered: several calls over both protocols open with it.
    for (const c of [json, grpc, json, grpc])
      await c.create({ arguments: [{ userId: "u", roomId: "memo-room" }] }, key);
    const keyId = (await srv.h.tenants.listApiKeys(srv.otherTenantId))[0]!.id;

    // The feed applies the revocation in one hook: the key forgotten, then
    // its Watch streams ended. So a Watch ending tells the feed has applied it.
    const watchers = srv.h.bus.size;
    const stream = createClient(Events, grpcTransport(srv.baseUrl)).watch({}, key);
    const ended = (async () => {
      try {
        for await (const _ of stream) {
          // the tenant's events: read until the stream ends
        }
        return "ended without an error";
      } catch (err) {
        return Code[ConnectError.from(err).code];
      }
    })();
    // The watch is subscribed before the key is revoked.
    await vi.waitFor(() => expect(srv.h.bus.size).toBe(watchers + 1), { timeout: 10_000, interval: 5 });
    expect(await cli("api-keys", "revoke", keyId)).toContain(`revoked API key ${keyId}`);
    expect(await ended).toBe("Unauthenticated");

    const before = await rowCount(srv, grants);
    await expectCode(
      json.create({ arguments: [{ userId: "u", roomId: "memo-room" }] }, key),
      Code.Unauthenticated,
      "invalid API key",
    );
    await expectCode(
      grpc.create({ arguments: [{ userId: "u", roomId: "memo-room" }] }, key),
      Code.Unauthenticated,
      "invalid API key",
    );
    await expectCode(grpc.verify({ token: "x" }, key), Code.Unauthenticated, "invalid API key");
    const rest = await fetch(`${srv.baseUrl}/consumer/api/v1/user?auth=${encodeURIComponent(srv.otherKey)}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ externalUserId: "memo-1", username: "memo" }),
    });
    expect(rest.status).toBe(401);
    expect(await rowCount(srv, grants)).toBe(before);
    // The other tenant's (remembered) key is untouched.
    await json.create({ arguments: [{ userId: "u", roomId: "memo-room" }] }, bearer(srv.apiKey));
    expect(await rowCount(srv, grants)).toBe(before + 1);
  }, 60_000);
});
