import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { apiKeyId, authenticateApiKey, generateApiKey, hashApiKey } from "../../src/domain/auth/api-keys.js";
import { bootstrapTenant, createTenantWithKey } from "../../src/domain/auth/tenants.js";
import { SqlTenantStore } from "../../src/store/tenant-store.js";
import { DATABASES } from "../store/databases.js";

describe("API keys", () => {
  it("generates 256-bit secrets with a public id embedded", () => {
    const k = generateApiKey();
    expect(k.key).toMatch(/^rgk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(apiKeyId(k.key)).toBe(k.id);
    expect(generateApiKey().key).not.toBe(k.key);
  });

  it("derives a stable id for operator-chosen keys", () => {
    expect(apiKeyId("your-api-key")).toBe(apiKeyId("your-api-key"));
    expect(apiKeyId("your-api-key")).toMatch(/^env_[0-9a-f]{16}$/);
    expect(apiKeyId("your-api-key")).not.toBe(apiKeyId("your-api-kez"));
  });
});

describe.each(DATABASES)("API keys on %s", (_name, open) => {
  it("stores only the hash, and authenticates the exact key only", async () => {
    const db = await open();
    const tenants = new SqlTenantStore(db);
    const { tenant, key, keyId } = await createTenantWithKey(tenants, "acme", 1);
    const rows = await db.all(sql`select * from api_keys`);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(Buffer.from(row.hash as Uint8Array).equals(Buffer.from(hashApiKey(key)))).toBe(true);
    expect(JSON.stringify(row)).not.toContain(key.slice(21));
    expect(await authenticateApiKey(tenants, key)).toEqual({ tenantId: tenant.id, keyId });
    const altered = `${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`;
    expect(await authenticateApiKey(tenants, altered)).toBeUndefined();
    expect(await authenticateApiKey(tenants, "")).toBeUndefined();
    expect(await authenticateApiKey(tenants, "x".repeat(600))).toBeUndefined();
  });

  it("refuses a revoked key", async () => {
    const tenants = new SqlTenantStore(await open());
    const { key, keyId } = await createTenantWithKey(tenants, "acme", 1);
    expect(await authenticateApiKey(tenants, key)).toBeDefined();
    expect(await tenants.revokeApiKey(keyId, 2)).toBe(true);
    expect(await tenants.revokeApiKey(keyId, 3)).toBe(false);
    expect(await authenticateApiKey(tenants, key)).toBeUndefined();
  });
});

describe.each(DATABASES)("bootstrap on %s", (_name, open) => {
  it("creates a tenant owning ROOMGATE_API_KEY once, and reuses it after", async () => {
    const tenants = new SqlTenantStore(await open());
    const first = await bootstrapTenant(tenants, "your-api-key", 1);
    expect(first.newKey).toBeUndefined();
    expect(first.tenantId).toBeDefined();
    expect((await authenticateApiKey(tenants, "your-api-key"))?.tenantId).toBe(first.tenantId);
    const again = await bootstrapTenant(tenants, "your-api-key", 2);
    expect(again.tenantId).toBe(first.tenantId);
    expect(await tenants.countTenants()).toBe(1);
  });

  it("without a configured key, creates a tenant and a fresh key on first start only", async () => {
    const tenants = new SqlTenantStore(await open());
    const first = await bootstrapTenant(tenants, undefined, 1);
    expect(first.newKey).toMatch(/^rgk_/);
    expect((await authenticateApiKey(tenants, first.newKey!))?.tenantId).toBe(first.tenantId);
    const second = await bootstrapTenant(tenants, undefined, 2);
    expect(second.newKey).toBeUndefined();
    expect(await tenants.countTenants()).toBe(1);
  });

  // createApp and the cluster primary bootstrap inside db.write: the write
  // lock makes concurrent starts (replicas, workers) take turns.
  it("replicas starting together with ROOMGATE_API_KEY make one tenant, and all name it", async () => {
    const db = await open();
    const tenants = new SqlTenantStore(db);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => db.write(() => bootstrapTenant(tenants, "your-api-key", i))),
    );
    expect(await tenants.countTenants()).toBe(1);
    expect(new Set(results.map((r) => r.tenantId)).size).toBe(1);
    expect(results[0]!.tenantId).toBeDefined();
    expect(results.filter((r) => r.newKey !== undefined)).toHaveLength(0);
  });

  it("replicas starting together without a key make one tenant, and exactly one prints its key", async () => {
    const db = await open();
    const tenants = new SqlTenantStore(db);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => db.write(() => bootstrapTenant(tenants, undefined, i))),
    );
    expect(await tenants.countTenants()).toBe(1);
    const shown = results.filter((r) => r.newKey !== undefined);
    expect(shown).toHaveLength(1);
    expect((await authenticateApiKey(tenants, shown[0]!.newKey!))?.tenantId).toBe(shown[0]!.tenantId);
  });
});
