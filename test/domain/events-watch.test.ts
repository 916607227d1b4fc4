import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { RoomgateError } from "../../src/domain/errors.js";
import { EventBus } from "../../src/domain/events/event-bus.js";
import { watchEvents, type WatchOptions } from "../../src/domain/events/watch.js";
import type { ChangeFeed } from "../../src/domain/feed/change-feed.js";
import type { StoredEvent } from "../../src/domain/journal.js";
import type { SqlJournal } from "../../src/store/journal-store.js";
import { openSqliteDatabase, type SqliteDatabase } from "../../src/store/sqlite-database.js";
import { wireDomain } from "../support/domain-kit.js";

// The real journal (SQLite in a file, so replay reads see committed rows
// only), the real change feed and the real bus, wired as a replica wires
// them: a commit writes the event in a transaction, then the writer awaits
// the feed, which reads it back from the log and publishes it.
let dir: string;
let db: SqliteDatabase;
let journal: SqlJournal;
let feed: ChangeFeed;
const bus = new EventBus();
const source = {
  subscribe: bus.subscribe.bind(bus),
  eventsAfter: (t: string, r: string | undefined, a: number, l: number) => journal.eventsAfter(t, r, a, l),
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "roomgate-watch-"));
  db = openSqliteDatabase(join(dir, "roomgate.db"));
  // Thousands of commits: durability is not what this file tests.
  db.connection.pragma("synchronous = OFF");
  ({ journal, feed } = wireDomain(db, { bus }));
});
afterAll(async () => {
  feed?.stop();
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

let tenantSeq = 0;
function freshTenant(): string {
  return `tenant-${++tenantSeq}`;
}

/** Writes one event without waking the feed (as another replica's write looks here until the next poll). */
async function store(tenantId: string, roomId = "room-a"): Promise<number> {
  const [e] = await db.write(() =>
    journal.record(
      [],
      [{ tenantId, type: EventType.TOKEN_REVOKED, roomId, userId: "u", actor: "key:k", at: Date.now() }],
    ),
  );
  return e!.id;
}

/** Commits one event (write, then the feed publishes it after the commit) and returns its id. */
async function commit(tenantId: string, roomId = "room-a"): Promise<number> {
  const id = await store(tenantId, roomId);
  await feed.catchUp();
  return id;
}

function watch(opts: Omit<WatchOptions, "signal"> & { signal?: AbortSignal }) {
  const ctl = new AbortController();
  const it = watchEvents(source, { signal: ctl.signal, ...opts });
  return { it, ctl };
}

/** it.next(), failing instead of hanging when nothing comes (a gap); generous for a busy machine. */
async function nextWithin(it: AsyncGenerator<StoredEvent>, ms = 10_000): Promise<IteratorResult<StoredEvent>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([it.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe("watchEvents: replay then live", () => {
  it("events committed while the replay runs are sent once, in order, with no gap", async () => {
    const tenantId = freshTenant();
    for (let i = 0; i < 1_200; i++) await commit(tenantId);
    const start = (await journal.eventsAfter(tenantId, undefined, 0, 1))[0]!.id + 99; // resume after the 100th
    const { it, ctl } = watch({ tenantId, afterEventId: start, pageSize: 100 });
    const got: number[] = [];
    let last = 0;
    for (let n = 0; ; n++) {
      const r = await nextWithin(it);
      got.push(r.value!.id);
      // Commit during the replay (every 37th event) and after it, up to a fixed total.
      if (n % 37 === 0 && n < 1_000) for (let k = 0; k < 3; k++) last = await commit(tenantId);
      if (n >= 1_000 && r.value!.id === last) break;
    }
    // Nothing is left over from the switch to live: the next event is the next commit.
    const live = it.next();
    const sentinel = await commit(tenantId);
    got.push((await live).value!.id);
    ctl.abort();
    const expected = (await journal.eventsAfter(tenantId, undefined, start, 100_000)).map((e) => e.id);
    expect(got).toEqual(expected);
    expect(got.length).toBe(1_100 + 28 * 3 + 1); // n = 0, 37, …, 999; and the sentinel
    // Consecutive: every event of the tenant after the resume point, none twice.
    expect(got.every((id, i) => id === start + 1 + i)).toBe(true);
    expect(got[got.length - 1]).toBe(sentinel);
    expect(await it.next()).toEqual({ done: true, value: undefined });
    expect(bus.size).toBe(0);
  });

  it("events committed before the watch began but published by the feed after it are sent once, in order", async () => {
    const tenantId = freshTenant();
    const start = await commit(tenantId);
    const late = [await store(tenantId), await store(tenantId), await store(tenantId)];
    const { it, ctl } = watch({ tenantId, afterEventId: start, pageSize: 2 });
    // The replay read its first page (two of them) from the log…
    const got = [(await nextWithin(it)).value!.id];
    // …then the feed publishes all three to the live buffer as well.
    await feed.catchUp();
    const after = await commit(tenantId);
    while (got[got.length - 1] !== after) got.push((await nextWithin(it)).value!.id);
    expect(got).toEqual([...late, after]);
    ctl.abort();
  });

  it("after_event_id 0 streams only events committed after the watch began", async () => {
    const tenantId = freshTenant();
    await commit(tenantId);
    const { it, ctl } = watch({ tenantId, afterEventId: 0 });
    const first = it.next(); // starts the generator: it subscribes synchronously
    const a = await commit(tenantId);
    const b = await commit(tenantId);
    expect((await first).value!.id).toBe(a);
    expect((await nextWithin(it)).value!.id).toBe(b);
    ctl.abort();
  });

  it("a room watch skips other rooms, in the replay and live", async () => {
    const tenantId = freshTenant();
    const before = await commit(tenantId, "room-a");
    const inA1 = await commit(tenantId, "room-a");
    await commit(tenantId, "room-b");
    const { it, ctl } = watch({ tenantId, roomId: "room-a", afterEventId: before });
    expect((await nextWithin(it)).value!.id).toBe(inA1);
    const pending = nextWithin(it);
    await commit(tenantId, "room-b");
    await commit(freshTenant(), "room-a"); // same room id, another tenant
    const inA2 = await commit(tenantId, "room-a");
    expect((await pending).value!.id).toBe(inA2);
    ctl.abort();
  });

  it("property: any interleaving of commits, pages and filters yields exactly the stored events after the cursor", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 120 }), // events stored before the watch
        fc.integer({ min: 1, max: 40 }), // page size
        fc.constantFrom<"" | "room-a">("", "room-a"),
        fc.array(fc.array(fc.constantFrom("room-a", "room-b", "other-tenant"), { maxLength: 4 }), { maxLength: 60 }),
        fc.nat(),
        async (stored, pageSize, roomId, bursts, cursorSeed) => {
          const tenantId = freshTenant();
          const other = freshTenant();
          const ids: number[] = [await commit(tenantId, "room-a")];
          for (let i = 0; i < stored; i++) ids.push(await commit(tenantId, i % 3 === 0 ? "room-b" : "room-a"));
          const afterEventId = ids[cursorSeed % ids.length]!;
          const { it, ctl } = watch({ tenantId, roomId, afterEventId, pageSize });
          const got: number[] = [];
          const expected = async () =>
            (await journal.eventsAfter(tenantId, roomId || undefined, afterEventId, 100_000)).map((e) => e.id);
          // How many events the watcher must deliver, kept as commits happen.
          let due = (await expected()).length;
          let burst = 0;
          // Commit one burst after each received event (and up front), until the bursts run out.
          const commitBurst = async () => {
            for (const where of bursts[burst++] ?? []) {
              if (where === "other-tenant") await commit(other, "room-a");
              else {
                await commit(tenantId, where);
                if (roomId === "" || where === roomId) due++;
              }
            }
          };
          await commitBurst();
          while (burst < bursts.length || got.length < due) {
            if (got.length === due) {
              await commitBurst();
              continue;
            }
            const r = await nextWithin(it);
            got.push(r.value!.id);
            await commitBurst();
          }
          expect(got).toEqual(await expected());
          // No leftovers (duplicates) once caught up: the next event is the next commit.
          const live = it.next();
          const sentinel = await commit(tenantId, "room-a");
          expect((await live).value!.id).toBe(sentinel);
          ctl.abort();
          expect(await it.next()).toEqual({ done: true, value: undefined });
        },
      ),
      { numRuns: 60 },
    );
    expect(bus.size).toBe(0);
  });
});

describe("watchEvents: bounds and ending", () => {
  it("a watcher more than maxBuffered events behind fails with resource_exhausted and lets go of the bus", async () => {
    const tenantId = freshTenant();
    const { it } = watch({ tenantId, afterEventId: 0, maxBuffered: 5 });
    const first = it.next();
    await commit(tenantId);
    await first;
    for (let i = 0; i < 6; i++) await commit(tenantId); // one more than the buffer holds
    let err: unknown;
    try {
      await it.next();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RoomgateError);
    expect((err as RoomgateError).kind).toBe("resource_exhausted");
    expect((err as RoomgateError).message).toBe("watcher too slow; resume with after_event_id");
    expect(bus.size).toBe(0);
  });

  it("exactly maxBuffered pending events are all delivered", async () => {
    const tenantId = freshTenant();
    const { it, ctl } = watch({ tenantId, afterEventId: 0, maxBuffered: 5 });
    const first = it.next();
    const ids = [await commit(tenantId)];
    await first;
    for (let i = 0; i < 5; i++) ids.push(await commit(tenantId));
    const got = [ids[0]!];
    for (let i = 0; i < 5; i++) got.push((await nextWithin(it)).value!.id);
    expect(got).toEqual(ids);
    ctl.abort();
  });

  it("overflow during the replay is not fatal: the replay reads on, and nothing is lost or repeated", async () => {
    const tenantId = freshTenant();
    const start = await commit(tenantId);
    for (let i = 0; i < 50; i++) await commit(tenantId);
    const { it, ctl } = watch({ tenantId, afterEventId: start, maxBuffered: 4, pageSize: 3 });
    const got: number[] = [];
    let last = 0;
    // Three live events per replayed event: the buffer (4) overflows again and again.
    for (let n = 0; n < 60; n++) {
      got.push((await nextWithin(it)).value!.id);
      for (let k = 0; k < 3; k++) last = await commit(tenantId);
    }
    // Then the load stops and the watcher catches up to live.
    while (got[got.length - 1] !== last) got.push((await nextWithin(it)).value!.id);
    const live = it.next();
    const next = await commit(tenantId);
    got.push((await live).value!.id);
    expect(got).toEqual(Array.from({ length: next - start }, (_, i) => start + 1 + i));
    ctl.abort();
  });

  it("an overflow while the last (short) replay page is sent makes the replay read again instead of failing", async () => {
    const tenantId = freshTenant();
    const start = await commit(tenantId);
    for (let i = 0; i < 5; i++) await commit(tenantId);
    const { it, ctl } = watch({ tenantId, afterEventId: start, maxBuffered: 2, pageSize: 10 });
    const got = [(await nextWithin(it)).value!.id]; // the first page (5 events, short) was read
    const extra = [await commit(tenantId), await commit(tenantId), await commit(tenantId)]; // 3 > 2: the buffer overflows
    for (let i = 0; i < 4 + extra.length; i++) got.push((await nextWithin(it)).value!.id);
    expect(got).toEqual(Array.from({ length: 8 }, (_, i) => start + 1 + i));
    ctl.abort();
  });

  it("aborting the signal ends a waiting watch cleanly and unsubscribes", async () => {
    const tenantId = freshTenant();
    const { it, ctl } = watch({ tenantId, afterEventId: 0 });
    const pending = it.next();
    expect(bus.size).toBe(1);
    ctl.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(bus.size).toBe(0);
  });

  it("a consumer that stops early (return) unsubscribes too", async () => {
    const tenantId = freshTenant();
    const { it } = watch({ tenantId, afterEventId: 0 });
    const first = it.next();
    await commit(tenantId);
    await first;
    await it.return(undefined);
    expect(bus.size).toBe(0);
  });
});
