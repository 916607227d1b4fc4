import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(() => srv.close());

describe("GET /healthz", () => {
  it("answers 200 while the store is open, and a POST or an unknown path is 404", async () => {
    const res = await fetch(`${srv.baseUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect((await fetch(`${srv.baseUrl}/healthz`, { method: "POST" })).status).toBe(404);
    expect((await fetch(`${srv.baseUrl}/nope`)).status).toBe(404);
  });

  it("answers 503 once the store is closed", async () => {
    srv.app.store.close();
    const res = await fetch(`${srv.baseUrl}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "unavailable" });
  });
});
