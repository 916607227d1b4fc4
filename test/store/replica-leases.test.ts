import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { ChangeFeed } from "../../src/domain/feed/change-feed.js";
import { FeedLease, StaleReplicaError } from "../../src/domain/feed/lease.js";
import { RemovalBarrier } from "../../src/domain/feed/removal-barrier.js";
import type { Database } from "../../src/store/database-port.js";
import { SqlJournal } from "../../src/store/journal-store.js";
import { SqlReplicaRegistry } from "../../src/store/replica-store.js";
import { DATABASES } from "./databases.js";

/**
 * The replica lease (src/domain/feed/lease.ts) and the removal barrier on
 * the real registry and the real change feed, on each store. Time is a
 * variable the test moves (the lease's monotonic clock is injected), so
 * nothing here waits on the wall clock.
 */

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

function feedOf(db: Database): { feed: ChangeFeed; journal: SqlJournal } {
  const journal = new SqlJournal(db);
  const feed = new ChangeFeed({
    source: { eventsAfter: (a, n) => journal.feedEventsAfter(a, n), lastId: () => journal.lastEventId() },
    apply: () => undefined,
    publish: () => undefined,
    // Never polls during a test: only confirmations read the feed.
    pollMs: 3_600_000,
    log: quiet,
  });
  feed.start(0);
  return { feed, journal };
}

async function writeEvent(db: Database, journal: SqlJournal): Promise<number> {
  const [e] = await db.write(() =>
    journal.record([], [{ tenantId: "t", type: EventType.TOKEN_REVOKED, actor: "system", at: Date.now() }]),
  );
  return e!.id;
}

describe.each(DATABASES)("replica leases on %s", (_name, open) => {
  it("the registry: renew counts the other servers' live processes; behind lists those short of an event; the applied id never moves back", async () => {
    const db = await open();
    const reg = new SqlReplicaRegistry(db);
    expect(await reg.renew("a1", "A", 5, 2000)).toBe(0);
    expect(await reg.renew("a2", "A", 5, 2000)).toBe(0);
    expect(await reg.renew("b1", "B", 3, 2000)).toBe(2);
    expect(await reg.behind("A", 4, 100)).toEqual([{ id: "b1", leaseMs: 2000 }]);
    expect(await reg.behind("B", 6, 100)).toEqual(
      expect.arrayContaining([
        { id: "a1", leaseMs: 2000 },
        { id: "a2", leaseMs: 2000 },
      ]),
    );
    await reg.report("b1", 9);
    expect(await reg.behind("A", 9, 100)).toEqual([]);
    // A renewal that read an older applied id before the report landed keeps the report's.
    await reg.renew("b1", "B", 7, 2000);
    expect(await reg.behind("A", 9, 100)).toEqual([]);
    // A process whose lease ran out long ago is not waited for.
    await db.write(() => db.run(sql`update replicas set renewed_at = renewed_at - 10000 where id = ${"b1"}`));
    expect(await reg.behind("A", 100, 100)).toEqual([]);
    await reg.remove("a1", 3_600_000);
    expect(await reg.renew("b1", "B", 9, 2000)).toBe(1);
  });

  it("a lease: answers from memory while it runs; past it, confirms first; a required event is applied first", async () => {
    const db = await open();
    const { feed, journal } = feedOf(db);
    let now = 1_000;
    const lease = new FeedLease({
      feed,
      registry: new SqlReplicaRegistry(db),
      id: "p1",
      serverId: "S",
      leaseMs: 2000,
      log: quiet,
      now: () => now,
    });
    expect(lease.check(500)).toBeDefined(); // never confirmed yet
    await lease.confirm();
    expect(lease.check(500)).toBeUndefined();
    const id = await writeEvent(db, journal);
    now += 1999;
    expect(lease.check(500)).toBeUndefined(); // still within the lease: no read
    expect(feed.appliedId).toBe(0);
    now += 1;
    const wait = lease.check(500);
    expect(wait).toBeDefined();
    await wait;
    expect(feed.appliedId).toBe(id);
    expect(lease.check(500)).toBeUndefined();
    // A sibling wrote this one: it is applied before the next answer.
    const next = await writeEvent(db, journal);
    lease.require(next);
    await lease.check(500);
    expect(feed.appliedId).toBe(next);
    feed.stop();
    await lease.stop();
  });

  it("a lease that cannot confirm (the store is gone) refuses with StaleReplicaError, never answers from memory", async () => {
    const db = await open();
    const { feed } = feedOf(db);
    let now = 0;
    const lease = new FeedLease({
      feed,
      registry: new SqlReplicaRegistry(db),
      id: "p1",
      serverId: "S",
      leaseMs: 2000,
      log: quiet,
      now: () => now,
    });
    await lease.confirm();
    await db.close();
    now += 2000;
    await expect(lease.check(200)).rejects.toBeInstanceOf(StaleReplicaError);
    now += 5000;
    await expect(lease.check(200)).rejects.toBeInstanceOf(StaleReplicaError);
    feed.stop();
  });

  it("the removal barrier waits for a live process of another server to report the event, and no longer than its lease", async () => {
    const db = await open();
    const { journal } = feedOf(db);
    const reg = new SqlReplicaRegistry(db);
    const id = await writeEvent(db, journal);
    await reg.renew("b1", "B", 0, 2000);
    const barrier = new RemovalBarrier({ registry: reg, serverId: "A", log: quiet });
    let done = false;
    const waiting = barrier.waitApplied(id).then(() => (done = true));
    // It polls: the wait is real, until B reports.
    await expect.poll(async () => (await reg.behind("A", id, 100)).length).toBe(1);
    expect(done).toBe(false);
    await reg.report("b1", id);
    await waiting;
    // A process that never reports holds a write up at most one lease (plus margin) from the commit.
    const next = await writeEvent(db, journal);
    let now = 0;
    const bounded = new RemovalBarrier({ registry: reg, serverId: "A", log: quiet, now: () => (now += 700) });
    await bounded.waitApplied(next);
    expect(now).toBeGreaterThanOrEqual(2100);
    expect(await reg.behind("A", next, 100)).toEqual([{ id: "b1", leaseMs: 2000 }]);
  });
});
