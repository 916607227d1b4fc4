import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";

const APP = "https://app.example";
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ env: { ROOMGATE_CORS_ORIGINS: `${APP}, https://other.example` } });
});
afterAll(() => srv.close());

const CREATE = "/room.tokens.private.v1.Service/Create";

describe("CORS for browsers on configured origins", () => {
  it("answers a preflight for an allowed origin with the Connect methods and headers", async () => {
    const res = await fetch(`${srv.baseUrl}${CREATE}`, {
      method: "OPTIONS",
      headers: {
        origin: APP,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, authorization",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    expect(res.headers.get("access-control-allow-headers")).toContain("Connect-Protocol-Version");
  });

  it("adds the origin to actual responses, RPC and REST alike", async () => {
    const rpc = await fetch(`${srv.baseUrl}${CREATE}`, {
      method: "POST",
      headers: { origin: APP, "content-type": "application/json", authorization: `Bearer ${srv.apiKey}` },
      body: JSON.stringify({ arguments: [{ user_id: "u", room_id: "r", permissions: ["PermissionRoomKick"] }] }),
    });
    expect(rpc.status).toBe(200);
    expect(rpc.headers.get("access-control-allow-origin")).toBe(APP);
    expect(rpc.headers.get("vary")).toContain("Origin");
    const rest = await fetch(`${srv.baseUrl}/api/v1/room-permissions/r`, { headers: { origin: APP } });
    expect(rest.status).toBe(401);
    expect(rest.headers.get("access-control-allow-origin")).toBe(APP);
  });

  it("gives an origin that is not configured no CORS headers", async () => {
    const pre = await fetch(`${srv.baseUrl}${CREATE}`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    expect(pre.headers.get("access-control-allow-methods")).toBeNull();
    const res = await fetch(`${srv.baseUrl}/healthz`, { headers: { origin: "https://evil.example" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
