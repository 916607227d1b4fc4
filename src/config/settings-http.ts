import { httpUrl, onOff, originList, trueFalse, wholeNumber, type Setting } from "./env-types.js";

/** How calls are served and shut down, browsers let in, and webhooks sent. */
export const HTTP_SETTINGS = {
  corsOrigins: {
    env: "ROOMGATE_CORS_ORIGINS",
    type: originList(),
    doc: "comma-separated full origins (`scheme://host[:port]`, no path; anything else is refused at start) allowed to call from a browser (echoed, with credentials, so the session cookie works); `*` allows any origin without credentials",
  },
  readMaxBytes: {
    env: "ROOMGATE_READ_MAX_BYTES",
    type: wholeNumber(1024, 1 << 30).prefault(String(8 << 20)),
    doc: "largest request (and response) message",
  },
  maxTimeoutMs: {
    env: "ROOMGATE_MAX_TIMEOUT_MS",
    type: wholeNumber(1, 3_600_000).prefault("30000"),
    doc: "upper bound on a call's deadline",
  },
  fastPath: {
    env: "ROOMGATE_FAST_PATH",
    type: onOff("on"),
    doc: "serves unary Connect POST (JSON and binary) and uncompressed gRPC over HTTP/2 on a lean path in front of connect-node, with the same services, interceptors and wire format; streaming, GET, compressed requests, gRPC-Web and gRPC+JSON stay on connect-node. `off` (or `false`, `0`) sends every call through connect-node",
  },
  drainDelayMs: {
    env: "ROOMGATE_DRAIN_DELAY_MS",
    type: wholeNumber(0, 600_000).prefault("0"),
    doc: "on SIGTERM/SIGINT the server is not ready at once (`/readyz` 503, gRPC health `NOT_SERVING`) but keeps accepting connections this long (answers say `Connection: close`), so a load balancer polling readiness stops sending first (a few seconds behind one)",
  },
  shutdownGraceMs: {
    env: "ROOMGATE_SHUTDOWN_GRACE_MS",
    type: wholeNumber(0, 600_000).prefault("10000"),
    doc: "upper bound on how long SIGTERM/SIGINT wait for in-flight calls; shutdown ends as soon as accepted calls are done (`Connection: close` on HTTP/1.1, GOAWAY on HTTP/2)",
  },
  publicUrl: {
    env: "ROOMGATE_PUBLIC_URL",
    type: httpUrl().optional(),
    shown: "`http://localhost:$PORT`",
    doc: "base URL of access links (`<url>/join/<roomId>?participantName=…&accessToken=…`)",
  },
  webhookRetrySeconds: {
    env: "ROOMGATE_WEBHOOK_RETRY_SECONDS",
    type: wholeNumber(1, 30 * 86_400).prefault("86400"),
    doc: "how long a failing webhook delivery is retried (from its first attempt) before the endpoint is disabled and `WEBHOOK_ENDPOINT_DISABLED` recorded",
  },
  webhookRetryBaseMs: {
    env: "ROOMGATE_WEBHOOK_RETRY_BASE_MS",
    type: wholeNumber(1, 3_600_000).prefault("5000"),
    doc: "first webhook backoff ceiling; it doubles per attempt (at most an hour) and each wait is drawn uniformly below it (full jitter)",
  },
  webhookTimeoutMs: {
    env: "ROOMGATE_WEBHOOK_TIMEOUT_MS",
    type: wholeNumber(100, 120_000).prefault("10000"),
    doc: "upper bound on one webhook request (connect, send, answer)",
  },
  webhookAllowPrivateNetworks: {
    env: "ROOMGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS",
    type: trueFalse("false"),
    doc: "`true` allows webhook URLs resolving to loopback, private, link-local… addresses and plain `http` (tests, closed networks)",
  },
} satisfies Record<string, Setting>;
