import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Service as Events } from "../../gen/room/events/private/v1/service_pb.js";
import { bearer, grpcTransport } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ env: { ROOMGATE_MAX_WATCHERS_PER_TENANT: "2" } });
});
afterAll(() => srv.close());

/** Opens a watch; resolves once the server subscribed, or with the error that refused it. */
async function open(key: string): Promise<{ close: () => void } | ConnectError> {
  const client = createClient(Events, grpcTransport(srv.baseUrl));
  const ctl = new AbortController();
  const before = srv.h.bus.size;
  const it = client.watch({}, { ...bearer(key), signal: ctl.signal })[Symbol.asyncIterator]();
  const first = it.next().then(
    () => undefined,
    (err: unknown) => err,
  );
  let settled: { err: unknown } | undefined;
  void first.then((err) => (settled = { err }));
  return vi.waitFor(
    () => {
      if (srv.h.bus.size > before) return { close: () => ctl.abort() };
      if (settled !== undefined) return ConnectError.from(settled.err);
      throw new Error("watch neither opened nor failed");
    },
    { timeout: 10_000, interval: 5 },
  );
}

describe("open watchers per tenant are bounded", () => {
  it("refuses one more with resource_exhausted, per tenant, and frees the slot when a watcher leaves", async () => {
    const a = await open(srv.apiKey);
    const b = await open(srv.apiKey);
    expect(a).not.toBeInstanceOf(ConnectError);
    expect(b).not.toBeInstanceOf(ConnectError);
    const refused = await open(srv.apiKey);
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((refused as ConnectError).rawMessage).toBe("too many open watchers for this tenant (at most 2)");
    const other = await open(srv.otherKey);
    expect(other).not.toBeInstanceOf(ConnectError);
    (a as { close: () => void }).close();
    await vi.waitFor(() => expect(srv.h.bus.size).toBeLessThanOrEqual(2), { timeout: 10_000, interval: 5 });
    const again = await open(srv.apiKey);
    expect(again).not.toBeInstanceOf(ConnectError);
    for (const w of [b, other, again]) (w as { close: () => void }).close();
  });
});
