import { randomUUID } from "node:crypto";
import { apiKeyId, generateApiKey, hashApiKey, type ApiKeyLookup } from "./api-keys.js";

/** A tenant row as the domain sees it. */
export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
}

/** An API key as listed to operators: never the secret or its hash. */
export interface ApiKeyInfo {
  readonly id: string;
  readonly tenantId: string;
  readonly label: string;
  readonly createdAt: number;
  readonly revokedAt: number | null;
}

/** Persistence the tenant logic needs; implemented in src/store. */
export interface TenantStore extends ApiKeyLookup {
  countTenants(): Promise<number>;
  findTenant(id: string): Promise<Tenant | undefined>;
  /** Creates the tenant and its first key in one transaction. */
  createTenant(tenant: Tenant, key: { id: string; hash: Uint8Array; label: string }): Promise<void>;
  addApiKey(tenantId: string, key: { id: string; hash: Uint8Array; label: string }, now: number): Promise<void>;
  listApiKeys(tenantId?: string): Promise<ApiKeyInfo[]>;
  /** Returns false when no such live key exists. */
  revokeApiKey(id: string, now: number): Promise<boolean>;
}

/** Outcome of start-up bootstrap; `newKey` must be shown once, then dropped. */
export interface BootstrapResult {
  readonly tenantId: string | undefined;
  readonly newKey?: string;
}

/**
 * Ensures a developer can call roomgate right after first start: with
 * `envKey`, a tenant owning exactly that key exists; without it, the very
 * first start creates a tenant and returns a fresh key to print once.
 */
export async function bootstrapTenant(
  store: TenantStore,
  envKey: string | undefined,
  now: number,
): Promise<BootstrapResult> {
  if (envKey !== undefined && envKey !== "") {
    const id = apiKeyId(envKey);
    const existing = await store.findApiKey(id);
    if (existing) return { tenantId: existing.tenantId };
    const tenant = { id: randomUUID(), name: "default", createdAt: now };
    await store.createTenant(tenant, { id, hash: hashApiKey(envKey), label: "ROOMGATE_API_KEY" });
    return { tenantId: tenant.id };
  }
  if ((await store.countTenants()) > 0) return { tenantId: undefined };
  const tenant = { id: randomUUID(), name: "default", createdAt: now };
  const key = generateApiKey();
  await store.createTenant(tenant, { id: key.id, hash: key.hash, label: "bootstrap" });
  return { tenantId: tenant.id, newKey: key.key };
}

/** Creates a tenant with a first generated key; returns the key once. */
export async function createTenantWithKey(
  store: TenantStore,
  name: string,
  now: number,
): Promise<{ tenant: Tenant; key: string; keyId: string }> {
  const tenant = { id: randomUUID(), name, createdAt: now };
  const key = generateApiKey();
  await store.createTenant(tenant, { id: key.id, hash: key.hash, label: "initial" });
  return { tenant, key: key.key, keyId: key.id };
}
