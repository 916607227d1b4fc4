import { and, count, eq, isNull, sql } from "drizzle-orm";
import type { ApiKeyInfo, Tenant, TenantStore } from "../domain/auth/tenants.js";
import type { ApiKeyRecord } from "../domain/auth/api-keys.js";
import { writeTransaction, type Db } from "./db.js";
import { apiKeys, tenants } from "./schema.js";

/** Tenants and their API keys in SQLite. */
export class SqliteTenantStore implements TenantStore {
  // Prepared once: API-key lookup runs on every backend call.
  private readonly findKey;

  constructor(private readonly db: Db) {
    this.findKey = db
      .select({ id: apiKeys.id, tenantId: apiKeys.tenantId, hash: apiKeys.hash, revokedAt: apiKeys.revokedAt })
      .from(apiKeys)
      .where(eq(apiKeys.id, sql.placeholder("id")))
      .prepare();
  }

  findApiKey(id: string): ApiKeyRecord | undefined {
    return this.findKey.get({ id });
  }

  countTenants(): number {
    return this.db.select({ n: count() }).from(tenants).get()?.n ?? 0;
  }

  findTenant(id: string): Tenant | undefined {
    return this.db.select().from(tenants).where(eq(tenants.id, id)).get();
  }

  createTenant(tenant: Tenant, key: { id: string; hash: Uint8Array; label: string }): void {
    writeTransaction(this.db, () => {
      this.db.insert(tenants).values(tenant).run();
      this.db.insert(apiKeys)
        .values({ id: key.id, tenantId: tenant.id, hash: Buffer.from(key.hash), label: key.label, createdAt: tenant.createdAt })
        .run();
    });
  }

  addApiKey(tenantId: string, key: { id: string; hash: Uint8Array; label: string }, now: number): void {
    this.db
      .insert(apiKeys)
      .values({ id: key.id, tenantId, hash: Buffer.from(key.hash), label: key.label, createdAt: now })
      .run();
  }

  listApiKeys(tenantId?: string): ApiKeyInfo[] {
    const q = this.db
      .select({ id: apiKeys.id, tenantId: apiKeys.tenantId, label: apiKeys.label, createdAt: apiKeys.createdAt, revokedAt: apiKeys.revokedAt })
      .from(apiKeys);
    return (tenantId === undefined ? q : q.where(eq(apiKeys.tenantId, tenantId))).orderBy(apiKeys.createdAt).all();
  }

  revokeApiKey(id: string, now: number): boolean {
    const r = this.db
      .update(apiKeys)
      .set({ revokedAt: now })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .run();
    return r.changes > 0;
  }
}
