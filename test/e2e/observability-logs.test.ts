import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import {
  bearer,
  connectTransport,
  grpcTransport,
  toArgument,
  tokensClient,
  validArgument,
} from "../support/clients.js";
import { startObservedServer, type ObservedServer } from "./observability-support.js";

let srv: ObservedServer;
beforeAll(async () => {
  srv = await startObservedServer({ logLevel: "debug" });
});
afterAll(() => srv?.close());

/** The request lines logged so far, parsed. */
function requestLines(): Record<string, unknown>[] {
  return srv.logged.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l["msg"] === "call");
}

/** POSTs Connect JSON with fetch. */
function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${srv.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

describe("request logs", () => {
  it("one line per call with procedure, protocol, code, duration, tenant and request id — and no secret anywhere in the log", async () => {
    const password = "Sup3r-secret-pa55word!";
    const username = "obs-user";
    const admin = createClient(UsersPrivate, grpcTransport(srv.baseUrl));
    await admin.createUser({ email: "obs@example.com", username, password, phone: "" }, bearer(srv.apiKey));

    const login = await postJson(
      "/room.users.v1.Service/Login",
      { tenantId: srv.tenantId, username, password },
      { "x-request-id": "req-login-1" },
    );
    expect(login.status).toBe(200);
    expect(login.headers.get("x-request-id")).toBe("req-login-1");
    const { accessToken } = (await login.json()) as { accessToken: string };
    const cookie = login.headers.getSetCookie()[0]!.split(";", 1)[0]!;

    // A wrong password: an error line at info.
    const bad = await postJson("/room.users.v1.Service/Login", {
      tenantId: srv.tenantId,
      username,
      password: "wrong-password-xyz",
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);

    // The user token as a bearer, then as the cookie.
    const perms = "/room.permissions.v1.Service/GetRoomPermissions";
    await postJson(perms, { roomId: "room-1" }, { authorization: `Bearer ${accessToken}` });
    await postJson(perms, { roomId: "room-1" }, { cookie });
    // A room member token, issued and verified with the API key.
    const tokens = tokensClient(connectTransport(srv.baseUrl));
    const created = await tokens.create({ arguments: [toArgument(validArgument(1))] }, bearer(srv.apiKey));
    await tokens.verify(
      { token: created.tokens[0]! },
      { headers: { authorization: `Bearer ${srv.apiKey}`, "x-request-id": "bad id\twith control" } },
    );
    // The REST routes log too.
    const rest = await fetch(`${srv.baseUrl}/healthz`, { headers: { "x-request-id": "req-rest-1", cookie } });
    expect(rest.headers.get("x-request-id")).toBe("req-rest-1");

    const log = srv.logged.join("");
    for (const secret of [srv.apiKey, password, "wrong-password-xyz", accessToken, cookie, created.tokens[0]!]) {
      expect(log.includes(secret), `the log holds a secret (${secret.slice(0, 6)}…)`).toBe(false);
    }

    const lines = requestLines();
    const ok = lines.find((l) => l["requestId"] === "req-login-1")!;
    expect(ok).toMatchObject({ level: 20, procedure: "room.users.v1.Service/Login", protocol: "connect", code: "ok" });
    expect(typeof ok["durationMs"]).toBe("number");
    const failed = lines.find(
      (l) => l["procedure"] === "room.users.v1.Service/Login" && l["code"] === "unauthenticated",
    )!;
    expect(failed["level"]).toBe(30); // info for an error
    expect(lines.find((l) => l["procedure"] === "room.users.private.v1.Service/CreateUser")).toMatchObject({
      protocol: "grpc",
      code: "ok",
      tenantId: srv.tenantId,
    });
    const verify = lines.find((l) => l["procedure"] === "room.tokens.private.v1.Service/Verify")!;
    // An id that is not printable is replaced, not logged.
    expect(verify["requestId"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(verify["tenantId"]).toBe(srv.tenantId);
    expect(lines.filter((l) => l["procedure"] === "room.permissions.v1.Service/GetRoomPermissions")).toHaveLength(2);
    expect(lines.find((l) => l["requestId"] === "req-rest-1")).toMatchObject({
      procedure: "GET /healthz",
      protocol: "rest",
      code: "ok",
    });
    expect(log).not.toContain("bad id");
  });
});

describe("request ids", () => {
  it("keep a printable, bounded caller id; replace anything else", async () => {
    const { requestIdFrom } = await import("../../src/observability/request-id.js");
    expect(requestIdFrom("abc-123_XYZ.9")).toBe("abc-123_XYZ.9");
    expect(requestIdFrom("x".repeat(128))).toBe("x".repeat(128));
    for (const bad of ["x".repeat(129), "has space", "tab\there", "é", "", null, undefined]) {
      expect(requestIdFrom(bad)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });
});
