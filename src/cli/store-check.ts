import { existsSync } from "node:fs";
import pg from "pg";
import type { Config } from "../config/config.js";
import { CliError } from "./tokens.js";

/**
 * Refuses a store that does not exist yet, before anything opens it:
 * opening would create an empty SQLite file, or migrate an empty PostgreSQL
 * database — a mistyped ROOMGATE_DATA_DIR or URL silently answering "no keys".
 * Only `serve` creates a store.
 */
export async function requireExistingStore(config: Config): Promise<void> {
  if (config.databaseUrl === undefined) {
    if (!existsSync(config.dbPath)) {
      throw new CliError(`no database at ${config.dbPath} (check ROOMGATE_DATA_DIR / ROOMGATE_DB_PATH; \`roomgate serve\` creates it on first start)`);
    }
    return;
  }
  const client = new pg.Client({ connectionString: config.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ t: string | null }>("select to_regclass('tenants')::text as t");
    if (rows[0]?.t == null) throw new CliError("the PostgreSQL database of ROOMGATE_DATABASE_URL has no roomgate schema (`roomgate serve` creates it on first start)");
  } finally {
    await client.end();
  }
}
