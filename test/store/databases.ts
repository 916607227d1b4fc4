// The stores the dialect-neutral repository tests run against. Each factory
// opens a fresh, migrated, empty database and arranges for the calling test
// to close (and remove) it when it finishes, so tests take only a factory.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";
import type { Database } from "../../src/store/database.js";
import { openSqliteDatabase } from "../../src/store/sqlite-database.js";

/** Opens a fresh database for the calling test. */
export type DatabaseFactory = () => Promise<Database>;

/**
 * SQLite in a temporary file: a file (not ":memory:") so reads outside a
 * transaction go through the separate read connection, as in production.
 */
export const openTempSqlite: DatabaseFactory = async () => {
  const dir = mkdtempSync(join(tmpdir(), "roomgate-repos-"));
  const db = openSqliteDatabase(join(dir, "roomgate.db"));
  onTestFinished(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return db;
};

/**
 * Every store the neutral tests run on, by name. PostgreSQL joins here once
 * its Database exists (a factory that creates a randomly named database and
 * drops it in onTestFinished).
 */
export const DATABASES: ReadonlyArray<readonly [string, DatabaseFactory]> = [["sqlite", openTempSqlite]];
