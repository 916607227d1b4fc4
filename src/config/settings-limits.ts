import { wholeNumber, type Setting } from "./env-types.js";

/**
 * The account-wide failed-login limit by default: this many times the
 * per-address one, and at least `floor`, so raising that one alone stays valid.
 */
export const ACCOUNT_FAILURES = { factor: 4, floor: 20 } as const;

const SECONDS_PER_DAY = 86_400;
const TTL_MAX = 2 ** 31;

/** Token lifetimes, sizes, caches and rate limits. */
export const LIMIT_SETTINGS = {
  defaultTtlSeconds: {
    env: "ROOMGATE_TOKEN_TTL_SECONDS",
    type: wholeNumber(1, TTL_MAX).prefault(String(SECONDS_PER_DAY)),
    doc: "default token lifetime",
  },
  maxTtlSeconds: {
    env: "ROOMGATE_TOKEN_MAX_TTL_SECONDS",
    type: wholeNumber(1, TTL_MAX).prefault(String(30 * SECONDS_PER_DAY)),
    doc: "largest `ttl_seconds` accepted (the default is 30 days)",
  },
  userTokenTtlSeconds: {
    env: "ROOMGATE_USER_TOKEN_TTL_SECONDS",
    type: wholeNumber(1, TTL_MAX).prefault(String(SECONDS_PER_DAY)),
    doc: "lifetime of the user access tokens of seed 003 `CreateUser` and of redeemed access links (`Login` uses `ROOMGATE_ACCESS_TOKEN_TTL_SECONDS`)",
  },
  accessTokenTtlSeconds: {
    env: "ROOMGATE_ACCESS_TOKEN_TTL_SECONDS",
    type: wholeNumber(1, TTL_MAX).prefault("900"),
    doc: "lifetime of the access token `Login` and `Refresh` issue (and of the `roomgate_session` cookie); `Refresh` gets a new one",
  },
  sessionTtlSeconds: {
    env: "ROOMGATE_SESSION_TTL_SECONDS",
    type: wholeNumber(1, TTL_MAX).prefault(String(30 * SECONDS_PER_DAY)),
    doc: "a session (Login, seed 003 `CreateUser`) unused this long ends by itself: its refresh token no longer works (each `Refresh` starts the time again)",
  },
  maxBatch: {
    env: "ROOMGATE_MAX_BATCH",
    type: wholeNumber(1, 100_000).prefault("1000"),
    doc: "most arguments in one `Create`",
  },
  maxMetadataBytes: {
    env: "ROOMGATE_MAX_METADATA_BYTES",
    type: wholeNumber(0, 1 << 20).prefault("4096"),
    doc: "largest metadata (encoded JSON) per token",
  },
  verifyCacheSize: {
    env: "ROOMGATE_VERIFY_CACHE_SIZE",
    type: wholeNumber(0, 10_000_000).prefault("100000"),
    doc: "verified tokens kept decoded in memory (least recently used dropped first; `0` disables); cleared when the keyring changes",
  },
  apiKeyCacheMs: {
    env: "ROOMGATE_API_KEY_CACHE_MS",
    type: wholeNumber(0, 600_000).prefault("5000"),
    doc: "how long a valid API key is remembered; a revocation (API or CLI) reaches every replica's cache through the change feed at once, this bounds a missed one (`0` disables)",
  },
  rateLimitPerSecond: {
    env: "ROOMGATE_RATE_LIMIT_PER_SECOND",
    type: wholeNumber(0, 1_000_000).prefault("5000"),
    doc: "calls per second per API key (bursts up to twice that); over it: `resource_exhausted` (`0` disables). Token verification and checks (`room.tokens.private.v1.Service/Verify`, `room.users.private.v1.Service/VerifyAccessToken`, `room.access.private.v1.Service/Check` and `CheckBulk`) are not counted: they write nothing, and a media server verifying every join must not be capped below what the machine can do",
  },
  loginFailuresPerMinute: {
    env: "ROOMGATE_LOGIN_FAILURES_PER_MINUTE",
    type: wholeNumber(0, 10_000).prefault("5"),
    doc: "failed logins per account (tenant and username, any case) and client address before `Login` answers `resource_exhausted` for a while (`0` disables)",
  },
  loginAccountFailuresPerMinute: {
    env: "ROOMGATE_LOGIN_ACCOUNT_FAILURES_PER_MINUTE",
    type: wholeNumber(0, 100_000).optional(),
    shown: `${ACCOUNT_FAILURES.factor} × the above, at least \`${ACCOUNT_FAILURES.floor}\``,
    doc: "failed logins per account from all addresses together; addresses that logged in to the account before are exempt (`0` disables)",
  },
  loginAttemptsPerMinutePerAddress: {
    env: "ROOMGATE_LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS",
    type: wholeNumber(0, 1_000_000).prefault("60"),
    doc: "`Login` calls per client address (IPv6: per /64) (`0` disables)",
  },
  loginAttemptsPerSecondPerTenant: {
    env: "ROOMGATE_LOGIN_ATTEMPTS_PER_SECOND_PER_TENANT",
    type: wholeNumber(0, 10_000).prefault("10"),
    doc: "`Login` calls per tenant (bursts up to twice that; unknown tenant ids share one budget); known addresses are exempt (`0` disables)",
  },
  loginKnownAddressDays: {
    env: "ROOMGATE_LOGIN_KNOWN_ADDRESS_DAYS",
    type: wholeNumber(0, 3_650).prefault("30"),
    doc: "how long a successful login keeps its account and address exempt from the two shared limits above (`0`: never)",
  },
  maxWatchersPerTenant: {
    env: "ROOMGATE_MAX_WATCHERS_PER_TENANT",
    type: wholeNumber(1, 100_000).prefault("256"),
    doc: "open `Watch` streams per tenant; one more is `resource_exhausted`",
  },
  maxPermissionStreamsPerUser: {
    env: "ROOMGATE_MAX_PERMISSION_STREAMS_PER_USER",
    type: wholeNumber(1, 10_000).prefault("16"),
    doc: "open `room.permissions.v1.Service/Watch` streams per end user on one replica (browser tabs × rooms); one more is `resource_exhausted`",
  },
  maxPermissionStreamsPerTenant: {
    env: "ROOMGATE_MAX_PERMISSION_STREAMS_PER_TENANT",
    type: wholeNumber(1, 1_000_000).prefault("10000"),
    doc: "open `room.permissions.v1.Service/Watch` streams per tenant on one replica; one more is `resource_exhausted`",
  },
} satisfies Record<string, Setting>;
