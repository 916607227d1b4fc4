import { Code, createClient, type Client, type Transport } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Service as Audit } from "../../gen/room/audit/private/v1/service_pb.js";
import { Service as Webhooks } from "../../gen/room/webhooks/private/v1/service_pb.js";
import { DeliveryStatus } from "../../gen/room/webhooks/private/v1/service_pb.js";
import { systemResolver } from "../../src/domain/webhooks/address-policy.js";
import { MAX_ENDPOINTS_PER_TENANT } from "../../src/domain/webhooks/endpoints.js";
import { bearer, connectTransport, expectCode, grpcTransport, tokensClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

// Management over Connect and gRPC, every refusal with its exact code and
// nothing written; SSRF refusals at creation with the default settings.

let flipTo = "93.184.215.14";
let open: TestServer;
let strict: TestServer;
beforeAll(async () => {
  [open, strict] = await Promise.all([
    startTestServer({ env: { ROOMGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: "true" } }),
    startTestServer({
      // "flip.test" resolves to whatever the test says; every other name as usual.
      webhookResolver: (host) =>
        host === "flip.test" ? Promise.resolve([{ address: flipTo, family: 4 }]) : systemResolver(host),
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([open?.close(), strict?.close()]);
});

const TRANSPORTS: readonly [string, (url: string) => Transport][] = [
  ["Connect JSON", (baseUrl) => connectTransport(baseUrl)],
  ["gRPC", (baseUrl) => grpcTransport(baseUrl)],
];

/** Endpoints, audit entries and events of the server's tenant: what a refused call must leave as it was. */
async function written(srv: TestServer): Promise<string> {
  const hooks = createClient(Webhooks, connectTransport(srv.baseUrl));
  const audit = createClient(Audit, connectTransport(srv.baseUrl));
  const list = await hooks.listEndpoints({ pageSize: 500 }, bearer(srv.apiKey));
  const entries = await audit.list({ pageSize: 500 }, bearer(srv.apiKey));
  // Not the deliveries: the worker enqueues and attempts them in the background.
  return stringify({ list, entries: entries.entries.length, events: await srv.h.journal.lastEventId() });
}

function stringify(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x));
}

describe.each(TRANSPORTS)("webhook endpoint management over %s", (_name, make) => {
  let hooks: Client<typeof Webhooks>;
  beforeAll(() => {
    hooks = createClient(Webhooks, make(open.baseUrl));
  });

  it("creates, reads, lists in pages, updates, rotates and deletes an endpoint, each audited with an event", async () => {
    const auth = bearer(open.apiKey);
    const made = await hooks.createEndpoint(
      { url: "http://127.0.0.1:9/a", eventTypes: ["EVENT_TYPE_MUTED"], roomId: "room-1", description: "chat backend" },
      auth,
    );
    expect(made.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const e = made.endpoint!;
    expect(e).toMatchObject({
      url: "http://127.0.0.1:9/a",
      eventTypes: ["EVENT_TYPE_MUTED"],
      roomId: "room-1",
      description: "chat backend",
      enabled: true,
      disabledReason: "",
    });
    expect(e.id).toMatch(/^whe_[0-9a-f]{32}$/);
    // The secret is shown once: no read returns it.
    const got = await hooks.getEndpoint({ id: e.id }, auth);
    expect(stringify(got)).not.toContain(made.secret.slice(6));
    expect(got.endpoint).toEqual(e);
    // Stored sealed, never in clear.
    const stored = await open.h.rows.all(sql`select secret from webhook_endpoints where id = ${e.id}`);
    expect(String(stored[0]!.secret)).toMatch(/^v1\.\d+\./);
    expect(String(stored[0]!.secret)).not.toContain(made.secret.slice(6, 20));

    const more = [];
    for (let i = 0; i < 3; i++)
      more.push(
        (
          await hooks.createEndpoint(
            { url: `http://127.0.0.1:9/p${i}`, eventTypes: ["EVENT_TYPE_MESSAGE_DELETED"] },
            auth,
          )
        ).endpoint!.id,
      );
    const seen: string[] = [];
    let token = "";
    do {
      const page = await hooks.listEndpoints({ pageSize: 2, pageToken: token }, auth);
      expect(page.endpoints.length).toBeLessThanOrEqual(2);
      seen.push(...page.endpoints.map((x) => x.id));
      token = page.nextPageToken;
    } while (token !== "");
    for (const id of [e.id, ...more]) expect(seen).toContain(id);
    expect(new Set(seen).size).toBe(seen.length);

    const updated = await hooks.updateEndpoint(
      { id: e.id, description: "changed", updateEventTypes: true, eventTypes: [], enabled: false },
      auth,
    );
    expect(updated.endpoint).toMatchObject({
      description: "changed",
      eventTypes: [],
      roomId: "room-1",
      url: e.url,
      enabled: false,
      disabledReason: "disabled by UpdateEndpoint",
    });
    const again = await hooks.updateEndpoint({ id: e.id, enabled: true, roomId: "" }, auth);
    expect(again.endpoint).toMatchObject({ enabled: true, disabledReason: "", roomId: "", description: "changed" });

    const rotated = await hooks.rotateSecret({ id: e.id, graceSeconds: 60 }, auth);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(made.secret);
    expect(Number(rotated.previousSecretExpireTime!.seconds) * 1000).toBeGreaterThan(Date.now() + 50_000);

    // Every type and room now: the update and rotation events (after its creation) are its deliveries, newest first.
    const ds = await vi.waitFor(
      async () => {
        const got = (await hooks.listDeliveries({ endpointId: e.id }, auth)).deliveries;
        expect(got.length).toBeGreaterThanOrEqual(2);
        return got;
      },
      { timeout: 10_000, interval: 100 },
    );
    // (Filters apply when the worker enqueues, so how many of the earlier ones it saw with the old filter varies.)
    expect(ds.length).toBeGreaterThanOrEqual(2);
    for (const d of ds) expect(d.eventType).toBe("EVENT_TYPE_WEBHOOK_ENDPOINT_CHANGED");
    for (let i = 1; i < ds.length; i++) expect(ds[i - 1]!.eventId).toBeGreaterThan(ds[i]!.eventId);
    await hooks.deleteEndpoint({ id: e.id }, auth);
    await expectCode(hooks.getEndpoint({ id: e.id }, auth), Code.NotFound);

    const audit = createClient(Audit, make(open.baseUrl));
    const actions = (await audit.list({ pageSize: 50 }, auth)).entries
      .filter((x) => x.target === e.id)
      .map((x) => x.action);
    expect(actions).toEqual([
      "webhook.deleted",
      "webhook.secret_rotated",
      "webhook.updated",
      "webhook.updated",
      "webhook.created",
    ]);
    for (const id of more) await hooks.deleteEndpoint({ id }, auth);
  });

  it("refuses bad input, unknown ids, other tenants' endpoints and missing keys with exact codes, writing nothing", async () => {
    const auth = bearer(open.apiKey);
    const { endpoint } = await hooks.createEndpoint(
      { url: "http://127.0.0.1:9/keep", eventTypes: ["EVENT_TYPE_MESSAGE_DELETED"] },
      auth,
    );
    const before = await written(open);
    const cases: [() => Promise<unknown>, Code, RegExp][] = [
      [() => hooks.createEndpoint({ url: "" }, auth), Code.InvalidArgument, /^url: must not be empty/],
      [() => hooks.createEndpoint({ url: "not a url" }, auth), Code.InvalidArgument, /^url: not an absolute URL/],
      [
        () => hooks.createEndpoint({ url: "ftp://127.0.0.1/x" }, auth),
        Code.InvalidArgument,
        /^url: must be http or https/,
      ],
      [() => hooks.createEndpoint({ url: "https://user:pw@127.0.0.1/x" }, auth), Code.InvalidArgument, /credentials/],
      [
        () => hooks.createEndpoint({ url: `https://127.0.0.1/${"a".repeat(2100)}` }, auth),
        Code.InvalidArgument,
        /longer than 2048/,
      ],
      [
        () => hooks.createEndpoint({ url: "https://no-such-host.invalid/x" }, auth),
        Code.InvalidArgument,
        /does not resolve/,
      ],
      [
        () => hooks.createEndpoint({ url: "http://127.0.0.1:9/x", eventTypes: ["EVENT_TYPE_NOPE"] }, auth),
        Code.InvalidArgument,
        /^event_types: unknown event type/,
      ],
      [
        () =>
          hooks.createEndpoint(
            { url: "http://127.0.0.1:9/x", eventTypes: ["EVENT_TYPE_MUTED", "EVENT_TYPE_MUTED"] },
            auth,
          ),
        Code.InvalidArgument,
        /given twice/,
      ],
      [
        () => hooks.createEndpoint({ url: "http://127.0.0.1:9/x", roomId: "a\u0000b" }, auth),
        Code.InvalidArgument,
        /^room_id:/,
      ],
      [
        () => hooks.createEndpoint({ url: "http://127.0.0.1:9/x", description: "d".repeat(1025) }, auth),
        Code.InvalidArgument,
        /^description: longer than 1024/,
      ],
      [
        () => hooks.createEndpoint({ url: "http://127.0.0.1:9/x", description: "line\nbreak" }, auth),
        Code.InvalidArgument,
        /^description: must not contain control characters/,
      ],
      [() => hooks.createEndpoint({ url: "http://127.0.0.1:9/x" }), Code.Unauthenticated, /./],
      [
        () => hooks.createEndpoint({ url: "http://127.0.0.1:9/x" }, bearer("wrong-key-0123456789")),
        Code.Unauthenticated,
        /./,
      ],
      [() => hooks.listEndpoints({ pageSize: 501 }, auth), Code.InvalidArgument, /^page_size/],
      [() => hooks.listEndpoints({ pageToken: "garbage" }, auth), Code.InvalidArgument, /^page_token/],
      [() => hooks.getEndpoint({ id: "" }, auth), Code.InvalidArgument, /^id: must not be empty/],
      [() => hooks.getEndpoint({ id: "whe_0000" }, auth), Code.NotFound, /not found/],
      [() => hooks.getEndpoint({ id: endpoint!.id }, bearer(open.otherKey)), Code.NotFound, /not found/],
      [
        () => hooks.updateEndpoint({ id: endpoint!.id, description: "x" }, bearer(open.otherKey)),
        Code.NotFound,
        /not found/,
      ],
      [() => hooks.updateEndpoint({ id: endpoint!.id, url: "gopher://x" }, auth), Code.InvalidArgument, /^url:/],
      [
        () => hooks.updateEndpoint({ id: endpoint!.id, updateEventTypes: true, eventTypes: ["MUTED"] }, auth),
        Code.InvalidArgument,
        /^event_types/,
      ],
      [() => hooks.deleteEndpoint({ id: endpoint!.id }, bearer(open.otherKey)), Code.NotFound, /not found/],
      [() => hooks.rotateSecret({ id: endpoint!.id }, bearer(open.otherKey)), Code.NotFound, /not found/],
      [
        () => hooks.rotateSecret({ id: endpoint!.id, graceSeconds: 7 * 86_400 + 1 }, auth),
        Code.InvalidArgument,
        /^grace_seconds/,
      ],
      [() => hooks.listDeliveries({ endpointId: endpoint!.id }, bearer(open.otherKey)), Code.NotFound, /not found/],
      [
        () => hooks.listDeliveries({ endpointId: endpoint!.id, pageToken: "MA" }, auth),
        Code.InvalidArgument,
        /^page_token/,
      ],
      [() => hooks.redeliver({ deliveryId: "msg_0000" }, auth), Code.NotFound, /not found/],
      [() => hooks.redeliver({ deliveryId: "" }, auth), Code.InvalidArgument, /^delivery_id/],
    ];
    for (const [call, code, message] of cases) await expectCode(call(), code, message);
    expect(await written(open)).toBe(before);
    await hooks.deleteEndpoint({ id: endpoint!.id }, auth);
  });
});

describe("endpoints per tenant", () => {
  it(`holds at ${MAX_ENDPOINTS_PER_TENANT} under concurrent creation: the rest resource_exhausted, nothing written for them`, async () => {
    const hooks = createClient(Webhooks, connectTransport(open.baseUrl));
    const auth = bearer(open.otherKey);
    const results = await Promise.allSettled(
      Array.from({ length: MAX_ENDPOINTS_PER_TENANT + 8 }, (_, i) =>
        hooks.createEndpoint({ url: `http://127.0.0.1:9/c${i}`, eventTypes: ["EVENT_TYPE_MESSAGE_DELETED"] }, auth),
      ),
    );
    const made = results.filter((r) => r.status === "fulfilled");
    expect(made).toHaveLength(MAX_ENDPOINTS_PER_TENANT);
    for (const r of results)
      if (r.status === "rejected")
        await expectCode(Promise.reject(r.reason), Code.ResourceExhausted, /at most 50 webhook endpoints/);
    const listed = await hooks.listEndpoints({ pageSize: 500 }, auth);
    expect(listed.endpoints).toHaveLength(MAX_ENDPOINTS_PER_TENANT);
    const audit = createClient(Audit, connectTransport(open.baseUrl));
    expect((await audit.list({ action: "webhook.created", pageSize: 500 }, auth)).entries).toHaveLength(
      MAX_ENDPOINTS_PER_TENANT,
    );
    for (const e of listed.endpoints) await hooks.deleteEndpoint({ id: e.id }, auth);
  });
});

describe("webhook URLs with the default settings (no private networks)", () => {
  const refused = [
    "https://127.0.0.1/hook",
    "https://127.8.9.10/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://[fd00::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://localhost/hook",
    "https://localhost./hook",
  ];
  it.each(refused)("refuses %s at creation (invalid_argument), writing nothing", async (url) => {
    const hooks = createClient(Webhooks, connectTransport(strict.baseUrl));
    const before = await written(strict);
    await expectCode(
      hooks.createEndpoint({ url }, bearer(strict.apiKey)),
      Code.InvalidArgument,
      /^url: host .* (resolves to .*non-public address|does not resolve)/,
    );
    expect(await written(strict)).toBe(before);
  });

  it("refuses plain http even to a public address, and a private URL on update", async () => {
    const hooks = createClient(Webhooks, connectTransport(strict.baseUrl));
    const before = await written(strict);
    await expectCode(
      hooks.createEndpoint({ url: "http://93.184.215.14/hook" }, bearer(strict.apiKey)),
      Code.InvalidArgument,
      "url: must be https",
    );
    await expectCode(
      hooks.updateEndpoint({ id: "whe_x", url: "https://10.0.0.1/" }, bearer(strict.apiKey)),
      Code.InvalidArgument,
      /non-public/,
    );
    expect(await written(strict)).toBe(before);
  });

  it("accepts an https URL on a public address literal", async () => {
    const hooks = createClient(Webhooks, connectTransport(strict.baseUrl));
    const made = await hooks.createEndpoint({ url: "https://93.184.215.14/hook" }, bearer(strict.apiKey));
    expect(made.endpoint!.url).toBe("https://93.184.215.14/hook");
    // Disabled at once, so the worker never calls out of the test machine.
    await hooks.updateEndpoint({ id: made.endpoint!.id, enabled: false }, bearer(strict.apiKey));
    await hooks.deleteEndpoint({ id: made.endpoint!.id }, bearer(strict.apiKey));
  });

  it("refuses at delivery a host whose DNS changed to a private address since creation", async () => {
    const hooks = createClient(Webhooks, connectTransport(strict.baseUrl));
    flipTo = "93.184.215.14";
    const made = await hooks.createEndpoint(
      { url: "https://flip.test/hook", eventTypes: ["EVENT_TYPE_TOKEN_REVOKED"] },
      bearer(strict.apiKey),
    );
    flipTo = "127.0.0.1";
    await tokensClient(grpcTransport(strict.baseUrl)).revokeRoom({ roomId: "flip" }, bearer(strict.apiKey));
    const d = await vi.waitFor(
      async () => {
        const got = (await hooks.listDeliveries({ endpointId: made.endpoint!.id }, bearer(strict.apiKey)))
          .deliveries[0];
        expect(got?.lastError ?? "").not.toBe("");
        return got;
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(d).toMatchObject({
      status: DeliveryStatus.PENDING,
      lastResponseCode: 0,
      lastError: expect.stringMatching(/^refused: host "flip.test" resolves to 127.0.0.1/),
    });
    await hooks.deleteEndpoint({ id: made.endpoint!.id }, bearer(strict.apiKey));
  });
});
