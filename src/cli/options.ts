import { InvalidArgumentError } from "commander";
import type { Repositories } from "../app/repositories.js";
import type { Config } from "../config/config.js";
import type { Database } from "../store/database-port.js";

/** A whole-number option value (within `max`, when given), or commander's usage error naming the option. */
export function wholeNumber(min: number, max?: number): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || (max !== undefined && n > max)) {
      throw new InvalidArgumentError(
        max === undefined ? `expected a whole number >= ${min}` : `expected a whole number from ${min} to ${max}`,
      );
    }
    return n;
  };
}

/** The open store a command works with, and its repositories. */
export interface CommandStore {
  readonly db: Database;
  readonly stores: Repositories;
}

/**
 * Runs a command against the configured store (SQLite file or PostgreSQL)
 * and closes it. Every command but `serve` goes through here, so all of
 * them refuse a store that does not exist yet rather than creating an empty
 * one (a mistyped data dir or URL). The store's modules load here, not
 * with the command definitions: `--version`, `--help` and the key-file
 * commands start without them.
 */
export async function withStore(fn: (store: CommandStore) => Promise<void>): Promise<void> {
  const [{ loadConfig }, { requireExistingStore }, { openStore }, { openRepositories }, { pino }] = await Promise.all([
    import("../config/config.js"),
    import("./store-check.js"),
    import("../app/open-store.js"),
    import("../app/repositories.js"),
    import("pino"),
  ]);
  const config = loadConfig();
  await requireExistingStore(config);
  const { db } = await openStore(config, pino({ level: "silent" }));
  try {
    await fn({ db, stores: openRepositories(db) });
  } finally {
    await db.close();
  }
}

/** The store a command worked on, for its summary (never a password). */
export function storeName(config: Config): string {
  if (config.databaseUrl === undefined) return config.dbPath;
  const u = new URL(config.databaseUrl);
  return `postgres ${u.host}${u.pathname}`;
}
