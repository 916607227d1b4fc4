import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import net from "node:net";
import { sql } from "drizzle-orm";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { openStore } from "../../src/app/open-store.js";
import { SEED_JSON_BODY } from "../support/clients.js";
import { errorCode } from "../support/raw-http.js";
import { startTestServer, type TestServer } from "../support/server.js";

// Issue 7 point 18: SIGTERM must drain HTTP/1.1 keep-alive clients and
// HTTP/2 sessions: answer `Connection: close` (GOAWAY for h2), stop taking
// new requests, finish every accepted one, and return as soon as they are
// done — the grace period is only a bound.

const CREATE = "/room.tokens.private.v1.Service/Create";
const GRACE_MS = 20_000;
const body = Buffer.from(SEED_JSON_BODY);
const half = Math.floor(body.length / 2);
const tlsDir = new URL("../fixtures/tls/", import.meta.url);

let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

/** Connection-level refusals: the request was never accepted by the server. */
const REFUSED = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "socket hang up",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_STREAM_ERROR",
  "ERR_HTTP2_INVALID_SESSION",
]);

type Outcome = { status: number; connection: string | undefined } | { refused: string };

/** A Create on `agent`; `slow` sends half the body, waits for `release`, then the rest. */
function create(port: number, apiKey: string, agent: http.Agent, release?: Promise<void>) {
  const req = http.request({
    host: "127.0.0.1",
    port,
    path: CREATE,
    method: "POST",
    agent,
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${apiKey}`,
      "content-length": body.length,
      ...(release ? { expect: "100-continue" } : {}),
    },
  });
  // With Expect: 100-continue, Node's server answers 100 right before it
  // hands the request to the handler: from then on the call is accepted.
  const accepted = new Promise<void>((resolve) => req.once("continue", () => resolve()));
  const outcome = new Promise<Outcome>((resolve) => {
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode!, connection: res.headers["connection"] }));
      res.on("error", (e) => resolve({ refused: errorCode(e) }));
    });
    req.on("error", (e) => resolve({ refused: errorCode(e) }));
  });
  if (release) {
    req.flushHeaders();
    void accepted.then(async () => {
      req.write(body.subarray(0, half));
      await release;
      req.end(body.subarray(half));
    });
  } else {
    req.end(body);
  }
  return { accepted, outcome };
}

/** What the current test's server logged at warn and above (messages only). */
let warnings: string[] = [];
/** A logger for a test server that keeps its warnings in {@link warnings}. */
function serverLog() {
  warnings = [];
  return pino({ level: "warn" }, { write: (line: string) => warnings.push(JSON.parse(line).msg) });
}

/**
 * Resolves "closed" once `closing` settles with every connection gone on its
 * own, or "grace" if the grace period ran out and the server cut what was
 * left (it logs that): close() returned early, without waiting it out.
 */
async function closedBeforeGrace(closing: Promise<void>): Promise<string> {
  await closing;
  return warnings.includes("shutdown grace over: connections still open were cut off") ? "grace" : "closed";
}

/** Grants in the closed server's store, read on a connection of its own (SQLite file or PostgreSQL database). */
async function storedGrants(s: TestServer): Promise<number> {
  const { db } = await openStore(s.app.config, pino({ level: "silent" }));
  try {
    return Number((await db.get(sql`select count(*) as "n" from grants`))?.n);
  } finally {
    await db.close();
  }
}

function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve("connected");
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

describe("issue 7 point 18: close() drains keep-alive HTTP/1.1 and HTTP/2 clients", () => {
  it("HTTP/1.1 keep-alive: accepted calls complete with 200 and Connection: close, new ones are refused cleanly, close() returns early", async () => {
    srv = await startTestServer({ env: { ROOMGATE_SHUTDOWN_GRACE_MS: String(GRACE_MS) }, log: serverLog() });
    const { port, apiKey } = srv;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 12 });
    try {
      // Warm up: 12 keep-alive connections, then idle in the agent's pool.
      const warm = await Promise.all(Array.from({ length: 12 }, () => create(port, apiKey, agent).outcome));
      for (const w of warm) expect(w).toEqual({ status: 200, connection: "keep-alive" });
      const before = await srv.h.grants.countGrants();

      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const slow = Array.from({ length: 4 }, () => create(port, apiKey, agent, released));
      await Promise.all(slow.map((s) => s.accepted));

      const closing = srv.server.close();
      // New calls while closing: on the agent's idle keep-alive sockets or new ones.
      const late = Array.from({ length: 8 }, () => create(port, apiKey, agent).outcome);
      // The late calls are answered or refused while the accepted ones are still held.
      const lateOutcomes = await Promise.all(late);
      release();

      const slowOutcomes = await Promise.all(slow.map((s) => s.outcome));
      for (const o of slowOutcomes) expect(o).toEqual({ status: 200, connection: "close" });
      for (const o of lateOutcomes) {
        if ("refused" in o) expect(REFUSED, o.refused).toContain(o.refused);
        // Sent right after close() began: answered while the server still accepts what is queued
        // (keep-alive; the connection closes once idle) or after it stopped (close).
        else expect(o).toMatchObject({ status: 200 });
      }
      // Every call the server accepted completed: one grant per 200, none lost.
      const oks = [...slowOutcomes, ...lateOutcomes].filter((o) => "status" in o).length;

      expect(await closedBeforeGrace(closing)).toBe("closed");
      // The store was closed with the server.
      expect(await srv.h.faults.storeAlive()).toBe(false);
      expect(await tryConnect(port)).toBe("ECONNREFUSED");
      expect(await storedGrants(srv)).toBe(before + oks);
    } finally {
      agent.destroy();
    }
  });

  it("idle keep-alive connections alone do not hold close() for the grace period", async () => {
    srv = await startTestServer({ env: { ROOMGATE_SHUTDOWN_GRACE_MS: String(GRACE_MS) }, log: serverLog() });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      await Promise.all(Array.from({ length: 4 }, () => create(srv!.port, srv!.apiKey, agent).outcome));
      // A connection that never sent a byte, and one h2 session with no stream.
      const silent = net.connect(srv.port, "127.0.0.1");
      silent.on("error", () => {});
      await new Promise((r) => silent.once("connect", r));
      const session = http2.connect(srv.baseUrl);
      session.on("error", () => {});
      await new Promise((r) => session.once("connect", r));
      expect(await closedBeforeGrace(srv.server.close())).toBe("closed");
      silent.destroy();
      session.destroy();
    } finally {
      agent.destroy();
    }
  });

  it("HTTP/2: GOAWAY is sent, the open stream completes with 200, a new stream is not accepted, close() returns early", async () => {
    srv = await startTestServer({ env: { ROOMGATE_SHUTDOWN_GRACE_MS: String(GRACE_MS) }, log: serverLog() });
    const before = await srv.h.grants.countGrants();
    const session = http2.connect(srv.baseUrl);
    session.on("error", () => {});
    const goaway = new Promise<void>((r) => session.once("goaway", () => r()));
    const request = (slow: boolean) => {
      const stream = session.request({
        ":method": "POST",
        ":path": CREATE,
        "content-type": "application/json",
        authorization: `Bearer ${srv!.apiKey}`,
        ...(slow ? { expect: "100-continue" } : {}),
      });
      const accepted = new Promise<void>((r) => stream.once("continue", () => r()));
      const outcome = new Promise<Outcome>((resolve) => {
        let status = 0;
        stream.on("response", (h) => (status = Number(h[":status"])));
        stream.resume();
        stream.on("end", () => resolve({ status, connection: undefined }));
        stream.on("error", (e) => resolve({ refused: errorCode(e) }));
      });
      return { stream, accepted, outcome };
    };
    const slow = request(true);
    await slow.accepted;
    slow.stream.write(body.subarray(0, half));

    const closing = srv.server.close();
    await goaway;
    let late: Promise<Outcome>;
    try {
      const l = request(false);
      l.stream.end(body);
      late = l.outcome;
    } catch (e) {
      late = Promise.resolve({ refused: errorCode(e) });
    }
    slow.stream.end(body.subarray(half));

    expect(await slow.outcome).toEqual({ status: 200, connection: undefined });
    const lateOutcome = await late;
    let oks = 1;
    if ("refused" in lateOutcome) expect(REFUSED, lateOutcome.refused).toContain(lateOutcome.refused);
    else {
      expect(lateOutcome.status).toBe(200);
      oks++;
    }
    expect(await closedBeforeGrace(closing)).toBe("closed");
    session.destroy();
    expect(await storedGrants(srv)).toBe(before + oks);
  });

  it("TLS: idle HTTP/1.1 keep-alive and h2 connections are closed, close() returns early", async () => {
    srv = await startTestServer({
      env: {
        ROOMGATE_SHUTDOWN_GRACE_MS: String(GRACE_MS),
        ROOMGATE_TLS_CERT: new URL("cert.pem", tlsDir).pathname,
        ROOMGATE_TLS_KEY: new URL("key.pem", tlsDir).pathname,
      },
      log: serverLog(),
    });
    const ca = readFileSync(new URL("cert.pem", tlsDir));
    const agent = new https.Agent({ keepAlive: true, maxSockets: 2, ca });
    try {
      const get = () =>
        new Promise<number>((resolve, reject) => {
          https
            .get({ host: "localhost", port: srv!.port, path: "/healthz", agent }, (res) => {
              res.resume();
              res.on("end", () => resolve(res.statusCode!));
            })
            .on("error", reject);
        });
      expect(await Promise.all([get(), get()])).toEqual([200, 200]);
      const h2 = createClient(
        Health,
        createConnectTransport({ baseUrl: `https://localhost:${srv.port}`, httpVersion: "2", nodeOptions: { ca } }),
      );
      await h2.check({ service: "" });
      expect(await closedBeforeGrace(srv.server.close())).toBe("closed");
    } finally {
      agent.destroy();
    }
  });
});
