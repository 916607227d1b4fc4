import { Mutex } from "async-mutex";
import BetterSqlite3 from "better-sqlite3";
import type { SQL } from "drizzle-orm";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import { openSqliteFile, type SqliteOptions } from "./sqlite-file.js";
import { insertText } from "./batch-insert.js";
import { TransactionScope, type Database, type Row, type WriteObserver } from "./database-port.js";
import { SAFETY_NET_PAGES, startWalCheckpointer, type WalCheckpointer } from "./wal-checkpointer.js";

/** The embedded store: a {@link Database} over one SQLite file. */
export interface SqliteDatabase extends Database {
  readonly dialect: "sqlite";
  /** The raw write connection (pragmas set, migrations applied). */
  readonly connection: BetterSqlite3.Database;
  /**
   * Write calls of this process queued for the write lock behind the one in
   * progress: read-only, so a test can see a writer really waits (PostgreSQL
   * shows the same in `pg_locks`).
   */
  readonly waitingWriters: number;
}

const dialect = new SQLiteSyncDialect();
// Prepared statements by SQL text: repositories issue a few dozen distinct
// queries, so preparing each once keeps a hot read at a few microseconds.
const MAX_CACHED_STATEMENTS = 512;

/** Runs rendered queries on one connection, preparing each distinct text once. */
class Runner {
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(readonly connection: BetterSqlite3.Database) {}

  statement(q: SQL): { stmt: BetterSqlite3.Statement; params: unknown[] } {
    const rendered = dialect.sqlToQuery(q);
    return { stmt: this.prepared(rendered.sql), params: rendered.params.map(bind) };
  }

  prepared(text: string): BetterSqlite3.Statement {
    let stmt = this.statements.get(text);
    if (stmt === undefined) {
      stmt = this.connection.prepare(text);
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      this.statements.set(text, stmt);
    }
    return stmt;
  }
}

/** better-sqlite3 binds no booleans (SQLite stores them as 0/1) and no undefined. */
function bind(p: unknown): unknown {
  return typeof p === "boolean" ? (p ? 1 : 0) : p === undefined ? null : p;
}

const questionMark = () => "?";

/** The connections of a file store: the writing one, and what reads outside a transaction. */
interface Connections {
  readonly writer: BetterSqlite3.Database;
  readonly reader: BetterSqlite3.Database;
  /** Stops the checkpointer, checkpoints the WAL and closes both connections. */
  close(): Promise<void>;
}

/**
 * Opens the writing connection ({@link openSqliteFile}) and, for a file, a
 * read-only one and the WAL checkpointer; an in-memory database has the one
 * connection.
 */
function openConnections(path: string, opts: SqliteOptions): Connections {
  const writer = openSqliteFile(path, opts);
  if (path === ":memory:") {
    return {
      writer,
      reader: writer,
      async close() {
        writer.close();
      },
    };
  }
  // Checkpoints off the request path (see wal-checkpointer.ts).
  writer.pragma(`wal_autocheckpoint = ${SAFETY_NET_PAGES}`);
  const checkpointer: WalCheckpointer = startWalCheckpointer(path);
  const reader = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
  reader.pragma(`busy_timeout = ${writer.pragma("busy_timeout", { simple: true }) as number}`);
  return {
    writer,
    reader,
    async close() {
      await checkpointer.stop();
      reader.close();
      writer.pragma("wal_checkpoint(TRUNCATE)");
      writer.close();
    },
  };
}

/**
 * Runs `fn` in one transaction on `connection`. IMMEDIATE: the write lock
 * first (waiting up to the busy timeout for another process), so a
 * read-then-write never fails with "database is locked" on a stale snapshot.
 */
async function inWriteTransaction<T>(
  connection: BetterSqlite3.Database,
  fn: () => Promise<T>,
  locked: () => void,
): Promise<T> {
  connection.exec("BEGIN IMMEDIATE");
  locked();
  try {
    const result = await fn();
    connection.exec("COMMIT");
    return result;
  } catch (err) {
    if (connection.inTransaction) connection.exec("ROLLBACK");
    throw err;
  }
}

/**
 * INSERTs `rows` with one prepared single-row statement, run per row: in
 * process there is no round trip to save, and binding a multi-row
 * statement's thousands of parameters measured slower (1,000 grant rows:
 * ~10 ms vs ~17 ms).
 */
function insertEach(
  runner: Runner,
  table: string,
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
  suffix: string,
): number {
  const stmt = runner.prepared(insertText(table, columns, 1, questionMark, suffix));
  const values = new Array<unknown>(columns.length);
  let changes = 0;
  for (const row of rows) {
    for (let i = 0; i < values.length; i++) values[i] = bind(row[i]);
    changes += stmt.run(values).changes;
  }
  return changes;
}

/**
 * Opens the SQLite store at `path` (":memory:" for a private in-memory one):
 * pragmas and migrations as {@link openSqliteFile}, plus a second, read-only
 * connection for reads outside a transaction. Transactions are async here
 * (a write call awaits between its statements), so a read on the writing
 * connection could see another call's uncommitted rows; the read connection
 * sees committed state only (WAL). An in-memory database has one connection.
 */
export function openSqliteDatabase(path: string, opts: SqliteOptions & WriteObserver = {}): SqliteDatabase {
  const connections = openConnections(path, opts);
  const writer = new Runner(connections.writer);
  const reader = connections.reader === connections.writer ? writer : new Runner(connections.reader);
  const scope = new TransactionScope<Runner>();
  // A connection has one transaction at a time, so concurrent `write` calls
  // of this process queue here (other processes queue on SQLite's own lock).
  const mutex = new Mutex();
  let waiting = 0;
  const current = () => scope.current ?? reader;
  // A write outside `write` still goes to the writing connection.
  const writing = () => scope.current ?? writer;
  let closed = false;

  return {
    dialect: "sqlite",
    connection: connections.writer,
    async all<T extends Row = Row>(q: SQL): Promise<T[]> {
      const { stmt, params } = current().statement(q);
      return stmt.all(...params) as T[];
    },
    async get<T extends Row = Row>(q: SQL): Promise<T | undefined> {
      const { stmt, params } = current().statement(q);
      return stmt.get(...params) as T | undefined;
    },
    async run(q: SQL): Promise<number> {
      const { stmt, params } = writing().statement(q);
      return stmt.run(...params).changes;
    },
    async insertRows(table, columns, rows, suffix = ""): Promise<number> {
      return insertEach(writing(), table, columns, rows, suffix);
    },
    get inTransaction() {
      return scope.current !== undefined;
    },
    get waitingWriters() {
      return waiting;
    },
    write<T>(fn: () => Promise<T>): Promise<T> {
      if (scope.current !== undefined) return fn();
      waiting++;
      const called = performance.now();
      const locked = () => opts.onLockWait?.((performance.now() - called) / 1000);
      return mutex.runExclusive(() => {
        waiting--;
        return inWriteTransaction(connections.writer, () => scope.enter(writer, fn), locked);
      });
    },
    async ping(): Promise<boolean> {
      return connections.writer.open && connections.writer.prepare("select 1 as ok").get() !== undefined;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      // Let a transaction in flight finish first.
      await mutex.runExclusive(async () => undefined);
      await connections.close();
    },
  };
}
