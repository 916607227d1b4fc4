import { randomBytes } from "node:crypto";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { ChangeFeed, type FeedLog, type FeedSource } from "../../src/domain/feed/change-feed.js";
import { encodeEffects } from "../../src/domain/feed/effects.js";
import { RevocationIndex } from "../../src/domain/tokens/revocations.js";
import { listenForChanges, notifySql, type ChangeListener, type ListenLog } from "../../src/store/pg/notify.js";

// A pino logger is what the app passes; this only has to compile.
const _pinoFits: ListenLog = pino({ enabled: false });
void _pinoFits;

// Real PostgreSQL: ROOMGATE_TEST_DATABASE_URL, else the server on
// 127.0.0.1:5432. Without one these tests are skipped with a notice, except
// under CI=true, where that is a failure. Each run works in a database of its
// own, dropped at the end; nothing here depends on the app's schema.

const BASE_URL = process.env.ROOMGATE_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

async function reachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: BASE_URL, connectionTimeoutMillis: 3_000 });
  c.on("error", () => {});
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

const available = await reachable();
if (!available) {
  if (process.env.CI === "true") {
    describe("PostgreSQL", () => {
      it("is reachable (required when CI=true)", () => {
        throw new Error(`no PostgreSQL answers at ${new URL(BASE_URL).host}; set ROOMGATE_TEST_DATABASE_URL`);
      });
    });
  } else {
    console.warn(
      `⚠ test/store/pg-notify.test.ts SKIPPED: no PostgreSQL at ${new URL(BASE_URL).host} (set ROOMGATE_TEST_DATABASE_URL)`,
    );
  }
}

/** Records lines; the listener and feeds log here. */
class RecordingLog implements FeedLog {
  readonly lines: { level: string; obj: object; msg: string }[] = [];
  info(obj: object, msg: string): void {
    this.lines.push({ level: "info", obj, msg });
  }
  warn(obj: object, msg: string): void {
    this.lines.push({ level: "warn", obj, msg });
  }
  error(obj: object, msg: string): void {
    this.lines.push({ level: "error", obj, msg });
  }
}

const dbName = `roomgate_feed_${randomBytes(6).toString("hex")}`;
let url: string;
const clients: pg.Client[] = [];
const listeners: ChangeListener[] = [];
const feeds: ChangeFeed[] = [];

/** A client on the scratch database, closed after the tests. */
async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  clients.push(c);
  return c;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: BASE_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

// Random short pauses inside the writers' transactions vary how they
// interleave (the subject of the race test), and the tailer under test polls
// like the feed does; neither waits for a state the assertions depend on.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The events of a scratch table as the feed reads them (its own client). */
function tableSource(client: pg.Client, table: string): FeedSource {
  return {
    async eventsAfter(afterId, limit) {
      const r = await client.query<{ id: string; effects: string | null }>(
        `SELECT id, effects FROM ${table} WHERE id > $1 ORDER BY id LIMIT $2`,
        [afterId, limit],
      );
      return r.rows.map((row) => ({
        id: Number(row.id),
        tenantId: "t1",
        type: EventType.TOKEN_REVOKED,
        actor: "system" as const,
        at: 0,
        effects: row.effects,
      }));
    },
    async lastId() {
      const r = await client.query<{ id: string }>(`SELECT coalesce(max(id), 0) AS id FROM ${table}`);
      return Number(r.rows[0]!.id);
    },
  };
}

/** A replica's feed over `table`: applies token revocations, records what it published. */
async function replica(table: string, pollMs: number) {
  const index = new RevocationIndex();
  const tokens: string[] = [];
  const published: number[] = [];
  const feed = new ChangeFeed({
    source: tableSource(await connect(), table),
    apply: (effects) => {
      for (const r of effects.revocations ?? []) {
        index.add(r);
        if (r.kind === "token") tokens.push(r.tokenId);
      }
    },
    publish: (events) => published.push(...events.map((e) => e.id)),
    pollMs,
    batchSize: 64,
    log: new RecordingLog(),
  });
  feeds.push(feed);
  feed.start(0);
  return { feed, index, tokens, published };
}

const effectsFor = (tokenId: string) =>
  encodeEffects({ revocations: [{ kind: "token", tenantId: "t1", tokenId, at: 1 }] });

describe.skipIf(!available)("PostgreSQL LISTEN/NOTIFY and the change feed", () => {
  beforeAll(async () => {
    await admin((c) => c.query(`CREATE DATABASE ${dbName}`));
    const u = new URL(BASE_URL);
    u.pathname = `/${dbName}`;
    url = u.toString();
  });

  afterAll(async () => {
    for (const f of feeds) f.stop();
    for (const l of listeners) await l.close();
    for (const c of clients) await c.end().catch(() => {});
    if (url) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
  });

  describe("listenForChanges", () => {
    it("is woken by a committed NOTIFY, at commit, and never by a rolled-back one", async () => {
      const got: (string | undefined)[] = [];
      listeners.push(await listenForChanges(url, "feed_test", (p) => got.push(p), new RecordingLog()));
      const a = await connect();
      const b = await connect();

      await a.query("BEGIN");
      await a.query(notifySql("feed_test", "rolled-back"));
      await a.query("ROLLBACK");

      // A notification is delivered at commit: "open" is sent before "other"
      // but committed after it, so it must arrive after it.
      await a.query("BEGIN");
      await a.query(notifySql("feed_test", "open"));
      await b.query("BEGIN");
      await b.query(notifySql("feed_test", "other"));
      await b.query("COMMIT");
      await vi.waitFor(() => expect(got).toContain("other"), { timeout: 10_000, interval: 5 });
      expect(got).toEqual(["other"]); // the rolled-back one, delivered in order, would come first
      await a.query("COMMIT");
      await vi.waitFor(() => expect(got).toContain("open"), { timeout: 10_000, interval: 5 });
      expect(got).toEqual(["other", "open"]);
    });

    it("ignores other channels and validates channel names", async () => {
      const got: (string | undefined)[] = [];
      listeners.push(await listenForChanges(url, "feed_one", (p) => got.push(p), new RecordingLog()));
      const a = await connect();
      await a.query(notifySql("feed_two", "no"));
      await a.query(notifySql("feed_one", "yes"));
      await vi.waitFor(() => expect(got).toContain("yes"), { timeout: 10_000, interval: 5 });
      expect(got).toEqual(["yes"]);
      expect(() => notifySql("Robert'); DROP TABLE x; --")).toThrow(RangeError);
      await expect(listenForChanges(url, "bad name", () => {}, new RecordingLog())).rejects.toThrow(RangeError);
    });

    it("rejects when the first connection fails", async () => {
      const u = new URL(url);
      u.pathname = "/roomgate_feed_no_such_database";
      await expect(listenForChanges(u.toString(), "feed_test", () => {}, new RecordingLog())).rejects.toMatchObject({
        code: "3D000",
      });
    });

    it("reconnects after its connection is killed, says so with onNotify, and keeps listening; close() ends it", async () => {
      const app = `feed-test-${randomBytes(4).toString("hex")}`;
      const got: (string | undefined)[] = [];
      const log = new RecordingLog();
      const listener = await listenForChanges(url, "feed_kill", (p) => got.push(p), log, {
        retryMs: 10,
        applicationName: app,
      });
      listeners.push(listener);
      const pids = async () =>
        (
          await admin((c) =>
            c.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = $2", [
              app,
              dbName,
            ]),
          )
        ).rows.map((r) => r.pid);
      const [before] = await pids();
      expect(before).toBeDefined();

      await admin((c) => c.query("SELECT pg_terminate_backend($1)", [before]));
      await vi.waitFor(() => expect(got).toContain(undefined), { timeout: 10_000, interval: 5 });
      expect(log.lines.map((l) => l.level)).toEqual(["warn", "info"]);
      const after = await pids();
      expect(after).toHaveLength(1);
      expect(after[0]).not.toBe(before);

      const a = await connect();
      await a.query(notifySql("feed_kill", "after"));
      await vi.waitFor(() => expect(got).toContain("after"), { timeout: 10_000, interval: 5 });
      expect(got).toEqual([undefined, "after"]);

      await listener.close();
      await vi.waitFor(async () => expect(await pids()).toEqual([]), { timeout: 10_000, interval: 20 });
    });
  });

  describe("the change feed over PostgreSQL (issue 8: ids commit out of order)", () => {
    const LOCK_KEY = 8_008_001;

    it("8 concurrent writers serialized by pg_advisory_xact_lock, some rolling back: every tailer sees every committed event once, in id order", async () => {
      const table = "race_events";
      const setup = await connect();
      await setup.query(
        `CREATE TABLE ${table} (id bigserial PRIMARY KEY, writer int NOT NULL, seq int NOT NULL, effects text)`,
      );

      // Two replicas, woken by NOTIFY, polling slowly as the fallback.
      const replicas = [await replica(table, 200), await replica(table, 200)];
      for (const r of replicas)
        listeners.push(await listenForChanges(url, "race_changes", () => r.feed.poke(), new RecordingLog()));

      // And the bare "id > last" loop, the reader the issue warns about.
      const raw = await connect();
      const seen: number[] = [];
      let done = false;
      const tailer = (async () => {
        let last = 0;
        for (;;) {
          const finished = done;
          const r = await raw.query<{ id: string }>(`SELECT id FROM ${table} WHERE id > $1 ORDER BY id LIMIT 100`, [
            last,
          ]);
          for (const row of r.rows) {
            seen.push(Number(row.id));
            last = Number(row.id);
          }
          if (finished && r.rows.length === 0) return;
          if (r.rows.length === 0) await sleep(1);
        }
      })();

      const WRITERS = 8;
      const ROUNDS = 25;
      const committed: number[] = [];
      const committedTokens: string[] = [];
      const rolledBack: number[] = [];
      await Promise.all(
        Array.from({ length: WRITERS }, async (_, w) => {
          const c = await connect();
          for (let i = 0; i < ROUNDS; i++) {
            await c.query("BEGIN");
            await c.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
            await sleep(Math.random() < 0.5 ? 1 : 0);
            const ids: number[] = [];
            const tokens: string[] = [];
            for (let j = 0; j < 1 + (i % 2); j++) {
              const token = `w${w}-${i}-${j}`;
              const r = await c.query<{ id: string }>(
                `INSERT INTO ${table} (writer, seq, effects) VALUES ($1, $2, $3) RETURNING id`,
                [w, i, effectsFor(token)],
              );
              ids.push(Number(r.rows[0]!.id));
              tokens.push(token);
            }
            await sleep(Math.random() < 0.5 ? 2 : 0);
            if (Math.random() < 0.2) {
              await c.query("ROLLBACK");
              rolledBack.push(...ids);
            } else {
              await c.query(notifySql("race_changes"));
              await c.query("COMMIT");
              committed.push(...ids);
              committedTokens.push(...tokens);
            }
          }
        }),
      );
      done = true;
      await tailer;

      const expected = [...committed].sort((x, y) => x - y);
      const stored = (await setup.query<{ id: string }>(`SELECT id FROM ${table} ORDER BY id`)).rows.map((r) =>
        Number(r.id),
      );
      expect(stored).toEqual(expected);
      expect(rolledBack.length).toBeGreaterThan(0); // ids were burned: the log has gaps
      expect(seen).toEqual(expected); // none skipped, none twice, in order
      for (const r of replicas) {
        await r.feed.catchUp();
        expect(r.published).toEqual(expected);
        expect(r.tokens).toHaveLength(committedTokens.length);
        expect(new Set(r.tokens)).toEqual(new Set(committedTokens));
        expect(r.index.revokedTokenCount).toBe(committedTokens.length);
      }
      expect(replicas[0]!.tokens).toEqual(replicas[1]!.tokens);
    });

    it("WITHOUT the advisory lock a tailer skips an event committed late; with it, the later writer waits", async () => {
      const setup = await connect();
      const a = await connect();
      const b = await connect();
      const insert = (c: pg.Client, table: string, token: string) =>
        c
          .query<{ id: string }>(`INSERT INTO ${table} (writer, seq, effects) VALUES (0, 0, $1) RETURNING id`, [
            effectsFor(token),
          ])
          .then((r) => Number(r.rows[0]!.id));

      // Without the lock: A draws an id and stays open; B draws the next one
      // and commits; the tailer moves past A's id before A commits.
      await setup.query(
        "CREATE TABLE unlocked_events (id bigserial PRIMARY KEY, writer int NOT NULL, seq int NOT NULL, effects text)",
      );
      const loose = await replica("unlocked_events", 60_000);
      await a.query("BEGIN");
      const idA = await insert(a, "unlocked_events", "a");
      await b.query("BEGIN");
      const idB = await insert(b, "unlocked_events", "b");
      await b.query("COMMIT");
      expect(idB).toBeGreaterThan(idA);
      expect(await loose.feed.catchUp()).toBe(idB);
      await a.query("COMMIT");
      expect(await loose.feed.catchUp()).toBe(idB);
      const storedLoose = (await setup.query<{ id: string }>("SELECT id FROM unlocked_events ORDER BY id")).rows.map(
        (r) => Number(r.id),
      );
      expect(storedLoose).toEqual([idA, idB]);
      expect(loose.published).toEqual([idB]); // A's event is lost to this replica for good
      expect(loose.tokens).toEqual(["b"]);

      // With the lock: B cannot draw an id until A commits, so ids commit in order.
      await setup.query(
        "CREATE TABLE locked_events (id bigserial PRIMARY KEY, writer int NOT NULL, seq int NOT NULL, effects text)",
      );
      const strict = await replica("locked_events", 60_000);
      await a.query("BEGIN");
      await a.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY + 1]);
      const idA2 = await insert(a, "locked_events", "a");
      await b.query("BEGIN");
      const bDone = (async () => {
        await b.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY + 1]);
        const id = await insert(b, "locked_events", "b");
        await b.query("COMMIT");
        return id;
      })();
      // B is now waiting for the lock, not writing.
      await vi.waitFor(
        async () => {
          const r = await setup.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
          );
          expect(Number(r.rows[0]!.n)).toBe(1);
        },
        { timeout: 10_000, interval: 10 },
      );
      expect(await strict.feed.catchUp()).toBe(0);
      await a.query("COMMIT");
      const idB2 = await bDone;
      expect(idB2).toBeGreaterThan(idA2);
      await strict.feed.catchUp();
      expect(strict.published).toEqual([idA2, idB2]);
      expect(strict.tokens).toEqual(["a", "b"]);
    });
  });
});
