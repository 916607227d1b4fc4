// The stores the dialect-neutral repository tests run against. Each factory
// opens a fresh, migrated, empty database and arranges for the calling test
// to close (and remove) it when it finishes, so tests take only a factory.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";
import type { Database } from "../../src/store/database-port.js";
import { openPostgres } from "../../src/store/pg/connect.js";
import { postgresDatabase } from "../../src/store/pg/postgres-database.js";
import { openSqliteDatabase } from "../../src/store/sqlite-database.js";
import { createTestDatabase } from "../support/postgres.js";
import { testStore } from "../support/server.js";

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
 * PostgreSQL on a randomly named database of its own, migrated as a replica
 * migrates it at start, and dropped when the test finishes.
 */
export const openTempPostgres: DatabaseFactory = async () => {
  const target = await createTestDatabase();
  let db: Database | undefined;
  // Registered before the open can fail, so a failed open still drops it;
  // the pool ends before the drop.
  onTestFinished(async () => {
    await db?.close();
    await target.drop();
  });
  const handle = await openPostgres(target.url);
  db = postgresDatabase(handle.pool, () => handle.close());
  return db;
};

/**
 * The store the neutral tests run on, by name: the one this vitest project
 * tests (`ROOMGATE_TEST_STORE`, see testStore()) — SQLite in the "sqlite"
 * project, PostgreSQL in the "postgres" one.
 */
export const DATABASES: ReadonlyArray<readonly [string, DatabaseFactory]> =
  testStore() === "postgres" ? [["postgres", openTempPostgres]] : [["sqlite", openTempSqlite]];
