import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { metricSample } from "../support/probes.js";
import {
  bearer,
  connectTransport,
  toArgument,
  tokensClient,
  validArgument,
  type TokensClient,
} from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

// Issue 22 (in part): how long writes wait for the lock and how late the
// event loop runs, on /metrics, both stores; and on PostgreSQL writes queue
// in process before taking a pooled connection, so queued writers never
// drain the pool under reads.

let srv: TestServer;
let tok: TokensClient;
beforeAll(async () => {
  srv = await startTestServer();
  tok = tokensClient(connectTransport(srv.baseUrl));
});
afterAll(() => srv?.close());

const key = () => bearer(srv.apiKey);
const create = (i: number) => tok.create({ arguments: [toArgument(validArgument(i))] }, key());
const scrape = async () => (await fetch(`${srv.baseUrl}/metrics`)).text();
const LOCK_WAIT = "roomgate_db_write_lock_wait_seconds";
const LOOP = "roomgate_event_loop_delay_seconds";

/** Holds the write lock (inside the app's one write transaction) until the returned function is called. */
async function holdWriteLock(): Promise<{ release: () => void; done: Promise<void> }> {
  let release!: () => void;
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const done = srv.h.transact(async () => {
    entered();
    await new Promise<void>((r) => (release = r));
  });
  await inside;
  return { release: () => release(), done };
}

describe("/metrics: the write lock wait and the event-loop delay", () => {
  it("counts every write's wait for the lock, one that queued behind a held lock included", async () => {
    const before = metricSample(await scrape(), `${LOCK_WAIT}_count`) ?? 0;
    await create(1);
    expect(metricSample(await scrape(), `${LOCK_WAIT}_count`)).toBeGreaterThan(before);
    const held = await holdWriteLock();
    const afterHeld = metricSample(await scrape(), `${LOCK_WAIT}_count`)!;
    const queued = create(2);
    await vi.waitFor(async () => expect(await srv.h.writersWaiting()).toBe(1), { timeout: 10_000, interval: 5 });
    held.release();
    await held.done;
    await queued;
    // (The lease's own writes may be counted too.)
    expect(metricSample(await scrape(), `${LOCK_WAIT}_count`)).toBeGreaterThanOrEqual(afterHeld + 1);
  });

  it("exports the event-loop delay histogram, and its samples grow", async () => {
    const first = metricSample(await scrape(), `${LOOP}_count`)!;
    expect(first).toBeGreaterThan(0);
    await vi.waitFor(async () => expect(metricSample(await scrape(), `${LOOP}_count`)).toBeGreaterThan(first), {
      timeout: 10_000,
      interval: 20,
    });
    // Not asserted here: that a 200 ms stall of this process lands in the
    // upper buckets. It did on Node 20 and never did on Node 24 in CI
    // (2026-12-06, cause not found); bench/ is where the delay is judged.
  });
});

describe("reads while writes queue", () => {
  it("with the lock held and more writes queued than the pool has connections, reads still answer", async () => {
    const { tokens } = await create(3);
    const held = await holdWriteLock();
    // PostgreSQL's pool holds 10 connections: each writer used to hold one while it queued.
    const queued = Array.from({ length: 12 }, (_, i) => create(10 + i));
    await vi.waitFor(async () => expect(await srv.h.writersWaiting()).toBe(12), { timeout: 10_000, interval: 5 });
    // From memory, and from the database (outside any transaction).
    expect((await tok.verify({ token: tokens[0]! }, key())).userId).toBe(validArgument(3).userId);
    expect(await srv.h.rows.get(sql`select count(*) as "n" from tenants`)).toBeDefined();
    expect(await srv.h.faults.storeAlive()).toBe(true);
    held.release();
    await held.done;
    expect((await Promise.all(queued)).map((r) => r.tokens.length)).toEqual(queued.map(() => 1));
  });
});
