import type { SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type pg from "pg";
import { flatValues, insertChunks, insertText } from "../batch-insert.js";
import { TransactionScope, type Database, type Row } from "../database-port.js";
import { CHANGES_CHANNEL } from "./notify.js";

/** The replicated store: a {@link Database} over a PostgreSQL pool. */
export interface PostgresDatabase extends Database {
  readonly dialect: "postgres";
  readonly pool: pg.Pool;
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

const dialect = new PgDialect();
const dollar = (n: number) => `$${n}`;
const undefinedAsNull = (v: unknown) => (v === undefined ? null : v);

/** A pool or a client checked out for one transaction. */
type Queryable = Pick<pg.Pool, "query"> | pg.PoolClient;

/**
 * Wraps `pool` as a {@link Database}. Every write transaction takes
 * {@link WRITE_LOCK_KEY} first and, when it commits, notifies
 * {@link CHANGES_CHANNEL} (PostgreSQL delivers a NOTIFY at commit, never for
 * a rollback), which wakes the other replicas' feeds.
 */
export function postgresDatabase(pool: pg.Pool, onClose: () => Promise<void> = () => pool.end()): PostgresDatabase {
  const scope = new TransactionScope<pg.PoolClient>();
  const current = (): Queryable => scope.current ?? pool;
  const query = async (q: SQL): Promise<pg.QueryResult> => {
    const rendered = dialect.sqlToQuery(q);
    return current().query(rendered.sql, rendered.params as unknown[]);
  };
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
    async write<T>(fn: () => Promise<T>): Promise<T> {
      if (scope.current !== undefined) return fn();
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query("BEGIN");
        await client.query("SELECT pg_advisory_xact_lock($1)", [WRITE_LOCK_KEY.toString()]);
        const result = await scope.enter(client, fn);
        await client.query("SELECT pg_notify($1, '')", [CHANGES_CHANNEL]);
        await client.query("COMMIT");
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
