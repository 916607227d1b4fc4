import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openSqliteDatabase } from "../../src/store/sqlite-database.js";
import { SAFETY_NET_PAGES } from "../../src/store/wal-checkpointer.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("WAL checkpoints on their own thread", () => {
  it("committed pages reach the database file without the writing connection checkpointing, and close stops the thread", async () => {
    const dir = mkdtempSync(join(tmpdir(), "roomgate-ckpt-"));
    dirs.push(dir);
    const path = join(dir, "roomgate.db");
    const db = openSqliteDatabase(path);
    // The writing connection's own threshold is only the safety net.
    expect(db.connection.pragma("wal_autocheckpoint", { simple: true })).toBe(SAFETY_NET_PAGES);
    const before = statSync(path).size;
    await db.write(async () => {
      await db.run(sql`create table filler (id integer primary key, pad text not null)`);
      await db.insertRows(
        "filler",
        ["id", "pad"],
        Array.from({ length: 2_000 }, (_, i) => [i + 1, "x".repeat(500)]),
      );
    });
    // ~250 pages committed: far under the safety net, so only the thread moves them into the file.
    await vi.waitFor(() => expect(statSync(path).size).toBeGreaterThan(before + 500_000), {
      timeout: 5_000,
      interval: 50,
    });
    await db.close();
    expect(statSync(path).size).toBeGreaterThan(before + 500_000);
  });
});
