import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import {
  ChangeFeed,
  FeedBehindError,
  type FeedEvent,
  type FeedLog,
  type FeedSource,
  type FeedTimers,
} from "../../src/domain/feed/change-feed.js";
import { decodeEffects, encodeEffects, InvalidEffectsError, type LiveEffects } from "../../src/domain/feed/effects.js";
import type { StoredEvent } from "../../src/domain/journal.js";
import { RestrictionIndex } from "../../src/domain/moderation/restrictions.js";
import { RevocationIndex } from "../../src/domain/tokens/revocations.js";

// A pino logger is what the app passes; this only has to compile.
const _pinoFits: FeedLog = pino({ enabled: false });
void _pinoFits;

/**
 * Stands for the events table (all tenants, id order): rows are "committed"
 * by pushing them. Counts reads; `hold()` makes reads wait, so a test can
 * call catchUp while a run is in the middle of one.
 */
class ArraySource implements FeedSource {
  readonly rows: FeedEvent[] = [];
  lastIdCalls = 0;
  reads: number[] = [];
  failWith: Error | undefined;
  private gate: Promise<void> | undefined;
  private release: (() => void) | undefined;
  private readsOnly = false;

  append(effects: string | null = null, id = (this.rows.at(-1)?.id ?? 0) + 1): FeedEvent {
    const e = event(id, effects);
    this.rows.push(e);
    return e;
  }

  /** Makes reads wait until {@link open}; with `readsOnly`, lastId still answers. */
  hold(readsOnly = false): void {
    this.readsOnly = readsOnly;
    this.gate = new Promise((r) => (this.release = r));
  }

  open(): void {
    this.gate = undefined;
    this.release?.();
  }

  async lastId(): Promise<number> {
    this.lastIdCalls++;
    // The snapshot is taken when the read is sent, like a real query.
    const last = this.rows.at(-1)?.id ?? 0;
    const failure = this.failWith;
    if (!this.readsOnly) await this.gate;
    if (failure) throw failure;
    return last;
  }

  async eventsAfter(afterId: number, limit: number): Promise<FeedEvent[]> {
    this.reads.push(afterId);
    const page = this.rows.filter((e) => e.id > afterId).slice(0, limit);
    await this.gate;
    if (this.failWith) throw this.failWith;
    return page;
  }
}

function event(id: number, effects: string | null, tenantId = "t1"): FeedEvent {
  return { id, tenantId, type: EventType.TOKEN_REVOKED, roomId: "r1", userId: "u1", actor: "system", at: id, effects };
}

/** Effects revoking token `tok-<n>`, so applied effects can be told apart. */
function revokeToken(n: number | string): string {
  return encodeEffects({ revocations: [{ kind: "token", tenantId: "t1", tokenId: `tok-${n}`, at: 1 }] })!;
}

/** Timers that fire only when the test says so. */
class ManualTimers implements FeedTimers {
  private next = 1;
  readonly pending = new Map<number, { fn: () => void; ms: number }>();
  set(fn: () => void, ms: number): number {
    const h = this.next++;
    this.pending.set(h, { fn, ms });
    return h;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Fires every pending timer set for `ms`. */
  fire(ms: number): void {
    for (const [h, t] of [...this.pending]) {
      if (t.ms !== ms) continue;
      this.pending.delete(h);
      t.fn();
    }
  }
  count(ms: number): number {
    return [...this.pending.values()].filter((t) => t.ms === ms).length;
  }
}

class RecordingLog implements FeedLog {
  readonly lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  info(obj: object, msg: string): void {
    this.lines.push({ level: "info", obj: obj as Record<string, unknown>, msg });
  }
  warn(obj: object, msg: string): void {
    this.lines.push({ level: "warn", obj: obj as Record<string, unknown>, msg });
  }
  error(obj: object, msg: string): void {
    this.lines.push({ level: "error", obj: obj as Record<string, unknown>, msg });
  }
  at(level: string) {
    return this.lines.filter((l) => l.level === level);
  }
}

const POLL = 1_000;
const feeds: ChangeFeed[] = [];
afterEach(() => {
  for (const f of feeds.splice(0)) f.stop();
});

/** A feed over `source` applying into real indexes, recording what it did. */
function harness(
  source: FeedSource,
  opts: {
    batchSize?: number;
    timers?: FeedTimers;
    pollMs?: number;
    clock?: () => number;
    applyThrowsFor?: number;
  } = {},
) {
  const revocations = new RevocationIndex();
  const restrictions = new RestrictionIndex();
  const applied: number[] = [];
  const published: number[][] = [];
  const trace: string[] = [];
  const log = new RecordingLog();
  const feed = new ChangeFeed({
    source,
    apply: (effects: LiveEffects, e: StoredEvent) => {
      if (e.id === opts.applyThrowsFor) throw new Error("bug in apply");
      applied.push(e.id);
      trace.push(`apply ${e.id}`);
      for (const r of effects.revocations ?? []) revocations.add(r);
      for (const r of effects.restrictionsSet ?? []) restrictions.set(r);
      for (const r of effects.restrictionsLifted ?? []) restrictions.lift(r.tenantId, r.roomId, r.userId, r.kind);
    },
    publish: (events) => {
      published.push(events.map((e) => e.id));
      trace.push(`publish ${events.map((e) => e.id).join(",")}`);
    },
    pollMs: opts.pollMs ?? POLL,
    batchSize: opts.batchSize,
    log,
    timers: opts.timers ?? new ManualTimers(),
    clock: opts.clock,
  });
  feeds.push(feed);
  return { feed, revocations, restrictions, applied, published, trace, log };
}

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe("effects codec", () => {
  it("round-trips every kind of effect and stores nothing for no effects", () => {
    const effects: LiveEffects = {
      revocations: [
        { kind: "token", tenantId: "t", tokenId: "k", at: 1 },
        { kind: "user", tenantId: "t", userId: "u", at: 2 },
        { kind: "user_room", tenantId: "t", userId: "u", roomId: "r", at: 3 },
        { kind: "room", tenantId: "t", roomId: "r", at: 4 },
      ],
      restrictionsSet: [
        { tenantId: "t", roomId: "r", userId: "u", kind: "mute", until: 99 },
        { tenantId: "t", roomId: "r", userId: "u", kind: "room_block", until: null },
      ],
      restrictionsLifted: [{ tenantId: "t", roomId: "r", userId: "u", kind: "chat_block" }],
      apiKeysRevoked: [{ tenantId: "t", keyId: "key1" }],
      keyringChanged: true,
    };
    expect(decodeEffects(encodeEffects(effects)!)).toEqual(effects);
    expect(encodeEffects(undefined)).toBeNull();
    expect(encodeEffects({})).toBeNull();
    expect(encodeEffects({ revocations: [], apiKeysRevoked: [] })).toBeNull();
  });

  it.each([
    ["not JSON", "{", "$"],
    ["an array", "[]", "$"],
    ["an unknown top-level field", '{"revocationz":[]}', "$.revocationz"],
    ["an unknown revocation kind", '{"revocations":[{"kind":"space","tenantId":"t","at":1}]}', "revocations[0].kind"],
    [
      "a revocation missing its token id",
      '{"revocations":[{"kind":"token","tenantId":"t","at":1}]}',
      "revocations[0].tokenId",
    ],
    [
      "a field of another kind",
      '{"revocations":[{"kind":"room","tenantId":"t","roomId":"r","userId":"u","at":1}]}',
      "revocations[0].userId",
    ],
    ["a string time", '{"revocations":[{"kind":"room","tenantId":"t","roomId":"r","at":"1"}]}', "revocations[0].at"],
    ["an empty tenant", '{"apiKeysRevoked":[{"tenantId":"","keyId":"k"}]}', "apiKeysRevoked[0].tenantId"],
    [
      "a bad restriction kind",
      '{"restrictionsLifted":[{"tenantId":"t","roomId":"r","userId":"u","kind":"ban"}]}',
      "restrictionsLifted[0].kind",
    ],
    [
      "a missing until",
      '{"restrictionsSet":[{"tenantId":"t","roomId":"r","userId":"u","kind":"mute"}]}',
      "restrictionsSet[0].until",
    ],
    ["keyringChanged false", '{"keyringChanged":false}', "keyringChanged"],
    ["a list that is an object", '{"revocations":{}}', "revocations"],
  ])("rejects %s with a typed error naming where", (_what, text, path) => {
    let caught: unknown;
    try {
      decodeEffects(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidEffectsError);
    expect((caught as InvalidEffectsError).path).toBe(path);
  });

  it("refuses to encode a malformed value, so it never reaches the log", () => {
    const bad = { revocations: [{ kind: "token", tenantId: "t", at: 1 }] } as unknown as LiveEffects;
    expect(() => encodeEffects(bad)).toThrow(InvalidEffectsError);
  });
});

describe("ChangeFeed", () => {
  it("applies then publishes each batch in strict id order before reading the next, reading past gaps", async () => {
    const source = new ArraySource();
    for (const id of [1, 2, 3, 5, 6, 9, 10]) source.append(revokeToken(id), id); // 4, 7, 8: burned ids
    const h = harness(source, { batchSize: 3 });
    h.feed.start(0);
    expect(await h.feed.catchUp()).toBe(10);
    expect(h.trace).toEqual([
      "apply 1",
      "apply 2",
      "apply 3",
      "publish 1,2,3",
      "apply 5",
      "apply 6",
      "apply 9",
      "publish 5,6,9",
      "apply 10",
      "publish 10",
    ]);
    expect(source.reads).toEqual([0, 3, 9]);
    expect(h.revocations.revokedTokenCount).toBe(7);
    // Nothing new: nothing applied twice, and no event read needlessly.
    expect(await h.feed.catchUp()).toBe(10);
    expect(h.applied).toEqual([1, 2, 3, 5, 6, 9, 10]);
    expect(source.reads).toEqual([0, 3, 9]);
  });

  it("starts after the id the state was loaded at", async () => {
    const source = new ArraySource();
    for (let i = 1; i <= 5; i++) source.append(revokeToken(i));
    const h = harness(source);
    h.feed.start(3);
    await h.feed.catchUp();
    expect(h.applied).toEqual([4, 5]);
    expect(h.feed.appliedId).toBe(5);
  });

  it("applies set and lifted restrictions in order", async () => {
    const source = new ArraySource();
    const block = { tenantId: "t1", roomId: "r1", userId: "u1", kind: "room_block" as const };
    source.append(encodeEffects({ restrictionsSet: [{ ...block, until: null }] }));
    source.append(encodeEffects({ restrictionsLifted: [block] }));
    source.append(encodeEffects({ restrictionsSet: [{ ...block, kind: "mute", until: null }] }));
    const h = harness(source, { batchSize: 1 });
    h.feed.start(0);
    await h.feed.catchUp();
    expect(h.restrictions.active("t1", "r1", "u1", 0)).toEqual([{ kind: "mute", until: null }]);
  });

  it("N concurrent catchUp calls share one run", async () => {
    const source = new ArraySource();
    for (let i = 1; i <= 5; i++) source.append(revokeToken(i));
    const h = harness(source);
    h.feed.start(0);
    const results = await Promise.all(Array.from({ length: 10 }, () => h.feed.catchUp()));
    expect(results).toEqual(Array(10).fill(5));
    expect(source.lastIdCalls).toBe(1);
    expect(source.reads).toEqual([0]);
    expect(h.applied).toEqual([1, 2, 3, 4, 5]);
  });

  it("calls made during a run trigger exactly one more run, which covers what they committed before calling", async () => {
    const source = new ArraySource();
    for (let i = 1; i <= 5; i++) source.append(revokeToken(i));
    const h = harness(source);
    h.feed.start(0);
    source.hold(true);
    const first = h.feed.catchUp();
    await settle();
    expect(source.reads).toEqual([0]); // the first run is reading events 1..5
    source.append(revokeToken(6)); // committed before the next calls
    const later = [h.feed.catchUp(), h.feed.catchUp(), h.feed.catchUp()];
    source.open();
    expect(await first).toBe(5);
    expect(await Promise.all(later)).toEqual([6, 6, 6]);
    expect(source.lastIdCalls).toBe(2);
    expect(h.applied).toEqual([1, 2, 3, 4, 5, 6]);
    expect(h.published).toEqual([[1, 2, 3, 4, 5], [6]]);
  });

  it("a run stops at the id that was last when it began, even while events keep coming", async () => {
    const source = new ArraySource();
    for (let i = 1; i <= 4; i++) source.append(revokeToken(i));
    let appends = 0;
    // Every read finds a new event committed meanwhile: a run reading until
    // it finds nothing would never return.
    const h = harness(source, { batchSize: 2 });
    const read = source.eventsAfter.bind(source);
    source.eventsAfter = async (afterId, limit) => {
      if (appends++ < 100) source.append(revokeToken(`x${appends}`));
      return read(afterId, limit);
    };
    h.feed.start(0);
    expect(await h.feed.catchUp()).toBeGreaterThanOrEqual(4);
    expect(appends).toBeLessThan(10);
  });

  it("a malformed stored effects value is logged and skipped, the event still published", async () => {
    const source = new ArraySource();
    source.append(revokeToken(1));
    source.append("{not json");
    source.append('{"revocations":[{"kind":"token","tenantId":"t1","at":1}]}');
    source.append('{"keyringChanged":true,"fromTheFuture":1}');
    source.append(revokeToken(5));
    source.append(revokeToken(6));
    const h = harness(source, { applyThrowsFor: 5 });
    h.feed.start(0);
    expect(await h.feed.catchUp()).toBe(6);
    expect(h.applied).toEqual([1, 6]);
    expect(h.published).toEqual([[1, 2, 3, 4, 5, 6]]);
    expect(h.revocations.revokedTokenCount).toBe(2);
    const errors = h.log.at("error");
    expect(errors.map((l) => [l.obj.eventId, l.obj.path])).toEqual([
      [2, "$"],
      [3, "revocations[0].tokenId"],
      [4, "$.fromTheFuture"],
      [5, undefined],
    ]);
  });

  it("never applies an event twice even when the source repeats one", async () => {
    const source = new ArraySource();
    for (let i = 1; i <= 3; i++) source.append(revokeToken(i));
    source.rows.push(event(2, revokeToken(2)));
    source.append(revokeToken(4), 4);
    const h = harness(source);
    h.feed.start(0);
    await h.feed.catchUp();
    expect(h.applied).toEqual([1, 2, 3, 4]);
    expect(h.published.flat()).toEqual([1, 2, 3, 4]);
    expect(h.log.at("warn")).toHaveLength(1);
  });

  it("waitFor resolves at once when applied, after catching up when not, and rejects with FeedBehindError on timeout", async () => {
    const source = new ArraySource();
    for (let i = 1; i <= 3; i++) source.append(revokeToken(i));
    const timers = new ManualTimers();
    const h = harness(source, { timers });
    h.feed.start(0);
    await h.feed.catchUp();
    const reads = source.lastIdCalls;
    await h.feed.waitFor(3, 500);
    expect(source.lastIdCalls).toBe(reads); // no read for what is applied

    source.append(revokeToken(4)); // written on another replica
    await h.feed.waitFor(4, 500);
    expect(h.feed.appliedId).toBe(4);
    expect(timers.count(500)).toBe(0); // its timeout was cleared

    // An id nobody wrote (yet): waits, then gives up.
    let outcome: unknown = "pending";
    h.feed.waitFor(7, 500).then(
      () => (outcome = "resolved"),
      (err: unknown) => (outcome = err),
    );
    await settle();
    expect(outcome).toBe("pending");
    timers.fire(500);
    await settle();
    expect(outcome).toBeInstanceOf(FeedBehindError);
    expect(outcome).toMatchObject({ eventId: 7, appliedId: 4 });
  });

  it("waitFor outlasts a source outage, through the polling loop", async () => {
    const source = new ArraySource();
    const timers = new ManualTimers();
    const h = harness(source, { timers });
    h.feed.start(0);
    source.failWith = new Error("database down");
    const waiting = h.feed.waitFor(1, 60_000);
    await settle();
    expect(h.log.at("error")).toHaveLength(1);
    source.failWith = undefined;
    source.append(revokeToken(1));
    timers.fire(POLL);
    await waiting;
    expect(h.applied).toEqual([1]);
  });

  it("source errors reach catchUp callers, are logged once per streak, and polling retries", async () => {
    const source = new ArraySource();
    source.append(revokeToken(1));
    const timers = new ManualTimers();
    let now = 0;
    const h = harness(source, { timers, clock: () => now });
    h.feed.start(0);
    const down = new Error("connection refused");
    source.failWith = down;
    await expect(h.feed.catchUp()).rejects.toBe(down);
    for (let i = 0; i < 5; i++) {
      timers.fire(POLL);
      await settle();
    }
    expect(source.lastIdCalls).toBe(6); // retried on every poll
    expect(h.log.at("error")).toHaveLength(1); // not once per poll
    now += 10_000;
    timers.fire(POLL);
    await settle();
    expect(h.log.at("error")).toHaveLength(2);
    expect(timers.count(POLL)).toBe(1); // the loop is still armed
    source.failWith = undefined;
    timers.fire(POLL);
    await settle();
    expect(h.applied).toEqual([1]);
    expect(h.log.at("info")).toHaveLength(1);
  });

  it("poke wakes the feed now; after stop() no timer is left and nothing reads", async () => {
    const source = new ArraySource();
    const timers = new ManualTimers();
    const h = harness(source, { timers });
    h.feed.start(0);
    expect(timers.count(POLL)).toBe(1);
    source.append(revokeToken(1));
    h.feed.poke();
    await settle();
    expect(h.applied).toEqual([1]);

    const waiting = h.feed.waitFor(2, 30_000);
    expect(timers.count(30_000)).toBe(1);
    h.feed.stop();
    await expect(waiting).rejects.toBeInstanceOf(FeedBehindError);
    await expect(h.feed.waitFor(2, 30_000)).rejects.toBeInstanceOf(FeedBehindError);
    expect(timers.pending.size).toBe(0);
    const calls = source.lastIdCalls;
    source.append(revokeToken(2));
    h.feed.poke();
    await settle();
    expect(source.lastIdCalls).toBe(calls);
    expect(h.applied).toEqual([1]);
  });

  it("a poll that ends after stop() does not re-arm the loop", async () => {
    const source = new ArraySource();
    const timers = new ManualTimers();
    const h = harness(source, { timers });
    h.feed.start(0);
    source.hold();
    timers.fire(POLL); // a poll is now reading
    await settle();
    h.feed.stop();
    source.open();
    await settle();
    expect(timers.pending.size).toBe(0);
  });

  it("polls with Node's timers and picks up appended events", async () => {
    const source = new ArraySource();
    const published: number[] = [];
    const feed = new ChangeFeed({
      source,
      apply: () => {},
      publish: (es) => published.push(...es.map((e) => e.id)),
      pollMs: 5,
      log: new RecordingLog(),
    });
    feeds.push(feed);
    feed.start(0);
    for (let i = 1; i <= 3; i++) source.append(null);
    await vi.waitFor(() => expect(feed.appliedId).toBe(3), { timeout: 10_000, interval: 5 });
    source.append(null);
    await vi.waitFor(() => expect(feed.appliedId).toBe(4), { timeout: 10_000, interval: 5 });
    expect(published).toEqual([1, 2, 3, 4]);
  });
});

// Two writer processes append to one SQLite file, each in BEGIN IMMEDIATE
// transactions (the store's write lock), holding the lock for a random
// moment and sometimes rolling back, while two feeds (two replicas) tail the
// file by polling and by catchUp calls. Each writer prints the token ids it
// committed.
const WRITER = `
import { createRequire } from "node:module";
const require = createRequire(process.cwd() + "/");
const Database = require("better-sqlite3");
const [path, name, rounds] = process.argv.slice(1);
const db = new Database(path);
db.pragma("busy_timeout = 20000");
const insert = db.prepare("INSERT INTO events (tenant_id, type, room_id, user_id, actor, at, effects) VALUES ('t1', 5, 'r1', '', 'system', ?, ?)");
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const committed = [];
for (let i = 0; i < Number(rounds); i++) {
  db.exec("BEGIN IMMEDIATE");
  const mine = [];
  const n = 1 + (i % 3);
  for (let j = 0; j < n; j++) {
    const tokenId = name + "-" + i + "-" + j;
    insert.run(Date.now(), JSON.stringify({ revocations: [{ kind: "token", tenantId: "t1", tokenId, at: 1 }] }));
    mine.push(tokenId);
    pause(Math.random() < 0.5 ? 1 : 0);
  }
  if (Math.random() < 0.2) {
    db.exec("ROLLBACK");
  } else {
    db.exec("COMMIT");
    committed.push(...mine);
  }
  pause(Math.random() < 0.3 ? 1 : 0);
}
db.close();
process.stdout.write(JSON.stringify(committed));
`;

function runWriter(path: string, name: string, rounds: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", WRITER, path, name, String(rounds)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`writer ${name} exited ${code}: ${err}`)),
    );
  });
}

/** A FeedSource over the events table of a SQLite file (its own connection). */
function sqliteSource(path: string): FeedSource & { close(): void } {
  const db = new Database(path, { readonly: true });
  db.pragma("busy_timeout = 20000");
  const after = db.prepare(
    "SELECT id, tenant_id, type, room_id, user_id, actor, at, effects FROM events WHERE id > ? ORDER BY id LIMIT ?",
  );
  const last = db.prepare("SELECT coalesce(max(id), 0) AS id FROM events");
  type Row = {
    id: number;
    tenant_id: string;
    type: number;
    room_id: string;
    user_id: string;
    actor: string;
    at: number;
    effects: string | null;
  };
  return {
    async eventsAfter(afterId, limit) {
      return (after.all(afterId, limit) as Row[]).map((r) => ({
        id: r.id,
        tenantId: r.tenant_id,
        type: r.type as EventType,
        roomId: r.room_id,
        userId: r.user_id,
        actor: r.actor as StoredEvent["actor"],
        at: r.at,
        effects: r.effects,
      }));
    },
    async lastId() {
      return (last.get() as { id: number }).id;
    },
    close: () => db.close(),
  };
}

describe("ChangeFeed on a real SQLite file with two writer processes", () => {
  it("every committed event is applied exactly once, in id order, the same on two replicas", async () => {
    const dir = mkdtempSync(join(tmpdir(), "roomgate-feed-"));
    const path = join(dir, "events.db");
    const setup = new Database(path);
    setup.pragma("journal_mode = WAL");
    setup.exec(`CREATE TABLE events (
      id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, type INTEGER NOT NULL,
      room_id TEXT NOT NULL DEFAULT '', user_id TEXT NOT NULL DEFAULT '', actor TEXT NOT NULL,
      at INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '', token_id TEXT NOT NULL DEFAULT '',
      message_id TEXT NOT NULL DEFAULT '', role TEXT NOT NULL DEFAULT '', until INTEGER, effects TEXT)`);
    const sources = [sqliteSource(path), sqliteSource(path)];
    try {
      const replicas = sources.map((source) => {
        const index = new RevocationIndex();
        const appliedTokens: string[] = [];
        const publishedIds: number[] = [];
        let batches = 0;
        const feed = new ChangeFeed({
          source,
          apply: (effects) => {
            for (const r of effects.revocations ?? []) {
              index.add(r);
              if (r.kind === "token") appliedTokens.push(r.tokenId);
            }
          },
          publish: (events) => {
            batches++;
            publishedIds.push(...events.map((e) => e.id));
          },
          pollMs: 2,
          batchSize: 50,
          log: new RecordingLog(),
        });
        feeds.push(feed);
        feed.start(0);
        return { feed, index, appliedTokens, publishedIds, batches: () => batches };
      });
      // Besides polling, replica 0 is hammered with catchUp calls, as writers do.
      let writing = true;
      const caller = (async () => {
        while (writing) {
          await Promise.all([replicas[0]!.feed.catchUp(), replicas[0]!.feed.catchUp()]);
          // Load, not synchronisation: lets the writers and pollers run between bursts.
          await new Promise((r) => setTimeout(r, 1));
        }
      })();
      const committed = await Promise.all([runWriter(path, "a", 150), runWriter(path, "b", 150)]);
      writing = false;
      await caller;
      const ids = (setup.prepare("SELECT id FROM events ORDER BY id").all() as { id: number }[]).map((r) => r.id);
      const expectedTokens = committed.flat();
      expect(ids.length).toBe(expectedTokens.length);
      for (const r of replicas) {
        await r.feed.catchUp();
        expect(r.publishedIds).toEqual(ids); // every event, once, in id order
        expect(r.appliedTokens).toHaveLength(expectedTokens.length);
        expect(new Set(r.appliedTokens)).toEqual(new Set(expectedTokens));
        expect(r.index.revokedTokenCount).toBe(expectedTokens.length);
        // It tailed while the writers wrote, not once at the end.
        expect(r.batches()).toBeGreaterThan(5);
      }
      expect(replicas[0]!.appliedTokens).toEqual(replicas[1]!.appliedTokens);
    } finally {
      for (const s of sources) s.close();
      setup.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
