import type { Config } from "../config/config.js";
import { bootstrapTenant, type BootstrapResult } from "../domain/auth/tenants.js";
import { openStore } from "../store/db.js";
import { loadOrCreateKeys, parseKeysConfig } from "../store/key-file.js";
import { SqliteTenantStore } from "../store/tenant-store.js";

/** What the one-time start-up work did, for the primary to announce once. */
export interface Prepared {
  readonly bootstrap: BootstrapResult;
  /** True when this start generated the token key file. */
  readonly keyFileCreated: boolean;
}

/**
 * The work a cluster's primary does once, before any worker starts: the
 * key file is created (or ROOMGATE_TOKEN_KEYS parsed), the store opened —
 * applying migrations — the first tenant bootstrapped, and the store closed
 * again. Workers then find all of it in place, so none of them creates a
 * key file, races a migration or mints (and prints) a second bootstrap key.
 */
export function prepareOnce(config: Config, now: number = Date.now()): Prepared {
  let keyFileCreated = false;
  if (config.tokenKeys) parseKeysConfig(config.tokenKeys); // refused here, once, rather than by every worker
  else keyFileCreated = loadOrCreateKeys(config.keyFile, now).created;
  const store = openStore(config.dbPath);
  try {
    return { bootstrap: bootstrapTenant(new SqliteTenantStore(store.db), config.apiKey, now), keyFileCreated };
  } finally {
    store.close();
  }
}
