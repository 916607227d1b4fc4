import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Service as EventsPrivate } from "../../gen/room/events/private/v1/service_pb.js";
import { Service as ModerationPrivate } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Service as Permissions } from "../../gen/room/permissions/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { bearer, connectTransport, grpcTransport, tokensClient } from "../support/clients.js";
import { startObservedServer, type ObservedServer } from "./observability-support.js";

// Issue 19, section 3, the logs: Login and the seeds' REST routes name the
// tenant once it is known; at debug level a call writes one line, with its
// request id; a Watch its client aborted is logged as canceled, not ok.

let srv: ObservedServer;
beforeAll(async () => {
  srv = await startObservedServer({ logLevel: "debug" });
});
afterAll(() => srv?.close());

type Line = Record<string, unknown>;

/** Every log line so far, parsed. */
function lines(): Line[] {
  return srv.logged.map((l) => JSON.parse(l) as Line);
}

/** The one request log line of the call answered with request id `id` (waits for it: REST lines come at close). */
async function lineOf(id: string): Promise<Line> {
  return vi.waitFor(() => {
    const hits = lines().filter((l) => l["requestId"] === id);
    expect(hits, `lines with request id ${id}`).toHaveLength(1);
    expect(hits[0]!["msg"]).toBe("call");
    return hits[0]!;
  });
}

function post(path: string, body: unknown, headers: Record<string, string>) {
  return fetch(`${srv.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

const LOGIN = "/room.users.v1.Service/Login";
const username = "logs-user";
const password = "logs-pa55word-secret";

describe("the tenant is in the line once known", () => {
  beforeAll(async () => {
    const admin = createClient(UsersPrivate, grpcTransport(srv.baseUrl));
    await admin.createUser({ email: "logs@example.com", username, password, phone: "" }, bearer(srv.apiKey));
  });

  it("Login: a success and a wrong password name the tenant; an unknown tenant is named by nobody", async () => {
    const ok = await post(LOGIN, { tenantId: srv.tenantId, username, password }, { "x-request-id": "login-ok" });
    expect(ok.status).toBe(200);
    expect(await lineOf("login-ok")).toMatchObject({ code: "ok", tenantId: srv.tenantId });
    const bad = await post(
      LOGIN,
      { tenantId: srv.tenantId, username, password: "wrong-pa55word" },
      { "x-request-id": "login-bad" },
    );
    expect(bad.status).toBe(401);
    expect(await lineOf("login-bad")).toMatchObject({ code: "unauthenticated", tenantId: srv.tenantId });
    const unknown = "00000000000000000000000000000000";
    const none = await post(LOGIN, { tenantId: unknown, username, password }, { "x-request-id": "login-none" });
    expect(none.status).toBe(401);
    const line = await lineOf("login-none");
    expect(line["code"]).toBe("unauthenticated");
    expect(line["tenantId"]).toBeUndefined();
  });

  it("seed 002's GET /api/v1/room-permissions/{roomId}: with a credential, and without", async () => {
    const login = await post(LOGIN, { tenantId: srv.tenantId, username, password }, {});
    const { accessToken } = (await login.json()) as { accessToken: string };
    const res = await fetch(`${srv.baseUrl}/api/v1/room-permissions/room-logs`, {
      headers: { authorization: `Bearer ${accessToken}`, "x-request-id": "rest-002" },
    });
    await res.text();
    expect(await lineOf("rest-002")).toMatchObject({
      procedure: "GET /api/v1/room-permissions/*",
      protocol: "rest",
      tenantId: srv.tenantId,
    });
    const anon = await fetch(`${srv.baseUrl}/api/v1/room-permissions/room-logs`, {
      headers: { "x-request-id": "rest-002-anon" },
    });
    expect(anon.status).toBe(401);
    await anon.text();
    const line = await lineOf("rest-002-anon");
    expect(line["code"]).toBe("unauthenticated");
    expect(line["tenantId"]).toBeUndefined();
  });

  it("seed 003's POST /consumer/api/v1/user: with the key, and with a wrong one", async () => {
    const res = await fetch(`${srv.baseUrl}/consumer/api/v1/user?auth=${encodeURIComponent(srv.apiKey)}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "rest-003" },
      body: JSON.stringify({ username: "jon", uniqueUserIdentifier: "logs-uui-1" }),
    });
    expect(res.status).toBe(200);
    await res.text();
    expect(await lineOf("rest-003")).toMatchObject({
      procedure: "POST /consumer/api/v1/user",
      protocol: "rest",
      code: "ok",
      tenantId: srv.tenantId,
    });
    const wrong = await fetch(`${srv.baseUrl}/consumer/api/v1/user?auth=wrong-key`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "rest-003-wrong" },
      body: JSON.stringify({ username: "jon" }),
    });
    expect(wrong.status).toBe(401);
    await wrong.text();
    expect((await lineOf("rest-003-wrong"))["tenantId"]).toBeUndefined();
    expect(srv.logged.join("")).not.toContain(srv.apiKey);
  });
});

describe("one line per call", () => {
  it("every call line has a request id, and no request id has two lines", () => {
    const calls = lines().filter((l) => l["procedure"] !== undefined || l["rpc"] !== undefined);
    expect(calls.length).toBeGreaterThan(5);
    for (const l of calls) {
      expect(l["msg"]).toBe("call");
      expect(typeof l["requestId"]).toBe("string");
    }
    const ids = calls.map((l) => l["requestId"]);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("a Watch the client aborted is logged canceled", () => {
  it("events Watch (API key, gRPC) and permissions Watch (member token, Connect)", async () => {
    const events = createClient(EventsPrivate, grpcTransport(srv.baseUrl));
    const roomId = "room-watch-logs";
    const tokens = tokensClient(connectTransport(srv.baseUrl));
    const { tokens: issued } = await tokens.create(
      { arguments: [{ userId: "watcher", roomId, permissions: [] }] },
      bearer(srv.apiKey),
    );

    const abortEvents = new AbortController();
    const stream = events.watch(
      { roomId },
      {
        signal: abortEvents.signal,
        headers: { authorization: `Bearer ${srv.apiKey}`, "x-request-id": "watch-events" },
      },
    );
    const iterator = stream[Symbol.asyncIterator]();
    let received = false;
    const first = iterator.next().then((r) => {
      received = true;
      return r;
    });
    // Events for the stream to carry (it sees only new ones), until one arrived: it is open before the abort.
    const moderation = createClient(ModerationPrivate, grpcTransport(srv.baseUrl));
    await vi.waitFor(
      async () => {
        if (!received) await moderation.deleteMessage({ roomId, messageId: `m-${Date.now()}` }, bearer(srv.apiKey));
        expect(received).toBe(true);
      },
      { timeout: 10_000, interval: 20 },
    );
    expect((await first).done).toBe(false);
    abortEvents.abort();
    await expect(iterator.next()).rejects.toThrow();
    expect(await lineOf("watch-events")).toMatchObject({
      procedure: "room.events.private.v1.Service/Watch",
      code: "canceled",
      tenantId: srv.tenantId,
    });

    const abortPerms = new AbortController();
    const perms = createClient(Permissions, connectTransport(srv.baseUrl)).watch(
      { roomId },
      { signal: abortPerms.signal, headers: { authorization: `Bearer ${issued[0]!}`, "x-request-id": "watch-perms" } },
    );
    const it2 = perms[Symbol.asyncIterator]();
    expect((await it2.next()).done).toBe(false);
    abortPerms.abort();
    await expect(it2.next()).rejects.toThrow();
    expect(await lineOf("watch-perms")).toMatchObject({
      procedure: "room.permissions.v1.Service/Watch",
      code: "canceled",
    });
  });
});
