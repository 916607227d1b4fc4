import { CachedApiKeyLookup } from "../../domain/auth/api-key-cache.js";
import { bootstrapTenant, type BootstrapResult } from "../../domain/auth/tenants.js";
import { journaled } from "../../domain/events/record.js";
import { RateLimiter } from "../../domain/rate-limit.js";
import { ApiKeyGate } from "../../server/api-key-auth.js";
import type { Kernel } from "../kernel.js";
import type { FeatureModule } from "../module.js";

/** Tenants and their API keys: the bootstrap tenant, and the gate every backend call passes. */
export interface TenantsModule extends FeatureModule {
  readonly bootstrap: BootstrapResult;
  /** One gate (one per-key limiter) for the RPCs and the REST routes alike. */
  readonly apiKeyGate: ApiKeyGate;
}

/** Bootstraps the first tenant and builds the API-key gate. */
export async function tenantsModule(k: Kernel): Promise<TenantsModule> {
  const { tenants } = k.stores;
  // Replicas may start together: the check and the creation are one write.
  const bootstrap = await journaled(k.transact, k.sink, () => bootstrapTenant(tenants, k.config.apiKey, k.clock()));
  // API keys are looked up on every backend call; a short cache keeps that
  // off the database, and remembers which presented key opened so a hot
  // caller costs no hash per call. A revocation reaches it through the
  // change feed at once, on every replica (the ttl only bounds a missed one).
  const apiKeys = new CachedApiKeyLookup(tenants, k.config.apiKeyCacheMs, k.clock);
  // Drops the record and every remembered presented form of the key.
  k.signals.on("apiKeyRevoked", (key) => apiKeys.forget(key.keyId));
  const rate = k.config.rateLimitPerSecond;
  return { bootstrap, apiKeyGate: new ApiKeyGate(apiKeys, new RateLimiter(rate, rate * 2, k.clock)) };
}
