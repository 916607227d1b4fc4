import Database from "better-sqlite3";
import pg from "pg";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SEED_JSON_BODY } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

const CREATE = "/room.tokens.private.v1.Service/Create";
const body = Buffer.from(SEED_JSON_BODY);
const half = Math.floor(body.length / 2);

let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

/** Resolves with the error code of a fresh TCP connection attempt, or "connected". */
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

/** Resolves once `port` refuses connections: close() has begun and the listener is closed. */
function stoppedAccepting(port: number): Promise<void> {
  return vi.waitFor(async () => expect(await tryConnect(port)).toBe("ECONNREFUSED"), { timeout: 10_000, interval: 5 });
}

/**
 * Counts the server's stored grants with a fresh connection (after the app
 * closed its own): its SQLite file, or its PostgreSQL database.
 */
async function grantsOnDisk(s: TestServer): Promise<number> {
  const url = s.app.config.databaseUrl;
  if (url === undefined) {
    const db = new Database(s.app.config.dbPath, { readonly: true });
    try {
      return (db.prepare("select count(*) as n from grants").get() as { n: number }).n;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>("select count(*) as n from grants")).rows[0]!.n);
  } finally {
    await client.end();
  }
}

/** Whether the app's store still answers (false once the app closed it). */
function storeOpen(s: TestServer): Promise<boolean> {
  return s.h.faults.storeAlive();
}

/**
 * A raw HTTP/1.1 Create with Content-Length set and `Expect: 100-continue`:
 * Node's server answers 100 Continue right before it hands the request to
 * the handler, so once `started` resolves the call is in flight for sure.
 */
function rawCreate(port: number, apiKey: string) {
  const req = http.request({
    host: "127.0.0.1",
    port,
    path: CREATE,
    method: "POST",
    agent: false,
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${apiKey}`,
      "content-length": body.length,
      expect: "100-continue",
    },
  });
  const started = new Promise<void>((resolve) => req.once("continue", () => resolve()));
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
  response.catch(() => {}); // observed by the tests that expect a failure
  req.flushHeaders();
  return { req, started, response };
}

/** Tracks whether a promise has settled yet. */
function track<T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  const promise = p.finally(() => (done = true));
  return { promise, settled: () => done };
}

describe("graceful shutdown", () => {
  it("an HTTP/1.1 call in flight when close() starts completes; then the port and the store are closed", async () => {
    srv = await startTestServer();
    const before = await srv.h.grants.countGrants();
    const call = rawCreate(srv.port, srv.apiKey);
    await call.started;
    call.req.write(body.subarray(0, half));

    const closing = srv.server.close(); // not awaited yet
    await stoppedAccepting(srv.port);
    call.req.end(body.subarray(half));

    const res = await call.response;
    expect(res.status).toBe(200);
    const tokens = (JSON.parse(res.body) as { tokens: string[] }).tokens;
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatch(/^[A-Za-z0-9_-]+$/);

    await closing;
    expect(await tryConnect(srv.port)).toBe("ECONNREFUSED");
    expect(await storeOpen(srv)).toBe(false);
    // The acknowledged write is durable: a fresh connection finds it.
    expect(await grantsOnDisk(srv)).toBe(before + 1);
  });

  it("close() waits for the in-flight call and refuses new connections meanwhile", async () => {
    srv = await startTestServer();
    const call = rawCreate(srv.port, srv.apiKey);
    await call.started;
    call.req.write(body.subarray(0, half));

    const closing = track(srv.server.close());
    await stoppedAccepting(srv.port);
    expect(closing.settled()).toBe(false);
    expect(await storeOpen(srv)).toBe(true);

    call.req.end(body.subarray(half));
    expect((await call.response).status).toBe(200);
    await closing.promise;
    expect(await storeOpen(srv)).toBe(false);
  });

  it("an HTTP/2 (h2c) call in flight when close() starts completes", async () => {
    srv = await startTestServer();
    const session = http2.connect(`http://127.0.0.1:${srv.port}`);
    session.on("error", () => {});
    const stream = session.request({
      ":method": "POST",
      ":path": CREATE,
      "content-type": "application/json",
      "content-length": String(body.length),
      authorization: `Bearer ${srv.apiKey}`,
      expect: "100-continue",
    });
    const started = new Promise<void>((resolve) => stream.once("continue", () => resolve()));
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      let status = 0;
      let text = "";
      stream.on("response", (h) => (status = Number(h[":status"])));
      stream.setEncoding("utf8");
      stream.on("data", (c: string) => (text += c));
      stream.on("end", () => resolve({ status, body: text }));
      stream.on("error", reject);
    });
    await started;
    stream.write(body.subarray(0, half));

    const closing = srv.server.close();
    await stoppedAccepting(srv.port);
    stream.end(body.subarray(half));

    const res = await response;
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as { tokens: string[] }).tokens).toHaveLength(1);
    await closing;
    session.destroy();
    expect(await storeOpen(srv)).toBe(false);
  });

  it("a call that never finishes is cut off after ROOMGATE_SHUTDOWN_GRACE_MS and writes nothing", async () => {
    const logged: Array<Record<string, unknown>> = [];
    const log = pino({ level: "warn" }, { write: (line: string) => logged.push(JSON.parse(line)) });
    srv = await startTestServer({ env: { ROOMGATE_SHUTDOWN_GRACE_MS: "300" }, log });
    const call = rawCreate(srv.port, srv.apiKey);
    await call.started;
    call.req.write(body.subarray(0, half));
    const response = track(call.response.catch(() => undefined));

    // Not cut at once: the call is still open once the server stopped accepting.
    const closing = srv.server.close();
    await stoppedAccepting(srv.port);
    expect(response.settled()).toBe(false);
    await closing;
    // Cut when this server's grace (300 ms, not the test server's default
    // 2 s) ran out: the listener cuts only what is left when it expires.
    // How long the shutdown takes is measured by bench/shutdown.ts.
    expect(logged.filter((l) => l["msg"] === "shutdown grace over: connections still open were cut off")).toEqual([
      expect.objectContaining({ connections: 1, graceMs: 300 }),
    ]);

    const err = await call.response.then(
      (r) => `response ${r.status}`,
      (e: NodeJS.ErrnoException) => e.code ?? e.message,
    );
    expect(err).toBe("ECONNRESET");
    expect(await storeOpen(srv)).toBe(false);
    expect(await grantsOnDisk(srv)).toBe(0);
  });
});
