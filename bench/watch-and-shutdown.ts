/**
 * The timings the end-to-end suites used to assert (test/e2e/events.test.ts,
 * test/e2e/shutdown.test.ts), measured here instead, against an in-process
 * roomgate on the embedded store (nothing here is asserted):
 *
 *   1. Watch delivery: from a RevokeUser call's start until a tenant-wide
 *      watcher has the event, per streaming protocol.
 *   2. close() with two Watch streams open and a 5 s grace: the streams end
 *      at once, so close() takes a small fraction of the grace.
 *   3. close() with a call that never finishes and a 300 ms grace: cut at
 *      the grace's end (about 300 ms, far from the 2 s default).
 *
 * Run: npx tsx bench/watch-and-shutdown.ts [--samples 200]
 */
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { Service as Events } from "../gen/room/events/private/v1/service_pb.js";
import { Service as Tokens } from "../gen/room/tokens/private/v1/service_pb.js";
import { assembleApp, type App } from "../src/app/create-app.js";
import { serve, type RunningServer } from "../src/app/serve.js";
import type { EventBus } from "../src/domain/events/event-bus.js";
import { loadConfig } from "../src/config/config.js";
import { generateTokenKey } from "../src/domain/tokens/keyring.js";
import { quantile } from "./lib/h2load.js";

const { values: args } = parseArgs({ options: { samples: { type: "string", default: "200" } } });
const SAMPLES = Number(args.samples);
const API_KEY = "bench-api-key-0123456789";
const auth = { headers: { authorization: `Bearer ${API_KEY}` } };
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));

interface Running {
  readonly app: App;
  /** The replica's event bus: its size is the open watchers. */
  readonly bus: EventBus;
  readonly server: RunningServer;
  readonly baseUrl: string;
  readonly port: number;
  readonly dir: string;
}

async function start(env: Record<string, string>): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), "roomgate-bench-"));
  const config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    ROOMGATE_DATA_DIR: dir,
    ROOMGATE_API_KEY: API_KEY,
    ...env,
  });
  const { app, parts } = await assembleApp(config, pino({ level: "silent" }), {
    tokenKeys: [{ ...generateTokenKey(Date.now()), state: "active" }],
  });
  const server = await serve(app);
  return {
    app,
    bus: parts.kernel.live.bus,
    server,
    port: server.port,
    baseUrl: `http://127.0.0.1:${server.port}`,
    dir,
  };
}

async function stop(r: Running): Promise<void> {
  await r.server.close();
  rmSync(r.dir, { recursive: true, force: true });
}

/** Opens a tenant-wide watch and resolves once the server subscribed it. */
async function openWatch(r: Running, transport: Transport, signal: AbortSignal) {
  const before = r.bus.size;
  const it = createClient(Events, transport)
    .watch({}, { ...auth, signal })
    [Symbol.asyncIterator]();
  const first = it.next();
  first.catch(() => undefined);
  while (r.bus.size <= before) await new Promise((res) => setImmediate(res));
  return { it, first };
}

async function watchDelivery(): Promise<void> {
  const r = await start({ ROOMGATE_RATE_LIMIT_PER_SECOND: "0" });
  try {
    const tokens = createClient(Tokens, createGrpcTransport({ baseUrl: r.baseUrl }));
    const protocols: Array<[string, Transport]> = [
      ["Connect streaming over HTTP/1.1", createConnectTransport({ baseUrl: r.baseUrl, httpVersion: "1.1" })],
      ["gRPC over HTTP/2", createGrpcTransport({ baseUrl: r.baseUrl })],
    ];
    for (const [name, transport] of protocols) {
      const ctl = new AbortController();
      const w = await openWatch(r, transport, ctl.signal);
      let pending = w.first;
      const out: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const t0 = performance.now();
        await tokens.revokeUser({ userId: `u${i}`, roomId: "bench-room" }, auth);
        await pending;
        out.push(performance.now() - t0);
        pending = w.it.next();
      }
      ctl.abort();
      pending.catch(() => undefined);
      while (r.bus.size > 0) await new Promise((res) => setImmediate(res));
      out.sort((a, b) => a - b);
      console.log(`watch delivery, ${name}: p50 ${ms(quantile(out, 0.5))} ms, p99 ${ms(quantile(out, 0.99))} ms`);
    }
  } finally {
    await stop(r);
  }
}

async function closeWithWatches(): Promise<void> {
  const r = await start({ ROOMGATE_SHUTDOWN_GRACE_MS: "5000" });
  const ctl = new AbortController();
  await openWatch(r, createGrpcTransport({ baseUrl: r.baseUrl }), ctl.signal);
  await openWatch(r, createConnectTransport({ baseUrl: r.baseUrl, httpVersion: "1.1" }), ctl.signal);
  const t0 = performance.now();
  await stop(r);
  console.log(`close() with 2 open watches, grace 5000 ms: ${ms(performance.now() - t0)} ms`);
  ctl.abort();
}

async function closeWithHungCall(): Promise<void> {
  const r = await start({ ROOMGATE_SHUTDOWN_GRACE_MS: "300" });
  // A Create whose body never completes: in flight until the grace cuts it.
  const req = http.request({
    host: "127.0.0.1",
    port: r.port,
    method: "POST",
    path: "/room.tokens.private.v1.Service/Create",
    headers: {
      "content-type": "application/json",
      "content-length": "1000",
      authorization: auth.headers.authorization,
    },
  });
  req.on("error", () => undefined);
  req.write("{");
  await new Promise((res) => req.once("socket", (s) => s.once("connect", res)));
  const t0 = performance.now();
  await stop(r);
  console.log(`close() with a call that never finishes, grace 300 ms: ${ms(performance.now() - t0)} ms`);
}

await watchDelivery();
await closeWithWatches();
await closeWithHungCall();
