import { availableParallelism } from "node:os";
import { existingFile, hostName, postgresUrl, text, wholeNumber, type Setting } from "./env-types.js";

/**
 * Worker processes `roomgate serve` runs when neither `--workers` nor
 * ROOMGATE_WORKERS says otherwise: the machine's cores. Every worker is a
 * replica sharing live state through the change feed.
 */
export const DEFAULT_WORKERS = availableParallelism();

/** Upper bound on worker processes: each holds its own database connection and caches. */
export const MAX_WORKERS = 256;

/**
 * How often the change feed polls by default. SQLite replicas learn of each
 * other's writes only by polling; with PostgreSQL, NOTIFY wakes the feed and
 * polling is the fallback.
 */
export const FEED_POLL_MS = { sqlite: 50, postgres: 1_000 } as const;

/** File names inside ROOMGATE_DATA_DIR when their own settings are unset. */
export const DATA_FILES = { db: "roomgate.db", keys: "token-keys.json" } as const;

/** Where roomgate listens and keeps its data: the settings a first start needs. */
export const SERVER_SETTINGS = {
  port: {
    env: "PORT",
    type: wholeNumber(0, 65_535).prefault("8080"),
    doc: "the one port for every protocol (`0` picks a free one)",
  },
  host: { env: "HOST", type: hostName().prefault("0.0.0.0"), doc: "interface to listen on" },
  metricsPort: {
    env: "ROOMGATE_METRICS_PORT",
    type: wholeNumber(0, 65_535).optional(),
    doc: "a second port serving only `GET /metrics` (plain HTTP, same interface); `/metrics` is on the service port either way",
  },
  dataDir: { env: "ROOMGATE_DATA_DIR", type: text().prefault("./data"), doc: "database and key file live here" },
  dbPath: {
    env: "ROOMGATE_DB_PATH",
    type: text().optional(),
    shown: `\`$ROOMGATE_DATA_DIR/${DATA_FILES.db}\``,
    doc: "SQLite file (WAL, `synchronous=FULL`, foreign keys on)",
  },
  databaseUrl: {
    env: "ROOMGATE_DATABASE_URL",
    type: postgresUrl().optional(),
    doc: "`postgres://…`: PostgreSQL 15+ instead of the SQLite file (migrations applied at start under an advisory lock)",
  },
  databasePoolSize: {
    env: "ROOMGATE_DATABASE_POOL_SIZE",
    type: wholeNumber(1, 1_000).prefault("10"),
    doc: "PostgreSQL connections per process",
  },
  workers: {
    env: "ROOMGATE_WORKERS",
    type: wholeNumber(1, MAX_WORKERS).optional(),
    shown: "the machine's cores",
    doc: "worker processes serving the one port (node:cluster); `serve --workers N` overrides it; `1` runs a single process, no cluster",
  },
  feedPollMs: {
    env: "ROOMGATE_FEED_POLL_MS",
    type: wholeNumber(5, 60_000).optional(),
    shown: `\`${FEED_POLL_MS.sqlite}\` (SQLite), \`${FEED_POLL_MS.postgres}\` (PostgreSQL)`,
    doc: "how often the change feed polls the events table; on PostgreSQL `LISTEN/NOTIFY` wakes it at once and polling is the fallback",
  },
  consistencyWaitMs: {
    env: "ROOMGATE_CONSISTENCY_WAIT_MS",
    type: wholeNumber(0, 60_000).prefault("2000"),
    doc: "how long a read with a consistency token (`min_event_id`) waits for this replica's feed before answering `unavailable`",
  },
  replicaLeaseMs: {
    env: "ROOMGATE_REPLICA_LEASE_MS",
    type: wholeNumber(100, 60_000).prefault("2000"),
    doc: "how long a process serves from memory after its last confirmation of the change feed (renewed every quarter lease); past it, it catches up first or answers `unavailable`. Also the longest a removing write waits for a replica that stopped confirming",
  },
  keyFile: {
    env: "ROOMGATE_KEY_FILE",
    type: text().optional(),
    shown: `\`$ROOMGATE_DATA_DIR/${DATA_FILES.keys}\``,
    doc: "token keyring file (0600)",
  },
  tokenKeys: {
    env: "ROOMGATE_TOKEN_KEYS",
    type: text().optional(),
    doc: "keys instead of the file: `id:base64url-secret,…`, first is active",
  },
  apiKey: { env: "ROOMGATE_API_KEY", type: text().optional(), doc: "bootstrap tenant's API key" },
  tlsCert: {
    env: "ROOMGATE_TLS_CERT",
    type: existingFile().optional(),
    doc: "PEM certificate file; with `ROOMGATE_TLS_KEY`, TLS (h2 and HTTP/1.1 by ALPN) is accepted on the same port",
  },
  tlsKey: {
    env: "ROOMGATE_TLS_KEY",
    type: existingFile().optional(),
    doc: "PEM private key file; set with `ROOMGATE_TLS_CERT`, or neither",
  },
} satisfies Record<string, Setting>;
