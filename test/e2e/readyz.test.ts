import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";

/**
 * Issue 17, drain: the moment a server begins to drain it is not ready
 * (`/readyz` 503) while it still answers what reaches it — for
 * ROOMGATE_DRAIN_DELAY_MS it even accepts new connections, each answer
 * saying `Connection: close` — and a call that was not in flight is
 * answered, not reset.
 */

let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

function get(
  port: number,
  path: string,
  agent: http.Agent | false = false,
): Promise<{ status: number; connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, connection: res.headers["connection"], body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("/readyz and the drain delay", () => {
  it("ready until draining; then 503 at once, new connections still accepted and answered with Connection: close during the delay", async () => {
    srv = await startTestServer({ env: { ROOMGATE_DRAIN_DELAY_MS: "1500", ROOMGATE_SHUTDOWN_GRACE_MS: "20000" } });
    const { port } = srv;
    expect(await get(port, "/readyz")).toMatchObject({ status: 200, connection: "close" });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await get(port, "/healthz", agent)).toMatchObject({ status: 200, connection: "keep-alive" });
      const closing = srv.server.close();
      // On the open keep-alive connection, and on a new one (the delay keeps accepting).
      const onOpen = await get(port, "/readyz", agent);
      expect(onOpen).toMatchObject({ status: 503, connection: "close" });
      expect(JSON.parse(onOpen.body)).toEqual({ status: "draining" });
      expect(await get(port, "/readyz")).toMatchObject({ status: 503, connection: "close" });
      expect(await get(port, "/healthz")).toMatchObject({ status: 200, connection: "close" });
      await closing;
    } finally {
      agent.destroy();
    }
  });

  it("without a delay: an idle keep-alive connection is not cut under a request sent right after the drain began", async () => {
    srv = await startTestServer();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await get(srv.port, "/healthz", agent)).toMatchObject({ status: 200, connection: "keep-alive" });
      const closing = srv.server.close();
      // The idle connection is closed only once it stayed idle; this request comes first and is
      // answered (with "close" once the server stopped accepting, a moment after close() began).
      expect(await get(srv.port, "/readyz", agent)).toMatchObject({ status: 503 });
      await closing;
    } finally {
      agent.destroy();
    }
  });
});
