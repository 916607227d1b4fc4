import { sql } from "drizzle-orm";
import type { ApiKeyRecord } from "../domain/auth/api-keys.js";
import type { ApiKeyInfo, Tenant, TenantStore } from "../domain/auth/tenants.js";
import { num, numOrNull, type Database } from "./database-port.js";

/** A new API key as the store keeps it: the public id and the secret's hash. */
interface NewKey {
  readonly id: string;
  readonly hash: Uint8Array;
  readonly label: string;
}

/** Tenants and their API keys. */
export class SqlTenantStore implements TenantStore {
  constructor(private readonly db: Database) {}

  async findApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db.get(
      sql`select id as "id", tenant_id as "tenantId", hash as "hash", revoked_at as "revokedAt" from api_keys where id = ${id}`,
    );
    if (row === undefined) return undefined;
    return {
      id: String(row.id),
      tenantId: String(row.tenantId),
      hash: bytes(row.hash),
      revokedAt: numOrNull(row.revokedAt),
    };
  }

  async countTenants(): Promise<number> {
    const row = await this.db.get(sql`select count(*) as "n" from tenants`);
    return num(row?.n ?? 0);
  }

  async findTenant(id: string): Promise<Tenant | undefined> {
    const row = await this.db.get(
      sql`select id as "id", name as "name", created_at as "createdAt" from tenants where id = ${id}`,
    );
    return row === undefined
      ? undefined
      : { id: String(row.id), name: String(row.name), createdAt: num(row.createdAt) };
  }

  createTenant(tenant: Tenant, key: NewKey): Promise<void> {
    // The tenant never exists without its first key.
    return this.db.write(async () => {
      await this.db.run(
        sql`insert into tenants (id, name, created_at) values (${tenant.id}, ${tenant.name}, ${tenant.createdAt})`,
      );
      await this.insertKey(tenant.id, key, tenant.createdAt);
    });
  }

  async addApiKey(tenantId: string, key: NewKey, now: number): Promise<void> {
    await this.insertKey(tenantId, key, now);
  }

  async listApiKeys(tenantId?: string): Promise<ApiKeyInfo[]> {
    const where = tenantId === undefined ? sql.empty() : sql` where tenant_id = ${tenantId}`;
    const rows = await this.db.all(
      sql`select id as "id", tenant_id as "tenantId", label as "label", created_at as "createdAt", revoked_at as "revokedAt"
          from api_keys${where} order by created_at, id`,
    );
    return rows.map((r) => ({
      id: String(r.id),
      tenantId: String(r.tenantId),
      label: String(r.label),
      createdAt: num(r.createdAt),
      revokedAt: numOrNull(r.revokedAt),
    }));
  }

  async revokeApiKey(id: string, now: number): Promise<boolean> {
    // Conditional: a key already revoked keeps its first revocation time.
    const changed = await this.db.run(
      sql`update api_keys set revoked_at = ${now} where id = ${id} and revoked_at is null`,
    );
    return changed > 0;
  }

  private async insertKey(tenantId: string, key: NewKey, now: number): Promise<void> {
    await this.db.run(
      sql`insert into api_keys (id, tenant_id, hash, label, created_at)
          values (${key.id}, ${tenantId}, ${Buffer.from(key.hash)}, ${key.label}, ${now})`,
    );
  }
}

/** A blob column: a Buffer from both drivers (SQLite blob, PostgreSQL bytea). */
function bytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  throw new TypeError("api_keys.hash: expected bytes");
}
