import { availableParallelism } from "node:os";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * Worker processes `roomgate serve` runs when neither `--workers` nor
 * ROOMGATE_WORKERS says otherwise: the machine's cores. Every worker is a
 * replica sharing live state through the change feed.
 */
export const DEFAULT_WORKERS = availableParallelism();

/** Upper bound on worker processes: each holds its own database connection and caches. */
export const MAX_WORKERS = 256;

/** Every setting roomgate reads; the README's settings table mirrors this. */
export interface Config {
  readonly port: number;
  readonly host: string;
  /** A second port serving only `GET /metrics` (plain HTTP); unset: `/metrics` on the service port only. */
  readonly metricsPort: number | undefined;
  readonly dataDir: string;
  readonly dbPath: string;
  /** PostgreSQL connection URL; when set, the store is PostgreSQL instead of the SQLite file. */
  readonly databaseUrl: string | undefined;
  /** PostgreSQL connections per process. */
  readonly databasePoolSize: number;
  /** How often the change feed polls the events table (the fallback when no notification wakes it). */
  readonly feedPollMs: number;
  /** How long a read with a consistency token (min_event_id) waits for this replica's feed before `unavailable`. */
  readonly consistencyWaitMs: number;
  /** ROOMGATE_REPLICA_LEASE_MS: see src/domain/feed/lease.ts. */
  readonly replicaLeaseMs: number;
  /** ROOMGATE_DRAIN_DELAY_MS: accepting on after a stop signal, while /readyz already answers 503. */
  readonly drainDelayMs: number;
  readonly keyFile: string;
  readonly apiKey: string | undefined;
  readonly tokenKeys: string | undefined;
  readonly defaultTtlSeconds: number;
  readonly maxTtlSeconds: number;
  /** Lifetime of user access tokens and the session cookie (login, seed 003). */
  readonly userTokenTtlSeconds: number;
  readonly maxBatch: number;
  readonly maxMetadataBytes: number;
  readonly readMaxBytes: number;
  readonly verifyCacheSize: number;
  readonly apiKeyCacheMs: number;
  readonly rateLimitPerSecond: number;
  readonly maxWatchersPerTenant: number;
  /** Open room.permissions.v1 Watch streams per user (per replica). */
  readonly maxPermissionStreamsPerUser: number;
  /** Open room.permissions.v1 Watch streams per tenant (per replica). */
  readonly maxPermissionStreamsPerTenant: number;
  readonly corsOrigins: readonly string[];
  /** Failed logins per account and client address per minute (also the burst). */
  readonly loginFailuresPerMinute: number;
  /** Failed logins per account from all addresses per minute; known addresses are exempt. */
  readonly loginAccountFailuresPerMinute: number;
  /** Login calls per client address (IPv6: per /64) per minute. */
  readonly loginAttemptsPerMinutePerAddress: number;
  /** Login calls per tenant per second (burst 2×); known addresses are exempt. */
  readonly loginAttemptsPerSecondPerTenant: number;
  /** Days a successful login keeps its (account, address) pair exempt from the shared limits. */
  readonly loginKnownAddressDays: number;
  readonly maxTimeoutMs: number;
  /** Serve qualifying unary calls on the lean path in front of connect-node (src/server/fast). */
  readonly fastPath: boolean;
  readonly shutdownGraceMs: number;
  /** Processes serving the one port (`serve --workers` overrides it); 1 means no cluster at all. */
  readonly workers: number;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly logLevel: string;
  /** Base URL that access links (seed 001 generateAccess) point at, without a trailing slash. */
  readonly publicUrl: string;
  /** How long a failing webhook delivery is retried before its endpoint is disabled. */
  readonly webhookRetrySeconds: number;
  /** First backoff ceiling of webhook retries (doubles per attempt, full jitter, at most an hour). */
  readonly webhookRetryBaseMs: number;
  /** Upper bound on one webhook request. */
  readonly webhookTimeoutMs: number;
  /** Allows webhook endpoints on loopback/private networks and plain http (tests, closed networks). */
  readonly webhookAllowPrivateNetworks: boolean;
}

/** Thrown for a setting that cannot be used; the message names it. */
export class ConfigError extends Error {}

/** Reads the configuration from environment variables (see README). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = env["ROOMGATE_DATA_DIR"] || "./data";
  const port = int(env, "PORT", 8080, 0, 65_535);
  const loginFailuresPerMinute = int(env, "ROOMGATE_LOGIN_FAILURES_PER_MINUTE", 5, 0, 10_000);
  const cfg: Config = {
    port,
    host: host(env["HOST"] || "0.0.0.0"),
    metricsPort: metricsPort(env, port),
    dataDir,
    dbPath: env["ROOMGATE_DB_PATH"] || join(dataDir, "roomgate.db"),
    databaseUrl: databaseUrl(env["ROOMGATE_DATABASE_URL"]),
    databasePoolSize: int(env, "ROOMGATE_DATABASE_POOL_SIZE", 10, 1, 1_000),
    // SQLite replicas learn of each other's writes only by polling; with
    // PostgreSQL, NOTIFY wakes the feed and polling is the fallback.
    feedPollMs: int(env, "ROOMGATE_FEED_POLL_MS", env["ROOMGATE_DATABASE_URL"] ? 1_000 : 50, 5, 60_000),
    consistencyWaitMs: int(env, "ROOMGATE_CONSISTENCY_WAIT_MS", 2_000, 0, 60_000),
    replicaLeaseMs: int(env, "ROOMGATE_REPLICA_LEASE_MS", 2_000, 100, 60_000),
    drainDelayMs: int(env, "ROOMGATE_DRAIN_DELAY_MS", 0, 0, 600_000),
    keyFile: env["ROOMGATE_KEY_FILE"] || join(dataDir, "token-keys.json"),
    apiKey: env["ROOMGATE_API_KEY"] || undefined,
    tokenKeys: env["ROOMGATE_TOKEN_KEYS"] || undefined,
    defaultTtlSeconds: int(env, "ROOMGATE_TOKEN_TTL_SECONDS", 86_400, 1, 2 ** 31),
    maxTtlSeconds: int(env, "ROOMGATE_TOKEN_MAX_TTL_SECONDS", 30 * 86_400, 1, 2 ** 31),
    userTokenTtlSeconds: int(env, "ROOMGATE_USER_TOKEN_TTL_SECONDS", 86_400, 1, 2 ** 31),
    maxBatch: int(env, "ROOMGATE_MAX_BATCH", 1_000, 1, 100_000),
    maxMetadataBytes: int(env, "ROOMGATE_MAX_METADATA_BYTES", 4_096, 0, 1 << 20),
    readMaxBytes: int(env, "ROOMGATE_READ_MAX_BYTES", 8 << 20, 1024, 1 << 30),
    verifyCacheSize: int(env, "ROOMGATE_VERIFY_CACHE_SIZE", 100_000, 0, 10_000_000),
    apiKeyCacheMs: int(env, "ROOMGATE_API_KEY_CACHE_MS", 5_000, 0, 600_000),
    rateLimitPerSecond: int(env, "ROOMGATE_RATE_LIMIT_PER_SECOND", 5_000, 0, 1_000_000),
    maxWatchersPerTenant: int(env, "ROOMGATE_MAX_WATCHERS_PER_TENANT", 256, 1, 100_000),
    maxPermissionStreamsPerUser: int(env, "ROOMGATE_MAX_PERMISSION_STREAMS_PER_USER", 16, 1, 10_000),
    maxPermissionStreamsPerTenant: int(env, "ROOMGATE_MAX_PERMISSION_STREAMS_PER_TENANT", 10_000, 1, 1_000_000),
    corsOrigins: corsOrigins(env["ROOMGATE_CORS_ORIGINS"] ?? ""),
    loginFailuresPerMinute,
    // By default 4× the per-address limit (at least 20), so raising that one alone stays valid.
    loginAccountFailuresPerMinute: int(
      env,
      "ROOMGATE_LOGIN_ACCOUNT_FAILURES_PER_MINUTE",
      Math.max(20, 4 * loginFailuresPerMinute),
      0,
      100_000,
    ),
    loginAttemptsPerMinutePerAddress: int(env, "ROOMGATE_LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS", 60, 0, 1_000_000),
    loginAttemptsPerSecondPerTenant: int(env, "ROOMGATE_LOGIN_ATTEMPTS_PER_SECOND_PER_TENANT", 10, 0, 10_000),
    loginKnownAddressDays: int(env, "ROOMGATE_LOGIN_KNOWN_ADDRESS_DAYS", 30, 0, 3_650),
    maxTimeoutMs: int(env, "ROOMGATE_MAX_TIMEOUT_MS", 30_000, 1, 3_600_000),
    fastPath: onOff(env, "ROOMGATE_FAST_PATH", true),
    shutdownGraceMs: int(env, "ROOMGATE_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    workers: int(env, "ROOMGATE_WORKERS", DEFAULT_WORKERS, 1, MAX_WORKERS),
    tlsCert: readableFile("ROOMGATE_TLS_CERT", env["ROOMGATE_TLS_CERT"]),
    tlsKey: readableFile("ROOMGATE_TLS_KEY", env["ROOMGATE_TLS_KEY"]),
    logLevel: oneOf("LOG_LEVEL", env["LOG_LEVEL"] || "info", LOG_LEVELS),
    publicUrl: publicUrl(env["ROOMGATE_PUBLIC_URL"] || `http://localhost:${port}`),
    webhookRetrySeconds: int(env, "ROOMGATE_WEBHOOK_RETRY_SECONDS", 86_400, 1, 30 * 86_400),
    webhookRetryBaseMs: int(env, "ROOMGATE_WEBHOOK_RETRY_BASE_MS", 5_000, 1, 3_600_000),
    webhookTimeoutMs: int(env, "ROOMGATE_WEBHOOK_TIMEOUT_MS", 10_000, 100, 120_000),
    webhookAllowPrivateNetworks: bool(env, "ROOMGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS", false),
  };
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
  return cfg;
}

/** ROOMGATE_METRICS_PORT: a port (0 picks a free one) other than PORT, or undefined when unset. */
function metricsPort(env: NodeJS.ProcessEnv, port: number): number | undefined {
  const raw = env["ROOMGATE_METRICS_PORT"];
  if (raw === undefined || raw === "") return undefined;
  const n = int(env, "ROOMGATE_METRICS_PORT", 0, 0, 65_535);
  if (n !== 0 && n === port) throw new ConfigError(`ROOMGATE_METRICS_PORT must differ from PORT (both ${n})`);
  return n;
}

/** The levels pino accepts; anything else would fail deep inside pino without naming LOG_LEVEL. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** `raw` when it is one of `allowed`, else a ConfigError naming the setting and the choices. */
function oneOf(name: string, raw: string, allowed: readonly string[]): string {
  if (!allowed.includes(raw)) throw new ConfigError(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
  return raw;
}

/** A host name or address to listen on: no scheme, port or path (those fail later, far from the setting). */
/** A switch: on/true/1 or off/false/0 (any case); unset or empty is `def`. */
function onOff(env: NodeJS.ProcessEnv, name: string, def: boolean): boolean {
  const raw = (env[name] ?? "").trim().toLowerCase();
  if (raw === "") return def;
  if (raw === "on" || raw === "true" || raw === "1") return true;
  if (raw === "off" || raw === "false" || raw === "0") return false;
  throw new ConfigError(`${name} must be on or off (also true/false, 1/0), got ${JSON.stringify(env[name])}`);
}

function host(raw: string): string {
  if (!/^[A-Za-z0-9.:_\-\[\]%]+$/.test(raw))
    throw new ConfigError(`HOST must be a host name or IP address, got "${raw}"`);
  return raw;
}

/**
 * The CORS allow-list: "*" or full origins (scheme://host[:port], no path).
 * A browser sends exactly that form, so anything else could never match and
 * would silently allow nothing.
 */
function corsOrigins(raw: string): string[] {
  const origins = raw
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
  for (const o of origins) {
    if (o === "*") continue;
    let url: URL | undefined;
    try {
      url = new URL(o);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.origin !== o) {
      throw new ConfigError(
        `ROOMGATE_CORS_ORIGINS entries must be full origins like https://app.example.com[:port] (scheme, host, optional port, no path or trailing slash), got "${o}"`,
      );
    }
  }
  return origins;
}

/** A path to an existing file, or undefined when unset. */
function readableFile(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (!existsSync(raw) || !statSync(raw).isFile())
    throw new ConfigError(`${name} must name an existing file, got "${raw}"`);
  return raw;
}

/** A postgres:// or postgresql:// URL, or undefined when unset. */
function databaseUrl(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === "") return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("ROOMGATE_DATABASE_URL must be a postgres:// URL");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:")
    throw new ConfigError("ROOMGATE_DATABASE_URL must be a postgres:// URL");
  return raw;
}

/** An absolute http(s) URL; the trailing slash is dropped so paths can be appended. */
function publicUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`ROOMGATE_PUBLIC_URL must be an absolute URL, got "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`ROOMGATE_PUBLIC_URL must be an http or https URL, got "${raw}"`);
  }
  return raw.replace(/\/+$/, "");
}

/** "true" or "false" (unset: `def`); anything else is refused rather than guessed. */
function bool(env: NodeJS.ProcessEnv, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return def;
  if (raw !== "true" && raw !== "false") throw new ConfigError(`${name} must be true or false, got "${raw}"`);
  return raw === "true";
}

function int(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return def;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}
