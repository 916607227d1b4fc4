import { Code, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Service as EventsPrivate } from "../../gen/room/events/private/v1/service_pb.js";
import { loadConfig, ConfigError } from "../../src/config/config.js";
import {
  bearer,
  connectTransport,
  expectCode,
  grpcTransport,
  toArgument,
  tokensClient,
  validArgument,
} from "../support/clients.js";
import { startObservedServer, type ObservedServer } from "./observability-support.js";

let srv: ObservedServer;
beforeAll(async () => {
  srv = await startObservedServer({ env: { ROOMGATE_METRICS_PORT: "0" } });
});
afterAll(() => srv?.close());

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, name: string, labels = ""): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels === "" ? " " : `{${labels}} `}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

async function scrape(url = `${srv.baseUrl}/metrics`): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

const CREATE = 'procedure="room.tokens.private.v1.Service/Create"';
const VERIFY = 'procedure="room.tokens.private.v1.Service/Verify"';

describe("GET /metrics", () => {
  it("counts calls by procedure, protocol and code, with latency, on every protocol", async () => {
    const connect = tokensClient(connectTransport(srv.baseUrl));
    const grpc = tokensClient(grpcTransport(srv.baseUrl));
    const web = tokensClient(createGrpcWebTransport({ baseUrl: srv.baseUrl, httpVersion: "1.1" }));
    const { tokens } = await connect.create({ arguments: [toArgument(validArgument(1))] }, bearer(srv.apiKey));
    await grpc.verify({ token: tokens[0]! }, bearer(srv.apiKey));
    await grpc.verify({ token: tokens[0]! }, bearer(srv.apiKey));
    await web.verify({ token: tokens[0]! }, bearer(srv.apiKey));
    await expectCode(
      connect.create({ arguments: [toArgument(validArgument(1))] }, bearer("wrong-key")),
      Code.Unauthenticated,
    );

    const text = await scrape();
    expect(sample(text, "roomgate_calls_total", `${CREATE},protocol="connect",code="ok"`)).toBe(1);
    expect(sample(text, "roomgate_calls_total", `${CREATE},protocol="connect",code="unauthenticated"`)).toBe(1);
    expect(sample(text, "roomgate_calls_total", `${VERIFY},protocol="grpc",code="ok"`)).toBe(2);
    expect(sample(text, "roomgate_calls_total", `${VERIFY},protocol="grpc-web",code="ok"`)).toBe(1);
    expect(sample(text, "roomgate_call_duration_seconds_count", `${VERIFY},protocol="grpc"`)).toBe(2);
    // The first Verify opened the token; the next two found it cached.
    expect(sample(text, "roomgate_verify_cache_lookups_total", 'result="miss"')).toBe(1);
    expect(sample(text, "roomgate_verify_cache_lookups_total", 'result="hit"')).toBe(2);
    // Create wrote in one transaction (at least: the bootstrap wrote too).
    expect(sample(text, "roomgate_db_transaction_duration_seconds_count")).toBeGreaterThanOrEqual(2);
    expect(sample(text, "roomgate_revoked_tokens")).toBe(0);
    expect(sample(text, "roomgate_feed_lag_events")).toBeGreaterThanOrEqual(0);
    // Node process metrics, from this app's own registry.
    expect(sample(text, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(text).toContain("nodejs_eventloop_lag_seconds");
  });

  it("revocations and open watchers show as gauges", async () => {
    const connect = tokensClient(connectTransport(srv.baseUrl));
    const { tokens } = await connect.create({ arguments: [toArgument(validArgument(2))] }, bearer(srv.apiKey));
    const verified = await connect.verify({ token: tokens[0]! }, bearer(srv.apiKey));
    await connect.revoke({ tokenId: verified.tokenId }, bearer(srv.apiKey));
    expect(sample(await scrape(), "roomgate_revoked_tokens")).toBe(1);

    const events = createClient(EventsPrivate, grpcTransport(srv.baseUrl));
    const stop = new AbortController();
    const stream = events.watch({}, { ...bearer(srv.apiKey), signal: stop.signal });
    const it = stream[Symbol.asyncIterator]();
    const first = it.next().catch(() => undefined);
    // The stream is open once the server counts it; poll the gauge (no timing assertion).
    await vi.waitFor(async () => expect(sample(await scrape(), "roomgate_open_watchers") ?? 0).toBe(1), {
      timeout: 10_000,
      interval: 20,
    });
    stop.abort();
    await first;
    await vi.waitFor(async () => expect(sample(await scrape(), "roomgate_open_watchers") ?? -1).toBe(0), {
      timeout: 10_000,
      interval: 20,
    });
    const text = await scrape();
    // A stream is counted once it ends (a watch the client leaves ends quietly on the server).
    expect(text).toMatch(
      /^roomgate_calls_total\{procedure="room\.events\.private\.v1\.Service\/Watch",protocol="grpc",code="[a-z_]+"\} 1$/m,
    );
  });

  it("REST routes count under their fixed path; unknown paths as unknown, never the path itself", async () => {
    await fetch(`${srv.baseUrl}/healthz`);
    await fetch(`${srv.baseUrl}/no/such/path-with-user-input-xyz`);
    await fetch(`${srv.baseUrl}/api/v1/room-permissions/some-room-user-input`);
    const text = await scrape();
    expect(sample(text, "roomgate_calls_total", 'procedure="GET /healthz",protocol="rest",code="ok"')).toBe(1);
    expect(sample(text, "roomgate_calls_total", 'procedure="unknown",protocol="rest",code="not_found"')).toBe(1);
    expect(text).toMatch(/procedure="GET \/api\/v1\/room-permissions\/\*",protocol="rest",code="[a-z_]+"/);
    expect(text).not.toContain("user-input");
  });

  it("is also served on ROOMGATE_METRICS_PORT, which serves nothing else", async () => {
    const port = srv.server.metricsPort!;
    expect(port).toBeGreaterThan(0);
    const text = await scrape(`http://127.0.0.1:${port}/metrics`);
    expect(text).toContain("roomgate_calls_total");
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(404);
  });

  it("two apps in one process keep separate registries", async () => {
    const other = await startObservedServer();
    try {
      const text = await (await fetch(`${other.baseUrl}/metrics`)).text();
      expect(text).not.toContain(CREATE);
    } finally {
      await other.close();
    }
  });
});

describe("ROOMGATE_METRICS_PORT", () => {
  it("is validated and named in the error", () => {
    expect(() => loadConfig({ ROOMGATE_METRICS_PORT: "x" })).toThrow(ConfigError);
    expect(() => loadConfig({ ROOMGATE_METRICS_PORT: "x" })).toThrow(/ROOMGATE_METRICS_PORT/);
    expect(() => loadConfig({ ROOMGATE_METRICS_PORT: "70000" })).toThrow(/ROOMGATE_METRICS_PORT/);
    expect(() => loadConfig({ PORT: "9000", ROOMGATE_METRICS_PORT: "9000" })).toThrow(
      /ROOMGATE_METRICS_PORT must differ from PORT/,
    );
    expect(loadConfig({ ROOMGATE_METRICS_PORT: "9464" }).metricsPort).toBe(9464);
    expect(loadConfig({}).metricsPort).toBeUndefined();
  });
});
