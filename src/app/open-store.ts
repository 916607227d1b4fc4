import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import type { Database, WriteObserver } from "../store/database-port.js";

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
 *
 * Each dialect's modules are imported only here, once it is chosen: a
 * process on SQLite never loads drizzle's pg-core, node-postgres and pg,
 * one on PostgreSQL never loads sqlite-core and better-sqlite3. (drizzle's
 * core itself still loads part of pg-core.) On Node 24 the other dialect
 * cost a SQLite server about 50 MB and 0.3 s of CPU at start-up.
 */
export async function openStore(config: Config, log: Logger, observer: WriteObserver = {}): Promise<OpenedStore> {
  const url = config.databaseUrl;
  if (url === undefined) {
    const { openSqliteDatabase } = await import("../store/sqlite-database.js");
    const db = openSqliteDatabase(config.dbPath, observer);
    return { db, listen: async () => async () => undefined };
  }
  const [{ openPostgres }, { postgresDatabase }, { CHANGES_CHANNEL, listenForChanges }] = await Promise.all([
    import("../store/pg/connect.js"),
    import("../store/pg/postgres-database.js"),
    import("../store/pg/notify.js"),
  ]);
  const handle = await openPostgres(url, { max: config.databasePoolSize, log });
  return {
    db: postgresDatabase(handle.pool, () => handle.close(), observer),
    async listen(onChange) {
      const listener = await listenForChanges(url, CHANGES_CHANNEL, () => onChange(), log);
      return () => listener.close();
    },
  };
}
