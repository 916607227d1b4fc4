import { existsSync } from "node:fs";
import type { Config } from "../config/config.js";
import { CliError } from "./cli-error.js";

/**
 * Refuses a store that does not exist yet, before anything opens it:
 * opening would create an empty SQLite file, or migrate an empty PostgreSQL
 * database — a mistyped ROOMGATE_DATA_DIR or URL silently answering "no keys".
 * Only `serve` creates a store.
 */
export async function requireExistingStore(config: Config): Promise<void> {
  if (await storeExists(config)) return;
  if (config.databaseUrl === undefined) {
    throw new CliError(
      `no database at ${config.dbPath} (check ROOMGATE_DATA_DIR / ROOMGATE_DB_PATH; \`roomgate serve\` creates it on first start)`,
    );
  }
  throw new CliError(
    "the PostgreSQL database of ROOMGATE_DATABASE_URL has no roomgate schema (`roomgate serve` creates it on first start)",
  );
}

/**
 * True when the configured store exists: the SQLite file, or roomgate's
 * schema in the PostgreSQL database (an unreachable server is an error).
 */
export async function storeExists(config: Config): Promise<boolean> {
  if (config.databaseUrl === undefined) return existsSync(config.dbPath);
  // Only for PostgreSQL: a SQLite command never loads the driver.
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: config.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ t: string | null }>("select to_regclass('tenants')::text as t");
    return rows[0]?.t != null;
  } finally {
    await client.end();
  }
}
