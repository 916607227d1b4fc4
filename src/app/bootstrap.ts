import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { bootstrapTenant, type BootstrapResult } from "../domain/auth/tenants.js";
import { journaled, withoutFeed } from "../domain/events/record.js";
import { openStore } from "./open-store.js";
import { openRepositories } from "./repositories.js";

/**
 * Opens the store (applying migrations), bootstraps the first tenant and
 * closes the store again: a cluster primary's one-time work, so that no
 * worker races a migration or mints a second bootstrap key.
 */
export async function bootstrapStore(config: Config, log: Logger, now: number): Promise<BootstrapResult> {
  const { db } = await openStore(config, log);
  try {
    const { tenants, journal } = openRepositories(db);
    // No change feed runs in this process (and the bootstrap records no event).
    return await journaled(
      (fn) => db.write(fn),
      withoutFeed(journal),
      () => bootstrapTenant(tenants, config.apiKey, now),
    );
  } finally {
    await db.close();
  }
}
