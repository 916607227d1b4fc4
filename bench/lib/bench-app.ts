/**
 * Shared set-up for the RPC benchmarks: a real roomgate App on a temp data
 * dir, the seed-000 request shape, and the message a forked server sends.
 */
import type BetterSqlite3 from "better-sqlite3";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { pino } from "pino";
import { assembleApp, type App as ServedApp, type AppOverrides, type AppParts } from "../../src/app/create-app.js";
import type { Config } from "../../src/config/config.js";
import type { Database } from "../../src/store/database-port.js";
import type { SqliteDatabase } from "../../src/store/sqlite-database.js";
import { harnessOf, type Harness } from "../../test/support/harness.js";
import { loadConfig } from "../../src/config/config.js";
import { apiKeyId, type ApiKeyPrincipal } from "../../src/domain/auth/api-keys.js";
import { generateTokenKey } from "../../src/domain/tokens/keyring.js";
import type { RoomTokens, GrantRecord, TokenLimits } from "../../src/domain/tokens/room-tokens.js";

/** What a ready server tells its parent. */
export interface Ready {
  readonly kind: ServerKind;
  /** HTTP/1.1 port (Connect JSON). */
  readonly port: number;
  /** h2c port for gRPC (the same as `port` for ours). */
  readonly h2Port: number;
  readonly apiKey: string;
  /** A room member token issued by this server, for Verify. */
  readonly token: string;
  /** A user access token of a user with a room role in SEED_ROOM_ID (VerifyAccessToken, GetRoomPermissions). */
  readonly userToken: string;
  readonly pid: number;
}

export type ServerKind = "ours" | "connect" | "bare";
export const SERVER_KINDS: readonly ServerKind[] = ["ours", "connect", "bare"];

export const SEED_USER_ID = "b7e4d2a1-5c3f-4e8a-9d6b-2f1a0c9e8d7b";
export const SEED_ROOM_ID = "e1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b";
export const BENCH_API_KEY = "bench-api-key-0123456789";
/** bare-http only: parses the JSON body, replies with its last Create response, no token work. */
export const FLOOR_PATH = "/bench/floor";

/** One seed-000 shaped argument as Connect JSON (proto field names). */
export function seedArgumentJson(userId = SEED_USER_ID, roomId = SEED_ROOM_ID): Record<string, unknown> {
  return {
    user_id: userId,
    room_id: roomId,
    metadata: { note: "temporary moderator" },
    permissions: ["PermissionRoomKick"],
  };
}

/**
 * Inserts `rows` synthetic grants (random ids and user ids, like real ones)
 * for the app's bootstrap tenant, in 10,000-row write transactions through
 * the grant repository, so a benchmark can run against a store that is not
 * empty (either store). On SQLite the WAL is checkpointed afterwards.
 */
/** The served app, with what the baselines reach into: the test harness's view and the database. */
export type App = ServedApp &
  Omit<Harness, "config" | "journal"> & {
    readonly journal: AppParts["kernel"]["stores"]["journal"];
    readonly db: Database;
  };

async function openBenchApp(config: Config, overrides: AppOverrides): Promise<App> {
  // The shipped log level (LOG_LEVEL, default info), written where nobody reads it: its price is measured too.
  const log = pino({ level: config.logLevel }, pino.destination({ dest: "/dev/null", sync: false }));
  const { app, parts } = await assembleApp(config, log, overrides);
  const db = parts.kernel.db;
  return { ...app, ...harnessOf(parts), journal: parts.kernel.stores.journal, db };
}

export async function prefillGrants(app: App, tenantId: string, rows: number): Promise<void> {
  if (rows <= 0) return;
  const now = Date.now();
  for (let done = 0; done < rows; done += PREFILL_BATCH) {
    const batch: GrantRecord[] = Array.from({ length: Math.min(PREFILL_BATCH, rows - done) }, (_, i) => ({
      id: randomBytes(16).toString("hex"),
      tenantId,
      userId: randomUUID(),
      roomId: `prefill-room-${(done + i) % 100}`,
      permissions: [203],
      metadata: { note: "temporary moderator" },
      issuedAt: now,
      expiresAt: now + 86_400_000,
      issuedBy: "prefill",
    }));
    await app.grants.recordGrants(batch);
  }
  if (app.db.dialect === "sqlite") sqliteOf(app).pragma("wal_checkpoint(TRUNCATE)");
}

/**
 * A registered user who holds role_room_user in SEED_ROOM_ID (which must
 * exist: a Create for it makes it), and a user access token for them, as
 * Login would hand out: the end-user credential of the GetRoomPermissions
 * benchmark. Written straight through the store, as the test fixtures do
 * (test/support/permissions-fixtures.ts): users have services of their own.
 */
export async function seedRoomMember(app: App, tenantId: string): Promise<{ userId: string; userToken: string }> {
  const userId = randomUUID();
  const now = Date.now();
  await app.db.run(
    sql`insert into users (id, tenant_id, kind, username, username_key, email, tenant_moderator, created_at)
        values (${userId}, ${tenantId}, 'registered', ${`bench-${userId}`}, ${`bench-${userId}`}, ${`${userId}@example.test`}, ${false}, ${now})`,
  );
  await app.memberships.setRoomRole(tenantId, SEED_ROOM_ID, userId, "role_room_user", "bench", now);
  const { token } = app.userTokens.issue({ tenantId, userId, ttlSeconds: 86_400 });
  return { userId, userToken: token };
}

/** Grants per prefill transaction. */
const PREFILL_BATCH = 10_000;

/**
 * The raw SQLite connection of an app on the embedded store, for the
 * benchmarks' raw-driver baselines; throws when the app runs on PostgreSQL.
 */
export function sqliteOf(app: App): BetterSqlite3.Database {
  if (app.db.dialect !== "sqlite")
    throw new Error("this baseline needs the SQLite store (unset ROOMGATE_DATABASE_URL)");
  return (app.db as SqliteDatabase).connection;
}

/** The RoomTokens instance createApp built and handed to the service. */
export function roomTokensOf(app: App): RoomTokens {
  return app.roomTokens;
}

/** The limits createApp gave that instance (read back, so new fields come along). */
export function limitsOf(app: App): TokenLimits {
  return app.roomTokens.limits;
}

/** A bench app, its data dir and the principal of its bootstrap key. */
export interface BenchApp {
  readonly app: App;
  readonly dataDir: string;
  readonly principal: ApiKeyPrincipal;
}

/**
 * A real app on a fresh temp data dir, as test/support/server.ts builds it:
 * SQLite there, or PostgreSQL when `env` sets ROOMGATE_DATABASE_URL.
 */
export async function createBenchApp(env: Record<string, string> = {}): Promise<BenchApp> {
  const dataDir = mkdtempSync(join(tmpdir(), "roomgate-bench-"));
  try {
    return await createIn(dataDir, env);
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/** Not a roomgate setting: `off` builds the app without the observability interceptor (AppOverrides.observeCalls). */
export const BENCH_OBSERVE = "ROOMGATE_BENCH_OBSERVE";

async function createIn(dataDir: string, env: Record<string, string>): Promise<BenchApp> {
  const { [BENCH_OBSERVE]: observe, ...settings } = env;
  const config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    ROOMGATE_DATA_DIR: dataDir,
    ROOMGATE_API_KEY: BENCH_API_KEY,
    ROOMGATE_SHUTDOWN_GRACE_MS: "1000",
    ...settings,
  });
  const app = await openBenchApp(config, {
    tokenKeys: [{ ...generateTokenKey(Date.now()), state: "active" }],
    observeCalls: observe !== "off",
  });
  const principal: ApiKeyPrincipal = { tenantId: app.bootstrap.tenantId!, keyId: apiKeyId(BENCH_API_KEY) };
  return { app, dataDir, principal };
}
