import { join } from "node:path";
import { z } from "zod";
import { SETTINGS_SCHEMA } from "./settings.js";
import { ACCOUNT_FAILURES } from "./settings-limits.js";
import { DATA_FILES, DEFAULT_WORKERS, FEED_POLL_MS } from "./settings-server.js";

export { DEFAULT_WORKERS, MAX_WORKERS } from "./settings-server.js";
export { LOG_LEVELS } from "./settings-telemetry.js";

type Schema = typeof SETTINGS_SCHEMA;
type Key = keyof Schema;

/** The environment parsed into `Config` fields, one zod object built from the schema. */
const ENV = z.object(
  Object.fromEntries(Object.entries(SETTINGS_SCHEMA).map(([key, s]) => [key, s.type])) as {
    [K in Key]: Schema[K]["type"];
  },
);

type Parsed = z.output<typeof ENV>;

/** Settings whose default is computed from other settings (see {@link resolve}). */
type Derived = "dbPath" | "keyFile" | "feedPollMs" | "workers" | "loginAccountFailuresPerMinute" | "publicUrl";

/**
 * Every setting roomgate reads, by the names src/config/settings*.ts give
 * them (each one documented there, with its variable and default).
 */
export type Config = Readonly<
  Omit<Parsed, Derived> & {
    dbPath: string;
    keyFile: string;
    feedPollMs: number;
    workers: number;
    loginAccountFailuresPerMinute: number;
    /** Without a trailing slash. */
    publicUrl: string;
  }
>;

/** Thrown for a setting that cannot be used; the message names it. */
export class ConfigError extends Error {}

/** Reads the configuration from environment variables (see README "Settings"). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string | undefined> = {};
  // An empty variable counts as unset, as a shell's `VAR=` means.
  for (const [key, s] of Object.entries(SETTINGS_SCHEMA)) input[key] = env[s.env] === "" ? undefined : env[s.env];
  const parsed = ENV.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${SETTINGS_SCHEMA[issue.path[0] as Key].env} ${issue.message}`);
  }
  const cfg = resolve(parsed.data);
  check(cfg);
  return cfg;
}

/** Fills in the defaults that depend on other settings. */
function resolve(p: Parsed): Config {
  return {
    ...p,
    dbPath: p.dbPath ?? join(p.dataDir, DATA_FILES.db),
    keyFile: p.keyFile ?? join(p.dataDir, DATA_FILES.keys),
    feedPollMs: p.feedPollMs ?? (p.databaseUrl ? FEED_POLL_MS.postgres : FEED_POLL_MS.sqlite),
    workers: p.workers ?? DEFAULT_WORKERS,
    loginAccountFailuresPerMinute:
      p.loginAccountFailuresPerMinute ??
      Math.max(ACCOUNT_FAILURES.floor, ACCOUNT_FAILURES.factor * p.loginFailuresPerMinute),
    publicUrl: p.publicUrl ?? `http://localhost:${p.port}`,
  };
}

/** The rules between settings. */
function check(cfg: Config): void {
  if (cfg.metricsPort !== undefined && cfg.metricsPort !== 0 && cfg.metricsPort === cfg.port) {
    throw new ConfigError(`ROOMGATE_METRICS_PORT must differ from PORT (both ${cfg.port})`);
  }
  if (cfg.defaultTtlSeconds > cfg.maxTtlSeconds) {
    throw new ConfigError("ROOMGATE_TOKEN_TTL_SECONDS must not exceed ROOMGATE_TOKEN_MAX_TTL_SECONDS");
  }
  // The account-wide cap sits above the per-address one; below it, one
  // address alone could lock an account for everyone else.
  if (cfg.loginAccountFailuresPerMinute > 0 && cfg.loginAccountFailuresPerMinute < cfg.loginFailuresPerMinute) {
    throw new ConfigError(
      "ROOMGATE_LOGIN_ACCOUNT_FAILURES_PER_MINUTE must be 0 (off) or at least ROOMGATE_LOGIN_FAILURES_PER_MINUTE",
    );
  }
  if ((cfg.tlsCert === undefined) !== (cfg.tlsKey === undefined)) {
    throw new ConfigError("set both ROOMGATE_TLS_CERT and ROOMGATE_TLS_KEY, or neither");
  }
}
