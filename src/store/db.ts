import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as schema from "./schema.js";

/** The drizzle handle every repository takes. */
export type Db = BetterSQLite3Database<typeof schema> & { readonly $client: Database.Database };

/** An open store: the drizzle handle plus the raw connection to close. */
export interface Store {
  readonly db: Db;
  readonly sqlite: Database.Database;
  /** Checkpoints the WAL and closes the connection; safe to call twice. */
  close(): void;
}

/**
 * Opens (creating if needed) the SQLite database at `path` — or an in-memory
 * one for ":memory:" — sets the pragmas roomgate relies on and applies every
 * committed migration.
 */
export function openStore(path: string): Store {
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
  sqlite.pragma("busy_timeout = 5000");
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: migrationsFolder() });
  let closed = false;
  return {
    db,
    sqlite,
    close() {
      if (closed) return;
      closed = true;
      if (path !== ":memory:") sqlite.pragma("wal_checkpoint(TRUNCATE)");
      sqlite.close();
    },
  };
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
