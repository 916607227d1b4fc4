/**
 * Every setting roomgate reads, with its default and meaning: the one table
 * `serve --help` prints and the README's settings table is tested against
 * (test/domain/config.test.ts). Adding a variable to config.ts without a row
 * here fails that test.
 */
export interface SettingDoc {
  /** The environment variable. */
  readonly name: string;
  /** The default as an operator reads it ("—": unset). */
  readonly default: string;
  /** What it changes. */
  readonly meaning: string;
}

/** The settings, in the README's order. */
export const SETTINGS: readonly SettingDoc[] = [
  { name: "PORT", default: "8080", meaning: "the one port for every protocol (0 picks a free one)" },
  { name: "HOST", default: "0.0.0.0", meaning: "interface to listen on" },
  { name: "ROOMGATE_DATA_DIR", default: "./data", meaning: "database and key file live here" },
  { name: "ROOMGATE_DB_PATH", default: "$ROOMGATE_DATA_DIR/roomgate.db", meaning: "SQLite file" },
  { name: "ROOMGATE_DATABASE_URL", default: "—", meaning: "postgres://…: PostgreSQL 15+ instead of the SQLite file" },
  { name: "ROOMGATE_DATABASE_POOL_SIZE", default: "10", meaning: "PostgreSQL connections per process" },
  {
    name: "ROOMGATE_WORKERS",
    default: "the machine's cores",
    meaning: "worker processes serving the one port; 1 runs a single process",
  },
  {
    name: "ROOMGATE_FEED_POLL_MS",
    default: "50 (SQLite), 1000 (PostgreSQL)",
    meaning: "how often the change feed polls the events table",
  },
  {
    name: "ROOMGATE_CONSISTENCY_WAIT_MS",
    default: "2000",
    meaning: "how long a read with min_event_id waits for this replica's feed",
  },
  {
    name: "ROOMGATE_REPLICA_LEASE_MS",
    default: "2000",
    meaning:
      "how long a process serves from memory after its last feed confirmation; the longest a removing write waits for a replica that stopped confirming",
  },
  { name: "ROOMGATE_KEY_FILE", default: "$ROOMGATE_DATA_DIR/token-keys.json", meaning: "token keyring file (0600)" },
  {
    name: "ROOMGATE_TOKEN_KEYS",
    default: "—",
    meaning: "keys instead of the file: id:base64url-secret,…, first is active",
  },
  { name: "ROOMGATE_API_KEY", default: "—", meaning: "bootstrap tenant's API key" },
  { name: "ROOMGATE_TOKEN_TTL_SECONDS", default: "86400", meaning: "default token lifetime" },
  { name: "ROOMGATE_TOKEN_MAX_TTL_SECONDS", default: "2592000", meaning: "largest ttl_seconds accepted" },
  {
    name: "ROOMGATE_USER_TOKEN_TTL_SECONDS",
    default: "86400",
    meaning: "lifetime of user access tokens and the session cookie",
  },
  { name: "ROOMGATE_MAX_BATCH", default: "1000", meaning: "most arguments in one Create" },
  { name: "ROOMGATE_MAX_METADATA_BYTES", default: "4096", meaning: "largest metadata (encoded JSON) per token" },
  {
    name: "ROOMGATE_VERIFY_CACHE_SIZE",
    default: "100000",
    meaning: "verified tokens kept decoded in memory (0 disables)",
  },
  {
    name: "ROOMGATE_API_KEY_CACHE_MS",
    default: "5000",
    meaning: "how long a valid API key is remembered (0 disables)",
  },
  {
    name: "ROOMGATE_RATE_LIMIT_PER_SECOND",
    default: "5000",
    meaning: "calls per second per API key; Verify and VerifyAccessToken are not counted (0 disables)",
  },
  {
    name: "ROOMGATE_LOGIN_FAILURES_PER_MINUTE",
    default: "5",
    meaning: "failed logins per account and client address (0 disables)",
  },
  {
    name: "ROOMGATE_LOGIN_ACCOUNT_FAILURES_PER_MINUTE",
    default: "4 × the above, at least 20",
    meaning: "failed logins per account from all addresses (0 disables)",
  },
  {
    name: "ROOMGATE_LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS",
    default: "60",
    meaning: "Login calls per client address (0 disables)",
  },
  {
    name: "ROOMGATE_LOGIN_ATTEMPTS_PER_SECOND_PER_TENANT",
    default: "10",
    meaning: "Login calls per tenant (0 disables)",
  },
  {
    name: "ROOMGATE_LOGIN_KNOWN_ADDRESS_DAYS",
    default: "30",
    meaning: "days a successful login keeps its address exempt (0: never)",
  },
  { name: "ROOMGATE_MAX_WATCHERS_PER_TENANT", default: "256", meaning: "open Watch streams per tenant" },
  {
    name: "ROOMGATE_MAX_PERMISSION_STREAMS_PER_USER",
    default: "16",
    meaning: "open permission Watch streams per end user",
  },
  {
    name: "ROOMGATE_MAX_PERMISSION_STREAMS_PER_TENANT",
    default: "10000",
    meaning: "open permission Watch streams per tenant",
  },
  {
    name: "ROOMGATE_CORS_ORIGINS",
    default: "—",
    meaning: "comma-separated browser origins (scheme://host[:port]); * allows any without credentials",
  },
  { name: "ROOMGATE_READ_MAX_BYTES", default: "8388608", meaning: "largest request (and response) message" },
  { name: "ROOMGATE_MAX_TIMEOUT_MS", default: "30000", meaning: "upper bound on a call's deadline" },
  {
    name: "ROOMGATE_FAST_PATH",
    default: "on",
    meaning: "serve plain unary calls on the lean path in front of connect-node (off/false/0 turns it off)",
  },
  {
    name: "ROOMGATE_DRAIN_DELAY_MS",
    default: "0",
    meaning:
      "on SIGTERM/SIGINT, how long a server not ready any more keeps accepting connections (a load balancer polling /readyz needs a few seconds)",
  },
  {
    name: "ROOMGATE_SHUTDOWN_GRACE_MS",
    default: "10000",
    meaning: "upper bound on how long SIGTERM/SIGINT wait for in-flight calls",
  },
  {
    name: "ROOMGATE_TLS_CERT",
    default: "—",
    meaning: "PEM certificate file; with ROOMGATE_TLS_KEY, TLS on the same port",
  },
  { name: "ROOMGATE_TLS_KEY", default: "—", meaning: "PEM private key file; with ROOMGATE_TLS_CERT" },
  { name: "ROOMGATE_PUBLIC_URL", default: "http://localhost:$PORT", meaning: "base URL of access links" },
  {
    name: "ROOMGATE_METRICS_PORT",
    default: "unset",
    meaning: "a second port serving only GET /metrics; /metrics is on the service port either way",
  },
  {
    name: "ROOMGATE_WEBHOOK_RETRY_SECONDS",
    default: "86400",
    meaning: "how long a failing webhook delivery is retried before its endpoint is disabled",
  },
  {
    name: "ROOMGATE_WEBHOOK_RETRY_BASE_MS",
    default: "5000",
    meaning: "first webhook backoff ceiling; doubles per attempt, full jitter, at most an hour",
  },
  { name: "ROOMGATE_WEBHOOK_TIMEOUT_MS", default: "10000", meaning: "upper bound on one webhook request" },
  {
    name: "ROOMGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS",
    default: "false",
    meaning: "true allows webhook URLs on loopback/private networks and plain http",
  },
  { name: "LOG_LEVEL", default: "info", meaning: "pino level: fatal, error, warn, info, debug, trace or silent" },
];
