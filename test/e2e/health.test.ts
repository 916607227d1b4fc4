import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(() => srv.close());

describe("GET /healthz", () => {
  it("answers 200 while the store is open; a POST is 405, an unknown path 404", async () => {
    const res = await fetch(`${srv.baseUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    const post = await fetch(`${srv.baseUrl}/healthz`, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET");
    expect((await fetch(`${srv.baseUrl}/nope`)).status).toBe(404);
  });

  it("answers 503 once the store is closed", async () => {
    await srv.h.faults.closeStore();
    const res = await fetch(`${srv.baseUrl}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "unavailable" });
  });
});
