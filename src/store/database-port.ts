import { AsyncLocalStorage } from "node:async_hooks";
import type { SQL } from "drizzle-orm";

/** The SQL dialects roomgate runs on. */
export type Dialect = "sqlite" | "postgres";

/** One result row, columns by (aliased) name. */
export type Row = Record<string, unknown>;

/**
 * Runs drizzle `sql` queries on one connection. Repositories write their SQL
 * once, in the subset both dialects share (double-quoted identifiers,
 * `ON CONFLICT`, `RETURNING`, `LIMIT`, no dialect functions), and alias
 * columns to the names the domain uses (`tenant_id AS "tenantId"`).
 */
export interface SqlRunner {
  /** Every row of a query. */
  all<T extends Row = Row>(q: SQL): Promise<T[]>;
  /** The first row, or undefined. */
  get<T extends Row = Row>(q: SQL): Promise<T | undefined>;
  /** Runs a statement; the number of rows it changed. */
  run(q: SQL): Promise<number>;
}

/**
 * The one store handle: reads, and the one way to write. Inside
 * {@link Database.write} every query — the repositories' included, with no
 * handle passed around — runs in that transaction (an AsyncLocalStorage
 * carries it across awaits); outside, queries read committed state.
 */
export interface Database extends SqlRunner {
  readonly dialect: Dialect;
  /**
   * Runs `fn` in one write transaction that takes the write lock before its
   * first statement (SQLite `BEGIN IMMEDIATE`; PostgreSQL a transaction-level
   * advisory lock), so concurrent writers — other requests, other replicas —
   * wait instead of failing, and event ids commit in id order. Commits when
   * `fn` resolves, rolls back when it rejects. A call made inside another
   * write joins it.
   */
  write<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * INSERTs `rows` (values in `columns` order) into `table`, each statement
   * followed by `suffix` (e.g. an ON CONFLICT clause) — PostgreSQL in
   * multi-row chunks (round trips; see batch-insert.ts), SQLite one
   * prepared single-row statement per row — with no query builder: a
   * 1,000-row Create batch would otherwise spend longer rendering its 9,000
   * parameters than the database spends storing them. `table`, `columns`
   * and `suffix` are SQL text — the caller's constants, never input — in
   * the subset both dialects accept. Like `run`, it joins the calling
   * context's write transaction.
   *
   * @returns Rows changed.
   */
  insertRows(
    table: string,
    columns: readonly string[],
    rows: readonly (readonly unknown[])[],
    suffix?: string,
  ): Promise<number>;
  /** True while the calling async context is inside {@link write}. */
  readonly inTransaction: boolean;
  /** True when the store answers a trivial query. */
  ping(): Promise<boolean>;
  /** Closes every connection; safe to call twice. */
  close(): Promise<void>;
}

/** What a store reports about its write lock (for metrics). */
export interface WriteObserver {
  /**
   * Seconds from a {@link Database.write} call to its transaction holding
   * the write lock (SQLite: BEGIN IMMEDIATE done; PostgreSQL: the advisory
   * lock granted), queueing behind this process's other writes included.
   */
  readonly onLockWait?: (seconds: number) => void;
}

/**
 * Carries the transaction of the current async context: `write` enters it,
 * and repositories' queries find it without a handle being passed around.
 */
export class TransactionScope<Tx> {
  private readonly storage = new AsyncLocalStorage<Tx>();

  /** The transaction of the calling context, if any. */
  get current(): Tx | undefined {
    return this.storage.getStore();
  }

  /** Runs `fn` with `tx` as the current transaction. */
  enter<T>(tx: Tx, fn: () => Promise<T>): Promise<T> {
    return this.storage.run(tx, fn);
  }
}

/** A boolean column as both dialects return it (SQLite: 0/1; PostgreSQL: boolean). */
export function bool(v: unknown): boolean {
  return v === true || v === 1 || v === "1" || v === "t";
}

/** A nullable integer column (PostgreSQL int8 arrives as a number, see the pg connection). */
export function num(v: unknown): number {
  return typeof v === "number" ? v : Number(v);
}

/** A nullable integer column, keeping null. */
export function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}
