import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import type { Database } from "../store/database-port.js";
import { openPostgres } from "../store/pg/connect.js";
import { postgresDatabase } from "../store/pg/postgres-database.js";
import { CHANGES_CHANNEL, listenForChanges } from "../store/pg/notify.js";
import { openSqliteDatabase } from "../store/sqlite-database.js";

/** An open store and how it tells this replica about other replicas' writes. */
export interface OpenedStore {
  readonly db: Database;
  /**
   * Starts waking `onChange` when another replica commits (PostgreSQL
   * LISTEN); SQLite has no such signal and relies on the feed's polling.
   * Returns the function that stops it.
   */
  listen(onChange: () => void): Promise<() => Promise<void>>;
}

/**
 * Opens the store the configuration names: PostgreSQL when
 * `ROOMGATE_DATABASE_URL` is set, else the embedded SQLite file. Migrations
 * are applied either way (PostgreSQL: under an advisory lock, so replicas
 * starting together do not race).
 */
export async function openStore(config: Config, log: Logger): Promise<OpenedStore> {
  const url = config.databaseUrl;
  if (url === undefined) {
    return { db: openSqliteDatabase(config.dbPath), listen: async () => async () => undefined };
  }
  const handle = await openPostgres(url, { max: config.databasePoolSize, log });
  return {
    db: postgresDatabase(handle.pool, () => handle.close()),
    async listen(onChange) {
      const listener = await listenForChanges(url, CHANGES_CHANNEL, () => onChange(), log);
      return () => listener.close();
    },
  };
}
