import type { Config } from "../config/config.js";
import { bootstrapTenant, type BootstrapResult } from "../domain/auth/tenants.js";
import type { Logger } from "pino";
import { openDatabase } from "../app/database.js";
import { loadOrCreateKeys, parseKeysConfig } from "../store/key-file.js";
import { SqlTenantStore } from "../store/tenant-store.js";

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
export async function prepareOnce(config: Config, log: Logger, now: number = Date.now()): Promise<Prepared> {
  let keyFileCreated = false;
  if (config.tokenKeys)
    parseKeysConfig(config.tokenKeys); // refused here, once, rather than by every worker
  else keyFileCreated = loadOrCreateKeys(config.keyFile, now).created;
  const { db } = await openDatabase(config, log);
  try {
    const tenants = new SqlTenantStore(db);
    return { bootstrap: await db.write(() => bootstrapTenant(tenants, config.apiKey, now)), keyFileCreated };
  } finally {
    await db.close();
  }
}
