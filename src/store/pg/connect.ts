import pg from "pg";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as pgSchema from "./schema.js";

/** The drizzle handle over the PostgreSQL schema. */
export type PgDb = NodePgDatabase<typeof pgSchema> & { readonly $client: pg.Pool };

/** An open PostgreSQL store: the drizzle handle, its pool, and how to close both. */
export interface PgHandle {
  readonly db: PgDb;
  readonly pool: pg.Pool;
  /** Ends every pooled connection; safe to call twice. */
  close(): Promise<void>;
}

/** Where {@link openPostgres} reports what happens outside any call (a pino Logger fits). */
export interface PgLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Options of {@link openPostgres}. */
export interface PgOptions {
  /** Most connections in the pool (default 10, pg's own default). */
  readonly max?: number;
  /** Receives idle-connection errors and the migrations applied; silent without one. */
  readonly log?: PgLog;
}

/**
 * The session-level advisory lock every replica takes around its migrations:
 * the ASCII bytes of "roomgate" as one int8. Fixed, so every version and every
 * replica agrees on it; passed as text, since it is above 2^53.
 */
export const MIGRATION_LOCK_KEY = "8245931958415225957";

/** drizzle's bookkeeping table: one row per applied migration. */
export const MIGRATIONS_TABLE = `"drizzle"."__drizzle_migrations"`;

const INT8_OID = 20;

/**
 * Opens a pool on `url`, then applies every committed migration of
 * migrations-pg/ that the database lacks, holding {@link MIGRATION_LOCK_KEY}
 * on one dedicated connection meanwhile: replicas that start together take
 * turns, and all but the first find nothing left to do (drizzle's migrator
 * alone would race: each would see the migrations missing and create the same
 * tables). Resolves once the schema is current; on failure the pool is ended.
 */
export async function openPostgres(url: string, opts: PgOptions = {}): Promise<PgHandle> {
  readInt8AsNumber();
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, application_name: "roomgate" });
  // An idle pooled connection that the server drops (restart, idle timeout)
  // emits "error" on the pool; unheard, that would end the process. The pool
  // discards that connection and opens a fresh one on the next checkout.
  pool.on("error", (err) =>
    opts.log?.warn(
      { err: { message: err.message, code: (err as { code?: unknown }).code } },
      "postgres: idle connection failed",
    ),
  );
  try {
    await migrateLocked(pool, opts.log);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  const db = drizzle(pool, { schema: pgSchema });
  let ended: Promise<void> | undefined;
  return {
    db,
    pool,
    close: () => (ended ??= pool.end()),
  };
}

async function migrateLocked(pool: pg.Pool, log: PgLog | undefined): Promise<void> {
  const client = await pool.connect();
  // Set when this connection can no longer be trusted: it is then destroyed,
  // not handed back to the pool (it may still hold the lock, or sit in an
  // aborted transaction); closing it drops the lock on the server.
  let broken: Error | undefined;
  try {
    // Session-level, not transaction-level: drizzle's migrator runs several
    // statements and its own transaction on this connection, and the lock
    // must span all of them. Should this process die, the server drops the
    // lock with the connection.
    await client.query("SELECT pg_advisory_lock($1::int8)", [MIGRATION_LOCK_KEY]);
    try {
      const before = await appliedCount(client);
      await migrate(drizzle(client, { schema: pgSchema }), { migrationsFolder: migrationsFolder() });
      const after = await appliedCount(client);
      if (after > before) log?.info({ applied: after - before, total: after }, "postgres: migrations applied");
    } finally {
      await client.query("SELECT pg_advisory_unlock($1::int8)", [MIGRATION_LOCK_KEY]).catch((err: unknown) => {
        broken ??= asError(err);
      });
    }
  } catch (err) {
    broken ??= asError(err);
    throw err;
  } finally {
    client.release(broken);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

async function appliedCount(client: pg.PoolClient): Promise<number> {
  // Two statements: one naming a missing table fails at parse time, even
  // behind a CASE that would never reach it.
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('${MIGRATIONS_TABLE}')::text AS t`);
  if (exists.rows[0]?.t == null) return 0;
  const { rows } = await client.query<{ n: number }>(`SELECT count(*) AS n FROM ${MIGRATIONS_TABLE}`);
  return rows[0]?.n ?? 0;
}

/**
 * Makes node-postgres return int8 (bigint, count(*)) as a JS number instead of
 * a string. Our int8 values are Unix ms (about 2^41 for centuries) and row ids,
 * far below 2^53, so a number is exact; a value past 2^53 fails its query with
 * a RangeError rather than come back silently rounded. Global on purpose:
 * drizzle passes pg's global parser table with every query, so a per-pool
 * `types` option would not reach its queries.
 */
function readInt8AsNumber(): void {
  pg.types.setTypeParser(INT8_OID, parseInt8);
}

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} is beyond 2^53 and cannot be read exactly`);
  return n;
}

/**
 * Finds the committed PostgreSQL migrations whether running from `src/`
 * (tsx, vitest) or from the compiled `dist/src/`, as src/store/sqlite-file.ts does.
 */
function migrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 7; i++) {
    const candidate = join(dir, "migrations-pg");
    if (existsSync(join(candidate, "meta", "_journal.json"))) return candidate;
    dir = dirname(dir);
  }
  throw new Error("roomgate: migrations-pg folder not found");
}
