import { Code, createClient, type Client } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { Service as Audit } from "../../gen/room/audit/private/v1/service_pb.js";
import { DeliveryStatus, Service as Webhooks } from "../../gen/room/webhooks/private/v1/service_pb.js";
import { bearer, connectTransport, expectCode, grpcTransport, tokensClient } from "../support/clients.js";
import { deliveriesSettled } from "../support/probes.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { pruneInBatches } from "../../src/store/maintenance-store.js";
import { WebhookReceiver, type Received } from "../support/webhook-receiver.js";

// Delivery to a real receiver on listen(0) that verifies every request with
// the standardwebhooks library and dedupes on webhook-id.

let srv: TestServer;
let hooks: Client<typeof Webhooks>;
const receivers: WebhookReceiver[] = [];
beforeAll(async () => {
  srv = await startTestServer({
    env: {
      ROOMGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: "true",
      ROOMGATE_WEBHOOK_RETRY_BASE_MS: "50",
      ROOMGATE_WEBHOOK_TIMEOUT_MS: "2000",
      ROOMGATE_RATE_LIMIT_PER_SECOND: "0",
    },
  });
  hooks = createClient(Webhooks, connectTransport(srv.baseUrl));
});
afterAll(async () => {
  await srv?.close();
  await Promise.all(receivers.map((r) => r.close()));
});

async function receiver(): Promise<WebhookReceiver> {
  const r = await new WebhookReceiver().start();
  receivers.push(r);
  return r;
}

/** An endpoint for TOKEN_REVOKED events of rooms starting with `prefix`… (one room per event, filtered by type only). */
async function endpointFor(r: WebhookReceiver, types = ["EVENT_TYPE_TOKEN_REVOKED"], roomId = "") {
  const made = await hooks.createEndpoint({ url: r.url, eventTypes: types, roomId }, bearer(srv.apiKey));
  r.secret = made.secret;
  return made.endpoint!;
}

/** TOKEN_REVOKED events, one per room, in this order; the last one's event id. */
async function revokeRooms(rooms: string[]): Promise<number> {
  const tokens = tokensClient(grpcTransport(srv.baseUrl));
  let last = 0;
  for (const roomId of rooms) last = Number((await tokens.revokeRoom({ roomId }, bearer(srv.apiKey))).eventId);
  return last;
}

function bodyOf(r: Received): { type: string; timestamp: string; data: { id: string; roomId: string; type: string } } {
  return JSON.parse(r.body) as never;
}

describe("webhook delivery", () => {
  it("delivers every event signed, in order; with the receiver down then up, each arrives and is acknowledged once", async () => {
    const r = await receiver();
    r.mode = "fail";
    const e = await endpointFor(r);
    const rooms = ["down-0", "down-1", "down-2", "down-3", "down-4"];
    await revokeRooms(rooms);
    await r.until(() => r.requests.length >= 3, 20_000, "three failed attempts");
    // While it fails, nothing after the first event is sent: order per endpoint.
    expect(new Set(r.requests.map((q) => bodyOf(q).data.roomId))).toEqual(new Set(["down-0"]));
    r.mode = "drop";
    await r.until(() => r.requests.filter((q) => q.status === 0).length >= 1, 20_000, "a dropped connection");
    r.mode = "ok";
    await r.until(() => r.acknowledged.length >= rooms.length, 20_000, "every event acknowledged");
    // Nothing left to send: a duplicate would need a delivery still pending or claimed.
    await deliveriesSettled(hooks, e.id, rooms.length, bearer(srv.apiKey));

    expect(r.acknowledged.map((a) => (a.body as { data: { roomId: string } }).data.roomId)).toEqual(rooms);
    for (const q of r.requests) expect(q.verified, `request ${q.id} verifies`).toBe(true);
    // Each webhook-id acknowledged exactly once: no duplicate delivery after a success.
    const acks = r.requests.filter((q) => q.status === 204).map((q) => q.id);
    expect(new Set(acks).size).toBe(acks.length);
    expect(acks.length).toBe(rooms.length);
    // Retries of one event keep its webhook-id.
    const firstIds = new Set(r.requests.filter((q) => bodyOf(q).data.roomId === "down-0").map((q) => q.id));
    expect(firstIds.size).toBe(1);
    const b = bodyOf(r.requests.at(-1)!);
    expect(b.type).toBe("EVENT_TYPE_TOKEN_REVOKED");
    expect(new Date(b.timestamp).toISOString()).toBe(b.timestamp);
    expect(b.data).toMatchObject({ type: "EVENT_TYPE_TOKEN_REVOKED", roomId: "down-4" });

    const ds = (await hooks.listDeliveries({ endpointId: e.id }, bearer(srv.apiKey))).deliveries;
    expect(ds.map((d) => d.status)).toEqual(rooms.map(() => DeliveryStatus.SUCCEEDED));
    expect(ds.map((d) => Number(d.eventId))).toEqual([...ds.map((d) => Number(d.eventId))].sort((x, y) => y - x));
    expect(ds.at(-1)!.attempts).toBeGreaterThanOrEqual(4);
    expect(ds.at(-1)!.lastResponseCode).toBe(204);
    expect(ds.at(-1)!.id).toBe([...firstIds][0]);
    // Paged: the same deliveries, two at a time, no gaps or repeats.
    const paged: string[] = [];
    let token = "";
    do {
      const page = await hooks.listDeliveries({ endpointId: e.id, pageSize: 2, pageToken: token }, bearer(srv.apiKey));
      expect(page.deliveries.length).toBeLessThanOrEqual(2);
      paged.push(...page.deliveries.map((d) => d.id));
      token = page.nextPageToken;
    } while (token !== "");
    expect(paged).toEqual(ds.map((d) => d.id));

    // maintenance prune --keep-days: finished deliveries go, pending ones stay.
    const pendingId = await (async () => {
      r.mode = "fail";
      await revokeRooms(["down-5"]);
      await r.until(
        () => r.requests.some((q) => bodyOf(q).data.roomId === "down-5"),
        20_000,
        "the pending one attempted",
      );
      return (await hooks.listDeliveries({ endpointId: e.id, pageSize: 1 }, bearer(srv.apiKey))).deliveries[0]!.id;
    })();
    const target = srv.h.maintenance.finishedDeliveriesBefore(Date.now() + 60_000);
    expect(await target.count()).toBeGreaterThanOrEqual(rooms.length);
    await pruneInBatches(target, 2, () => undefined);
    const left = (await hooks.listDeliveries({ endpointId: e.id }, bearer(srv.apiKey))).deliveries;
    expect(left.map((d) => d.id)).toEqual([pendingId]);
    expect([DeliveryStatus.PENDING, DeliveryStatus.DELIVERING]).toContain(left[0]!.status);
    await hooks.deleteEndpoint({ id: e.id }, bearer(srv.apiKey));
  });

  it("signs id, timestamp and body: a tampered body, id or timestamp fails the receiver's verification", async () => {
    const r = await receiver();
    const e = await endpointFor(r);
    await revokeRooms(["sign-0"]);
    await r.until(() => r.acknowledged.length === 1);
    const q = r.requests[0]!;
    const headers = {
      "webhook-id": String(q.headers["webhook-id"]),
      "webhook-timestamp": String(q.headers["webhook-timestamp"]),
      "webhook-signature": String(q.headers["webhook-signature"]),
    };
    const wh = new Webhook(r.secret);
    expect(wh.verify(q.body, headers)).toMatchObject({ type: "EVENT_TYPE_TOKEN_REVOKED" });
    expect(() => wh.verify(q.body.replace("sign-0", "sign-1"), headers)).toThrow();
    expect(() => wh.verify(q.body, { ...headers, "webhook-id": "msg_other" })).toThrow();
    const old = String(Number(headers["webhook-timestamp"]) - 600);
    expect(() => wh.verify(q.body, { ...headers, "webhook-timestamp": old })).toThrow();
    // Even correctly signed, a timestamp ten minutes old is refused (replay).
    expect(() =>
      wh.verify(q.body, {
        ...headers,
        "webhook-timestamp": old,
        "webhook-signature": wh.sign(headers["webhook-id"], new Date(Number(old) * 1000), q.body),
      }),
    ).toThrow(/too old/);
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString("base64")}`).verify(q.body, headers)).toThrow();
    await hooks.deleteEndpoint({ id: e.id }, bearer(srv.apiKey));
  });

  it("after RotateSecret signs with the new and the old secret during the grace period", async () => {
    const r = await receiver();
    const e = await endpointFor(r);
    const oldSecret = r.secret;
    const rotated = await hooks.rotateSecret({ id: e.id, graceSeconds: 3600 }, bearer(srv.apiKey));
    r.secret = rotated.secret;
    await revokeRooms(["rotate-0"]);
    await r.until(() => r.acknowledged.length === 1);
    const q = r.requests.at(-1)!;
    expect(String(q.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    const h = q.headers as Record<string, string>;
    expect(new Webhook(oldSecret).verify(q.body, h)).toBeTruthy();
    expect(new Webhook(rotated.secret).verify(q.body, h)).toBeTruthy();
    // Grace 1 s: after it, only the new secret signs.
    await hooks.rotateSecret({ id: e.id, graceSeconds: 1 }, bearer(srv.apiKey));
    await expectCode(hooks.rotateSecret({ id: e.id, graceSeconds: 1 }, bearer(srv.otherKey)), Code.NotFound);
    await hooks.deleteEndpoint({ id: e.id }, bearer(srv.apiKey));
  });

  it("does not follow redirects: a 3xx is a failed attempt and the redirect target gets nothing", async () => {
    const target = await receiver();
    const r = await receiver();
    r.mode = "redirect";
    r.redirectTo = target.url;
    const e = await endpointFor(r);
    await revokeRooms(["redirect-0"]);
    await r.until(() => r.requests.length >= 2, 20_000, "two redirected attempts");
    const [d] = (await hooks.listDeliveries({ endpointId: e.id }, bearer(srv.apiKey))).deliveries;
    expect(d).toMatchObject({ lastResponseCode: 302, lastError: expect.stringMatching(/not followed/) });
    expect(target.requests).toHaveLength(0);
    await hooks.deleteEndpoint({ id: e.id }, bearer(srv.apiKey));
  });

  it("bounds a request by ROOMGATE_WEBHOOK_TIMEOUT_MS: a receiver that never answers is a failed attempt", async () => {
    const r = await receiver();
    r.mode = "hang";
    const e = await endpointFor(r, ["EVENT_TYPE_TOKEN_REVOKED"], "hang-room");
    await revokeRooms(["hang-room"]);
    await r.until(() => r.requests.length >= 1, 20_000, "the hanging request");
    const d = await vi.waitFor(
      async () => {
        const got = (await hooks.listDeliveries({ endpointId: e.id }, bearer(srv.apiKey))).deliveries[0];
        expect(got?.lastError).not.toBe("");
        return got;
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(d).toMatchObject({ lastResponseCode: 0, lastError: "no answer within 2000 ms" });
    await hooks.deleteEndpoint({ id: e.id }, bearer(srv.apiKey));
  });

  it("does not hold up other endpoints behind a receiver that hangs", async () => {
    const slow = await receiver();
    slow.mode = "hang";
    const fast = await receiver();
    const es = await endpointFor(slow, ["EVENT_TYPE_TOKEN_REVOKED"], "slow-room");
    const ef = await endpointFor(fast, ["EVENT_TYPE_TOKEN_REVOKED"], "fast-room");
    await revokeRooms(["slow-room"]);
    await slow.until(() => slow.requests.length === 1, 20_000, "the hanging request");
    await revokeRooms(["fast-room"]);
    await fast.until(() => fast.acknowledged.length === 1, 20_000, "the other endpoint's delivery");
    // The hanging one is still in flight (its 2 s bound not reached).
    const [d] = (await hooks.listDeliveries({ endpointId: es.id }, bearer(srv.apiKey))).deliveries;
    expect(d!.status).toBe(DeliveryStatus.DELIVERING);
    await hooks.deleteEndpoint({ id: es.id }, bearer(srv.apiKey));
    await hooks.deleteEndpoint({ id: ef.id }, bearer(srv.apiKey));
  });

  it("sends only the endpoint's event types and room", async () => {
    const r = await receiver();
    const e = await endpointFor(r, ["EVENT_TYPE_TOKEN_REVOKED"], "only-this-room");
    const last = await revokeRooms(["other-room", "only-this-room", "other-room-2"]);
    await r.until(() => r.acknowledged.length === 1);
    // Every event up to the last one was weighed against the filter (the
    // worker's cursor passed it), and what matched was delivered.
    await vi.waitFor(
      async () => {
        const row = await srv.h.rows.get(sql`select cursor as "cursor" from webhook_endpoints where id = ${e.id}`);
        expect(Number(row?.["cursor"])).toBeGreaterThanOrEqual(last);
      },
      { timeout: 20_000, interval: 20 },
    );
    await deliveriesSettled(hooks, e.id, 1, bearer(srv.apiKey));
    expect(r.acknowledged.map((a) => (a.body as { data: { roomId: string } }).data.roomId)).toEqual(["only-this-room"]);
    await hooks.deleteEndpoint({ id: e.id }, bearer(srv.apiKey));
  });
});

describe("persistent failure", () => {
  let short: TestServer;
  beforeAll(async () => {
    short = await startTestServer({
      env: {
        ROOMGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: "true",
        ROOMGATE_WEBHOOK_RETRY_BASE_MS: "50",
        ROOMGATE_WEBHOOK_RETRY_SECONDS: "1",
      },
    });
  });
  afterAll(async () => {
    await short?.close();
  });

  it("disables the endpoint after the retry period, records the event, keeps later events, and resumes once re-enabled", async () => {
    const client = createClient(Webhooks, connectTransport(short.baseUrl));
    const auth = bearer(short.apiKey);
    const r = await receiver();
    r.mode = "fail";
    const made = await client.createEndpoint({ url: r.url, eventTypes: ["EVENT_TYPE_TOKEN_REVOKED"] }, auth);
    r.secret = made.secret;
    const id = made.endpoint!.id;
    const tokens = tokensClient(grpcTransport(short.baseUrl));
    for (const roomId of ["fail-0", "fail-1"]) await tokens.revokeRoom({ roomId }, auth);
    const e = await vi.waitFor(
      async () => {
        const got = (await client.getEndpoint({ id }, auth)).endpoint!;
        expect(got.enabled).toBe(false);
        return got;
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(e.enabled).toBe(false);
    expect(e.disabledReason).toMatch(/failed for the whole retry period; last error: HTTP 500/);
    const ds = (await client.listDeliveries({ endpointId: id }, auth)).deliveries;
    expect(ds.map((d) => [d.status, d.lastResponseCode])).toEqual([
      [DeliveryStatus.PENDING, 0],
      [DeliveryStatus.FAILED, 500],
    ]);
    // Only the first event was ever sent.
    expect(new Set(r.requests.map((q) => bodyOf(q).data.roomId))).toEqual(new Set(["fail-0"]));
    const events = await short.h.journal.eventsAfter(short.tenantId, undefined, 0, 1000);
    const disabled = events.filter((x) => x.type === EventType.WEBHOOK_ENDPOINT_DISABLED);
    expect(disabled).toHaveLength(1);
    expect(disabled[0]).toMatchObject({ actor: "system", reason: `endpoint ${id}: persistent failure` });
    const audit = createClient(Audit, connectTransport(short.baseUrl));
    expect((await audit.list({ action: "webhook.disabled" }, auth)).entries.map((x) => x.target)).toEqual([id]);

    // Re-enabled: the waiting event goes out; the failed one on Redeliver.
    r.mode = "ok";
    await client.updateEndpoint({ id, enabled: true }, auth);
    await r.until(() => r.acknowledged.length === 1);
    expect((r.acknowledged[0]!.body as { data: { roomId: string } }).data.roomId).toBe("fail-1");
    const redone = await client.redeliver({ deliveryId: ds[1]!.id }, auth);
    expect(redone.delivery).toMatchObject({ status: DeliveryStatus.PENDING, id: ds[1]!.id });
    await r.until(() => r.acknowledged.length === 2);
    expect((r.acknowledged[1]!.body as { data: { roomId: string } }).data.roomId).toBe("fail-0");
    expect(r.acknowledged[1]!.id).toBe(ds[1]!.id);
  });
});
