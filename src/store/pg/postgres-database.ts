import { Mutex } from "async-mutex";
import type { SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type pg from "pg";
import { flatValues, insertChunks, insertText } from "../batch-insert.js";
import { performance } from "node:perf_hooks";
import { TransactionScope, type Database, type Row, type WriteObserver } from "../database-port.js";
import { CHANGES_CHANNEL } from "./notify.js";

/** The replicated store: a {@link Database} over a PostgreSQL pool. */
export interface PostgresDatabase extends Database {
  readonly dialect: "postgres";
  readonly pool: pg.Pool;
  /**
   * Write calls of this process queued behind the one in progress (which may
   * itself wait for another replica's lock: see `pg_locks`).
   */
  readonly waitingWriters: number;
}

/**
 * The key of the transaction-level advisory lock every write transaction
 * takes first. It serialises writers across all replicas, which is what
 * makes event ids commit in id order: a sequence hands out ids at insert
 * time, so two concurrent transactions could otherwise commit 7 after 8,
 * and a feed reader that already moved past 8 would never see 7. With one
 * writer at a time, a reader of `id > last` skips nothing (an id burned by
 * a rollback is a gap that stays empty). The price is one writer at a time,
 * like SQLite; reads are not affected.
 */
export const WRITE_LOCK_KEY = 0x72672d7772697465n; // "rg-write"; the migration lock ("roomgate") is another key

// One round trip each: the key and the channel are constants, never input.
const BEGIN_LOCKED = `BEGIN; SELECT pg_advisory_xact_lock(${WRITE_LOCK_KEY.toString()})`;
const NOTIFY_COMMIT = `SELECT pg_notify('${CHANGES_CHANNEL}', ''); COMMIT`;

const dialect = new PgDialect();
const dollar = (n: number) => `$${n}`;
const undefinedAsNull = (v: unknown) => (v === undefined ? null : v);

/** A pool or a client checked out for one transaction. */
type Queryable = Pick<pg.Pool, "query"> | pg.PoolClient;

/**
 * Wraps `pool` as a {@link Database}. Every write transaction takes
 * {@link WRITE_LOCK_KEY} first and, when it commits, notifies
 * {@link CHANGES_CHANNEL} (PostgreSQL delivers a NOTIFY at commit, never for
 * a rollback), which wakes the other replicas' feeds. This process's writes
 * queue in process before taking a pooled connection: writes queued on the
 * advisory lock, each holding a connection, would otherwise drain the pool
 * and leave every read (the change feed, the lease) waiting behind them.
 */
export function postgresDatabase(
  pool: pg.Pool,
  onClose: () => Promise<void> = () => pool.end(),
  observer: WriteObserver = {},
): PostgresDatabase {
  const scope = new TransactionScope<pg.PoolClient>();
  const current = (): Queryable => scope.current ?? pool;
  const query = async (q: SQL): Promise<pg.QueryResult> => {
    const rendered = dialect.sqlToQuery(q);
    return current().query(rendered.sql, rendered.params as unknown[]);
  };
  const mutex = new Mutex();
  let waiting = 0;
  let closed = false;
  return {
    dialect: "postgres",
    pool,
    async all<T extends Row = Row>(q: SQL): Promise<T[]> {
      return (await query(q)).rows as T[];
    },
    async get<T extends Row = Row>(q: SQL): Promise<T | undefined> {
      return (await query(q)).rows[0] as T | undefined;
    },
    async run(q: SQL): Promise<number> {
      return (await query(q)).rowCount ?? 0;
    },
    async insertRows(table, columns, rows, suffix = ""): Promise<number> {
      let changes = 0;
      for (const chunk of insertChunks(rows, columns.length)) {
        const text = insertText(table, columns, chunk.length, dollar, suffix);
        changes += (await current().query(text, flatValues(chunk, undefinedAsNull))).rowCount ?? 0;
      }
      return changes;
    },
    get inTransaction() {
      return scope.current !== undefined;
    },
    get waitingWriters() {
      return waiting;
    },
    write<T>(fn: () => Promise<T>): Promise<T> {
      if (scope.current !== undefined) return fn();
      const calledAt = performance.now();
      const locked = () => observer.onLockWait?.((performance.now() - calledAt) / 1000);
      waiting++;
      return mutex.runExclusive(() => {
        waiting--;
        return transaction(pool, scope, fn, locked);
      });
    },
    async ping(): Promise<boolean> {
      try {
        return (await pool.query("select 1 as ok")).rows.length === 1;
      } catch {
        return false;
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await onClose();
    },
  };
}

/** One write transaction on a pooled connection: the lock, `fn`, the notification, COMMIT. */
async function transaction<T>(
  pool: pg.Pool,
  scope: TransactionScope<pg.PoolClient>,
  fn: () => Promise<T>,
  locked: () => void,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(BEGIN_LOCKED);
    locked();
    const result = await scope.enter(client, fn);
    await client.query(NOTIFY_COMMIT);
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch((e: Error) => {
      broken = e;
    });
    throw err;
  } finally {
    // A client whose rollback failed is in an unknown state: destroy it.
    client.release(broken);
  }
}
