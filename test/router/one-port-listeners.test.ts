import http from "node:http";
import { afterEach, describe, expect, it, vi } from "vitest";
import { OnePortServer } from "../../src/server/listener.js";

// Issue 11: the one-port server counted each HTTP/1.1 request with a
// res.once("close") listener; its response class now counts without one,
// and draining still closes keep-alive connections once their last
// request is answered.

let server: OnePortServer | undefined;
afterEach(async () => {
  await server?.close(1_000);
  server = undefined;
});

function get(
  agent: http.Agent,
  port: number,
): Promise<{ status: number; connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("issue 11: the one-port server adds no listener per HTTP/1.1 request", () => {
  it("a handler sees no close listener on the response; keep-alive requests are counted and drained", async () => {
    const closeListeners: number[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let stoppedAccepting: () => void = () => undefined;
    const stopped = new Promise<void>((r) => (stoppedAccepting = r));
    server = new OnePortServer({
      onStopAccepting: () => stoppedAccepting(),
      handler: (req, res) => {
        closeListeners.push(res.listenerCount("close"));
        // The request "/slow" is held until the test lets it go: it is in flight when draining starts.
        const answer = () => res.end(`ok ${req.url}`);
        if (req.url === "/slow") void held.then(answer);
        else answer();
      },
    });
    const port = await server.listen(0, "127.0.0.1");
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 3; i++)
      expect(await get(agent, port)).toEqual({ status: 200, connection: "keep-alive", body: "ok /" });
    expect(closeListeners).toEqual([0, 0, 0]);

    // One request in flight on the kept-alive connection when close() starts, answered once the
    // server stopped accepting (it first accepts what is queued): with Connection: close, and
    // close() returns once it is (well before the grace period).
    const slow = new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, path: "/slow", agent }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
      });
      req.on("error", reject);
      req.end();
    });
    await vi.waitFor(() => expect(closeListeners.length).toBeGreaterThanOrEqual(4), { timeout: 10_000, interval: 5 });
    const closing = server.close(30_000);
    await stopped;
    release();
    expect(await slow).toEqual({ status: 200, connection: "close", body: "ok /slow" });
    // No connection was left for the grace period to cut: close() ended on the drain, not on the timer.
    expect(await closing).toBe(0);
    server = undefined;
    agent.destroy();
  });
});
