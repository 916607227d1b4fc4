import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { pino } from "pino";
import type { App } from "../../src/app/create-app.js";
import { serve, type RunningServer } from "../../src/app/serve.js";
import { startHarnessedApp, type Harness } from "../support/harness.js";
import { loadConfig } from "../../src/config/config.js";
import { generateTokenKey } from "../../src/domain/tokens/keyring.js";
import { createTestDatabase } from "../support/postgres.js";
import { testStore } from "../support/server.js";

/** A roomgate like startTestServer's, with a logger writing into `logged` and optional tracing. */
export interface ObservedServer {
  readonly app: App;
  readonly h: Harness;
  readonly server: RunningServer;
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly tenantId: string;
  /** Every log line written so far, as written (JSON text). */
  readonly logged: string[];
  close(): Promise<void>;
}

/** Starts a server on port 0 (SQLite or a fresh PostgreSQL database, as the project says). */
export async function startObservedServer(
  opts: { logLevel?: string; spanExporter?: SpanExporter; env?: Record<string, string> } = {},
): Promise<ObservedServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "roomgate-obs-"));
  const pg = testStore() === "postgres" ? await createTestDatabase() : undefined;
  const apiKey = "obs-api-key-0123456789-secret";
  const config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    ROOMGATE_DATA_DIR: dataDir,
    ROOMGATE_API_KEY: apiKey,
    ROOMGATE_SHUTDOWN_GRACE_MS: "2000",
    ...(pg ? { ROOMGATE_DATABASE_URL: pg.url } : {}),
    ...opts.env,
  });
  const logged: string[] = [];
  const destination = { write: (line: string) => void logged.push(line) };
  // No redaction on purpose: the log must hold no secret by construction,
  // not only because a redaction path happens to catch it.
  const log = pino({ level: opts.logLevel ?? "silent" }, destination);
  const { app, h } = await startHarnessedApp(config, log, {
    tokenKeys: [{ ...generateTokenKey(Date.now()), state: "active" }],
    spanExporter: opts.spanExporter,
  });
  const server = await serve(app);
  return {
    app,
    h,
    server,
    baseUrl: `http://127.0.0.1:${server.port}`,
    apiKey,
    tenantId: app.bootstrap.tenantId!,
    logged,
    async close() {
      await server.close();
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
