import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTenantWithKey } from "../../src/domain/auth/tenants.js";
import type { GrantRecord } from "../../src/domain/tokens/room-tokens.js";
import { openStore } from "../../src/store/db.js";
import { SqliteGrantStore } from "../../src/store/grant-store.js";
import { SqliteTenantStore } from "../../src/store/tenant-store.js";

function grant(tenantId: string, id: string): GrantRecord {
  return {
    id,
    tenantId,
    userId: "u1",
    roomId: "r1",
    permissions: [200, 201],
    metadata: { note: "x" },
    issuedAt: 1,
    expiresAt: 2,
    issuedBy: "k",
  };
}

describe("store", () => {
  it("opens a file database in WAL mode with foreign keys and full sync, migrations applied", () => {
    const dir = mkdtempSync(join(tmpdir(), "roomgate-store-"));
    try {
      const store = openStore(join(dir, "sub", "roomgate.db"));
      expect(store.sqlite.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(store.sqlite.pragma("foreign_keys", { simple: true })).toBe(1);
      expect(store.sqlite.pragma("synchronous", { simple: true })).toBe(2);
      const tables = store.sqlite.prepare("select name from sqlite_master where type='table'").pluck().all();
      expect(tables).toEqual(expect.arrayContaining(["tenants", "api_keys", "rooms", "grants", "__drizzle_migrations"]));
      store.close();
      store.close();
      expect(statSync(join(dir, "sub")).isDirectory()).toBe(true);
      expect(statSync(join(dir, "sub", "roomgate.db")).mode & 0o777).toBe(0o600);
      // Re-opening applies nothing twice.
      const again = openStore(join(dir, "sub", "roomgate.db"));
      const journal = JSON.parse(readFileSync("migrations/meta/_journal.json", "utf8")) as { entries: unknown[] };
      expect(again.sqlite.prepare("select count(*) from __drizzle_migrations").pluck().get()).toBe(journal.entries.length);
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("records a batch of grants with their rooms, and round-trips JSON columns", () => {
    const store = openStore(":memory:");
    const tenants = new SqliteTenantStore(store.db);
    const grants = new SqliteGrantStore(store.db);
    const { tenant } = createTenantWithKey(tenants, "t", 1);
    grants.recordGrants([grant(tenant.id, "a"), grant(tenant.id, "b")]);
    expect(grants.countGrants(tenant.id)).toBe(2);
    expect(grants.findGrant("a")).toEqual(grant(tenant.id, "a"));
    expect(store.sqlite.prepare("select count(*) from rooms").pluck().get()).toBe(1);
  });

  it("writes nothing when any row of a batch fails", () => {
    const store = openStore(":memory:");
    const tenants = new SqliteTenantStore(store.db);
    const grants = new SqliteGrantStore(store.db);
    const { tenant } = createTenantWithKey(tenants, "t", 1);
    // The duplicate id makes the third insert fail after two succeeded.
    expect(() => grants.recordGrants([grant(tenant.id, "a"), grant(tenant.id, "b"), grant(tenant.id, "a")])).toThrow();
    expect(grants.countGrants()).toBe(0);
    expect(store.sqlite.prepare("select count(*) from rooms").pluck().get()).toBe(0);
  });

  it("enforces the tenant foreign key", () => {
    const store = openStore(":memory:");
    const grants = new SqliteGrantStore(store.db);
    expect(() => grants.recordGrants([grant("no-such-tenant", "a")])).toThrow(/FOREIGN KEY/);
  });
});
