import { describe, expect, it } from "vitest";
import { apiKeyId, authenticateApiKey, generateApiKey, hashApiKey } from "../../src/domain/auth/api-keys.js";
import { bootstrapTenant, createTenantWithKey } from "../../src/domain/auth/tenants.js";
import { openStore } from "../../src/store/db.js";
import { SqliteTenantStore } from "../../src/store/tenant-store.js";
import { apiKeys } from "../../src/store/schema.js";

function tenantStore() {
  const store = openStore(":memory:");
  return { store, tenants: new SqliteTenantStore(store.db) };
}

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

  it("stores only the hash, and authenticates the exact key only", () => {
    const { store, tenants } = tenantStore();
    const { tenant, key, keyId } = createTenantWithKey(tenants, "acme", 1);
    const row = store.db.select().from(apiKeys).all()[0]!;
    expect(Buffer.from(row.hash).equals(Buffer.from(hashApiKey(key)))).toBe(true);
    expect(JSON.stringify(row)).not.toContain(key.slice(21));
    expect(authenticateApiKey(tenants, key)).toEqual({ tenantId: tenant.id, keyId });
    const altered = `${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`;
    expect(authenticateApiKey(tenants, altered)).toBeUndefined();
    expect(authenticateApiKey(tenants, "")).toBeUndefined();
    expect(authenticateApiKey(tenants, "x".repeat(600))).toBeUndefined();
  });

  it("refuses a revoked key", () => {
    const { tenants } = tenantStore();
    const { key, keyId } = createTenantWithKey(tenants, "acme", 1);
    expect(tenants.revokeApiKey(keyId, 2)).toBe(true);
    expect(tenants.revokeApiKey(keyId, 3)).toBe(false);
    expect(authenticateApiKey(tenants, key)).toBeUndefined();
  });
});

describe("bootstrap", () => {
  it("creates a tenant owning ROOMGATE_API_KEY once, and reuses it after", () => {
    const { tenants } = tenantStore();
    const first = bootstrapTenant(tenants, "your-api-key", 1);
    expect(first.newKey).toBeUndefined();
    expect(authenticateApiKey(tenants, "your-api-key")?.tenantId).toBe(first.tenantId);
    const again = bootstrapTenant(tenants, "your-api-key", 2);
    expect(again.tenantId).toBe(first.tenantId);
    expect(tenants.countTenants()).toBe(1);
  });

  it("without a configured key, creates a tenant and a fresh key on first start only", () => {
    const { tenants } = tenantStore();
    const first = bootstrapTenant(tenants, undefined, 1);
    expect(first.newKey).toMatch(/^rgk_/);
    expect(authenticateApiKey(tenants, first.newKey!)?.tenantId).toBe(first.tenantId);
    const second = bootstrapTenant(tenants, undefined, 2);
    expect(second.newKey).toBeUndefined();
    expect(tenants.countTenants()).toBe(1);
  });
});
