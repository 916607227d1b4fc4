import type { Logger } from "pino";
import { bootstrapStore } from "../app/bootstrap.js";
import { loadTokenKeys } from "../app/modules/tokens.js";
import type { Config } from "../config/config.js";
import type { BootstrapResult } from "../domain/auth/tenants.js";

/** What the one-time start-up work did, for the primary to announce once. */
export interface Prepared {
  readonly bootstrap: BootstrapResult;
  /** True when this start generated the token key file. */
  readonly keyFileCreated: boolean;
}

/**
 * The work a cluster's primary does once, before any worker starts: the
 * key file is created (or ROOMGATE_TOKEN_KEYS parsed: refused here, once,
 * rather than by every worker), the store opened — applying migrations —
 * the first tenant bootstrapped, and the store closed again. Workers then
 * find all of it in place, so none of them creates a key file, races a
 * migration or mints (and prints) a second bootstrap key.
 */
export async function prepareOnce(config: Config, log: Logger, now: number = Date.now()): Promise<Prepared> {
  const keyFileCreated = loadTokenKeys(config, undefined, now).created;
  return { bootstrap: await bootstrapStore(config, log, now), keyFileCreated };
}
