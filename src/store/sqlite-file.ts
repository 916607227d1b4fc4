import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** How long a statement waits for another connection's write lock before failing. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

/** Options of {@link openSqliteFile}. */
export interface SqliteOptions {
  /** Busy timeout in ms (default {@link DEFAULT_BUSY_TIMEOUT_MS}). */
  readonly busyTimeoutMs?: number;
}

/**
 * Opens (creating if needed) the SQLite database at `path` — or an in-memory
 * one for ":memory:" — sets the pragmas roomgate relies on and applies every
 * committed migration. The connection is the writing one of
 * openSqliteDatabase (sqlite-database.ts), which also closes it.
 */
export function openSqliteFile(path: string, opts: SqliteOptions = {}): Database.Database {
  if (path !== ":memory:") {
    mkdirSync(dirname(resolve(path)), { recursive: true, mode: 0o700 });
    // Created 0600 up front: it holds key hashes and grants, and SQLite gives
    // its -wal and -shm files the same mode.
    closeSync(openSync(path, "a", 0o600));
  }
  const sqlite = new Database(path);
  sqlite.pragma("journal_mode = WAL");
  // FULL, not NORMAL: an acknowledged write must survive a power cut.
  sqlite.pragma("synchronous = FULL");
  sqlite.pragma("foreign_keys = ON");
  // Another process (a server, `maintenance prune`) may hold the write lock:
  // wait for it rather than fail. This covers single statements and
  // BEGIN IMMEDIATE, which every write transaction starts with (see
  // SqliteDatabase.write for why).
  sqlite.pragma(`busy_timeout = ${busyTimeout(opts.busyTimeoutMs)}`);
  migrateRacing(() => migrate(drizzle(sqlite), { migrationsFolder: migrationsFolder() }));
  return sqlite;
}

function busyTimeout(ms: number | undefined): number {
  const v = ms ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`busy timeout must be a whole number of ms, got ${v}`);
  return v;
}

/**
 * Finds the committed migrations whether running from `src/` (tsx, vitest)
 * or from the compiled `dist/src/`.
 */
function migrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "migrations");
    if (existsSync(join(candidate, "meta", "_journal.json"))) return candidate;
    dir = dirname(dir);
  }
  throw new Error("roomgate: migrations folder not found");
}

/**
 * Applies the migrations, tolerating another process doing the same at the
 * same moment (two replicas starting on one fresh file). drizzle reads the
 * last applied migration before its transaction, so the loser of such a race
 * finds the tables already made and fails; by then the winner has committed,
 * and running again sees every migration applied and does nothing. A
 * migration that is really broken fails every time and is thrown.
 */
function migrateRacing(run: () => void): void {
  for (let attempt = 1; ; attempt++) {
    try {
      run();
      return;
    } catch (err) {
      if (attempt >= 5) throw err;
      // A short synchronous pause: this runs once, at start, before serving.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50 * attempt);
    }
  }
}
