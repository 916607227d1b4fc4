import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread } from "node:worker_threads";
import pg from "pg";
import { describe, it } from "vitest";

// PostgreSQL for tests: ROOMGATE_TEST_DATABASE_URL, else a local server if one
// answers, else the PostgreSQL suites are skipped with a notice — unless the
// run requires them (CI), where a missing server fails the run instead.

const DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres";

/** How long the reachability probe waits for a connection. */
const PROBE_TIMEOUT_MS = 3_000;

/** The admin URL tests connect to: ROOMGATE_TEST_DATABASE_URL or a local server. */
export function postgresUrl(): string {
  return process.env.ROOMGATE_TEST_DATABASE_URL || DEFAULT_URL;
}

/** True when this run must not skip PostgreSQL tests (ROOMGATE_TEST_REQUIRE_POSTGRES=1 or CI=true). */
export function postgresRequired(): boolean {
  return process.env.ROOMGATE_TEST_REQUIRE_POSTGRES === "1" || process.env.CI === "true";
}

let probe: Promise<boolean> | undefined;

/** Whether a PostgreSQL server answers at {@link postgresUrl}; asked once per test file, then cached. */
export function postgresAvailable(): Promise<boolean> {
  probe ??= (async () => {
    const client = new pg.Client({ connectionString: postgresUrl(), connectionTimeoutMillis: PROBE_TIMEOUT_MS });
    // A connection dropped after the probe must not become an unhandled error.
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.query("SELECT 1");
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return probe;
}

/** A database of its own for one test file; {@link TestDatabase.drop} removes it. */
export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  /** Drops the database, ending any connection still open on it; safe to call twice. */
  drop(): Promise<void>;
}

/**
 * Creates a database `rg_test_<random hex>` on the server at
 * {@link postgresUrl}: empty, or with `{ migrated: true }` a copy of a
 * template that roomgate's migrations were applied to (see
 * {@link migratedTemplate}). The store still runs its migrations at open on
 * either and finds nothing to do on the copy; suites about migrating take
 * an empty one.
 */
export async function createTestDatabase(opts: { readonly migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `rg_test_${randomBytes(8).toString("hex")}`;
  await admin(
    opts.migrated ? `CREATE DATABASE "${name}" TEMPLATE "${await migratedTemplate()}"` : `CREATE DATABASE "${name}"`,
  );
  // Commits answer before the server's WAL flush: what a test sees is the
  // same (the server stays up; only its own crash could lose a commit), and
  // the run no longer waits for an fsync per commit. The store's own
  // durability (an answer means committed) is unchanged.
  await admin(`ALTER DATABASE "${name}" SET synchronous_commit = off`);
  const url = new URL(postgresUrl());
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    name,
    drop: () => (dropped ??= admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
  };
}

let template: Promise<string> | undefined;
/** The advisory lock test processes build the template under (roomgate's own keys are others). */
const TEMPLATE_LOCK_KEY = "8245931958415225958";

/**
 * The name of a database that holds exactly what roomgate's migrations
 * (migrations-pg/) make, made on first use by the real store code and kept
 * on the server for later runs: its name carries a hash of the migrations,
 * so a changed migration gets a template of its own. Older ones are left in
 * place (a run on another checkout may still be copying one; each is a few
 * MB). Every test server of the postgres project starts on a copy
 * (CREATE DATABASE … TEMPLATE): migrating each fresh database cost about
 * 220 ms of the server's time, hundreds of times a run. Test processes
 * make it under an advisory lock, so only one of them migrates.
 */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const name = `rg_tpl_${migrationsHash()}`;
    const client = new pg.Client({ connectionString: postgresUrl() });
    client.on("error", () => undefined);
    await client.connect();
    try {
      await client.query(`SELECT pg_advisory_lock(${TEMPLATE_LOCK_KEY})`);
      const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
      if (found.rowCount) return name;
      const building = `${name}_building`;
      await client.query(`DROP DATABASE IF EXISTS "${building}" WITH (FORCE)`);
      await client.query(`CREATE DATABASE "${building}"`);
      const url = new URL(postgresUrl());
      url.pathname = `/${building}`;
      const { openPostgres } = await import("../../src/store/pg/connect.js");
      await (await openPostgres(url.toString())).close();
      // Renamed only once whole: a run killed mid-way leaves no template that looks done.
      await client.query(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
      return name;
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${TEMPLATE_LOCK_KEY})`).catch(() => undefined);
      await client.end().catch(() => undefined);
    }
  })();
  return template;
}

/** A short hash of migrations-pg/ (names and contents). */
function migrationsHash(): string {
  const dir = fileURLToPath(new URL("../../migrations-pg/", import.meta.url));
  const h = createHash("sha256");
  for (const f of readdirSync(dir, { recursive: true, encoding: "utf8" }).sort()) {
    const path = join(dir, f);
    if (statSync(path).isFile()) h.update(`${f}\0`).update(readFileSync(path));
  }
  return h.digest("hex").slice(0, 12);
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl() });
  client.on("error", () => undefined);
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const reachable = await postgresAvailable();

/**
 * `describe` for suites that need PostgreSQL. When no server answers, the
 * suite is skipped and a notice printed once per run — or, when the run
 * requires PostgreSQL ({@link postgresRequired}), the suite fails instead.
 */
export function describeWithPostgres(name: string, fn: () => void): void {
  if (reachable) {
    describe(name, fn);
    return;
  }
  const where = redacted(postgresUrl());
  if (postgresRequired()) {
    describe(name, () => {
      it("has a PostgreSQL server to run against", () => {
        throw new Error(
          `PostgreSQL not reachable at ${where}, and this run requires it (ROOMGATE_TEST_REQUIRE_POSTGRES=1 or CI=true): ` +
            "start one, or point ROOMGATE_TEST_DATABASE_URL at one",
        );
      });
    });
    return;
  }
  if (firstNoticeOfRun()) console.warn(`PostgreSQL not reachable at ${where}: PostgreSQL tests skipped`);
  describe.skip(name, fn);
}

/** The URL without its password, for messages. */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable ROOMGATE_TEST_DATABASE_URL)";
  }
}

/**
 * True for the first caller in this vitest run. Each test file runs in its
 * own worker (a child process of vitest, or a thread of it), so a module
 * variable would print once per file; instead the first worker creates a
 * marker file named after the vitest process, and the others find it there.
 */
function firstNoticeOfRun(): boolean {
  const vitestPid = isMainThread ? process.ppid : process.pid;
  try {
    writeFileSync(join(tmpdir(), `roomgate-pg-skip-notice-${vitestPid}`), "", { flag: "wx" });
    return true;
  } catch {
    return false;
  }
}
