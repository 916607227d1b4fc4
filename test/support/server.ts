import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import type { App } from "../../src/app/create-app.js";
import { serve, type RunningServer } from "../../src/app/serve.js";
import { loadConfig, type Config } from "../../src/config/config.js";
import { createTenantWithKey } from "../../src/domain/auth/tenants.js";
import { generateTokenKey, type TokenKey } from "../../src/domain/tokens/keyring.js";
import type { Resolver } from "../../src/domain/webhooks/address-policy.js";
import { startHarnessedApp, type Harness } from "./harness.js";
import { createTestDatabase } from "./postgres.js";

/** A real roomgate on a random port with a temp-file SQLite store. */
export interface TestServer {
  readonly app: App;
  /** Seeds, inspection and live state, through the app's ports (test/support/harness.ts). */
  readonly h: Harness;
  readonly server: RunningServer;
  readonly port: number;
  readonly baseUrl: string;
  /** API key of the bootstrap tenant (ROOMGATE_API_KEY). */
  readonly apiKey: string;
  readonly tenantId: string;
  /** A second, unrelated tenant for isolation tests. */
  readonly otherKey: string;
  readonly otherTenantId: string;
  readonly dataDir: string;
  close(): Promise<void>;
}

/** Options for {@link startTestServer}. */
export interface TestServerOptions {
  readonly env?: Record<string, string>;
  readonly clock?: () => number;
  /** Token keys to use; "file" uses the data dir's key file as `roomgate serve` does. */
  readonly tokenKeys?: readonly TokenKey[] | "file";
  /** Resolves webhook hosts instead of the system resolver. */
  readonly webhookResolver?: Resolver;
  /** The app's logger; silent unless a test reads what the server logs. */
  readonly log?: Logger;
}

/**
 * The store the suites run against: SQLite by default; PostgreSQL when
 * `ROOMGATE_TEST_STORE=postgres` (the vitest "postgres" project sets it),
 * each server on a fresh database of its own.
 */
export function testStore(): "sqlite" | "postgres" {
  return process.env["ROOMGATE_TEST_STORE"] === "postgres" ? "postgres" : "sqlite";
}

/** Starts the full app exactly as `roomgate serve` does, on port 0. */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "roomgate-test-"));
  const pg = testStore() === "postgres" ? await createTestDatabase({ migrated: true }) : undefined;
  const apiKey = "test-api-key-0123456789";
  const config: Config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    ROOMGATE_DATA_DIR: dataDir,
    ROOMGATE_API_KEY: apiKey,
    ROOMGATE_SHUTDOWN_GRACE_MS: "2000",
    ...(pg ? { ROOMGATE_DATABASE_URL: pg.url } : {}),
    // The "fast-path-off" vitest project runs the e2e suites through connect-node alone.
    ...(process.env["ROOMGATE_FAST_PATH"] ? { ROOMGATE_FAST_PATH: process.env["ROOMGATE_FAST_PATH"] } : {}),
    ...opts.env,
  });
  const { app, h } = await startHarnessedApp(config, opts.log ?? pino({ level: "silent" }), {
    clock: opts.clock,
    webhookResolver: opts.webhookResolver,
    tokenKeys:
      opts.tokenKeys === "file"
        ? undefined
        : (opts.tokenKeys ?? [{ ...generateTokenKey(Date.now()), state: "active" }]),
  });
  const other = await createTenantWithKey(h.tenants, "other", Date.now());
  const server = await serve(app);
  return {
    app,
    h,
    server,
    port: server.port,
    baseUrl: `http://127.0.0.1:${server.port}`,
    apiKey,
    tenantId: app.bootstrap.tenantId!,
    otherKey: other.key,
    otherTenantId: other.tenant.id,
    dataDir,
    async close() {
      await server.close();
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
