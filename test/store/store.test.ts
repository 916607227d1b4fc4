import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openSqliteDatabase } from "../../src/store/sqlite-database.js";

// Repositories, batches and their atomicity: repositories.test.ts (every dialect).
describe("store", () => {
  it("opens a file database in WAL mode with foreign keys and full sync, migrations applied", async () => {
    const dir = mkdtempSync(join(tmpdir(), "roomgate-store-"));
    try {
      const store = openSqliteDatabase(join(dir, "sub", "roomgate.db"));
      expect(store.connection.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(store.connection.pragma("foreign_keys", { simple: true })).toBe(1);
      expect(store.connection.pragma("synchronous", { simple: true })).toBe(2);
      const tables = store.connection.prepare("select name from sqlite_master where type='table'").pluck().all();
      expect(tables).toEqual(
        expect.arrayContaining(["tenants", "api_keys", "rooms", "grants", "__drizzle_migrations"]),
      );
      await store.close();
      await store.close();
      expect(statSync(join(dir, "sub")).isDirectory()).toBe(true);
      expect(statSync(join(dir, "sub", "roomgate.db")).mode & 0o777).toBe(0o600);
      // Re-opening applies nothing twice.
      const again = openSqliteDatabase(join(dir, "sub", "roomgate.db"));
      const journal = JSON.parse(readFileSync("migrations/meta/_journal.json", "utf8")) as { entries: unknown[] };
      expect(again.connection.prepare("select count(*) from __drizzle_migrations").pluck().get()).toBe(
        journal.entries.length,
      );
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
