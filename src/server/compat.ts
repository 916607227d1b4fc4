import type { Logger } from "pino";
import { isUtf8 } from "node:buffer";
import type { ErrorKind } from "../domain/errors.js";
import type { CallObserver } from "../observability/calls.js";
import { requestIdFrom } from "../observability/request-id.js";
import { logUnhandled } from "./interceptors.js";
import type { Handler } from "./listener.js";
import { INVALID_UTF8 } from "./strict-utf8.js";

/** A REST compatibility route: method, a path pattern and its handler. */
export interface CompatRoute {
  readonly method: "GET" | "POST";
  /** Matched against the path without the query; groups become `params`. */
  readonly path: RegExp;
  /**
   * Renders every error of this route — its handler's and the
   * dispatcher's own (405, 413, a body that is not JSON, 500) — in the one
   * shape the route's clients expect.
   */
  readonly errorShape: ErrorShape;
  handle(ctx: CompatContext): Promise<CompatReply>;
}

/** What a compatibility handler gets. */
export interface CompatContext {
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The request body parsed as JSON (undefined for GET or an empty body). */
  readonly body: unknown;
  /** True when the request came over TLS. */
  readonly secure: boolean;
  /** Names the call's tenant once the route knows it (its credential resolved): the call's log line carries it. */
  tenant(tenantId: string): void;
}

/** What the dispatcher learns about one REST call while serving it. */
interface RestCall {
  tenantId: string | undefined;
}

/** A JSON reply with its HTTP status and extra headers. */
export interface CompatReply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Error codes a REST route can answer: the domain's, and the dispatcher's own. */
export type CompatErrorCode = ErrorKind | "unimplemented" | "internal" | "unavailable";

/** Builds an error body from the HTTP status, a code and a message for the caller. */
export type ErrorShape = (status: number, code: CompatErrorCode, message: string) => unknown;

/** Connect's JSON error shape, `{"code","message"}`, for routes whose seed documents none. */
export const connectErrorShape: ErrorShape = (_status, code, message) => ({ code, message });

/** Seed 002's documented error shape, `{"errorText","httpStatusCode"}`. */
export const seed002ErrorShape: ErrorShape = (status, _code, message) => ({
  errorText: message,
  httpStatusCode: status,
});

/** The HTTP status Connect uses for each code; the REST routes answer alike. */
export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 400,
  resource_exhausted: 429,
};

/** Largest body a route accepts. */
const MAX_BODY = 64 * 1024;
/**
 * A longer body is still read, and thrown away, up to this size, so the
 * client's keep-alive connection stays usable; past it the connection is
 * given up (the 413 says `Connection: close`).
 */
const MAX_DISCARD = 1024 * 1024;

type BodyOutcome = Buffer | "too_large" | "too_large_close";

/**
 * Serves the seeds' REST routes (seed 002's room-permissions GET, seed 003's
 * consumer POST) beside the RPCs, as thin adapters over the same domain.
 * Unknown paths get a bare 404; a known path with another method gets 405
 * with `Allow`. Every error is in the route's own shape; a handler's thrown
 * error becomes a 500 with no detail, and is logged as the RPCs log theirs.
 */
export function compatHandler(routes: readonly CompatRoute[], log: Logger, observer?: CallObserver): Handler {
  return (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const matching = routes.filter((r) => r.path.test(url.pathname));
    const call: RestCall = { tenantId: undefined };
    if (observer) observeRest(observer, req, res, matching, call);
    if (matching.length === 0) {
      res.writeHead(404);
      res.end();
      return;
    }
    const reply = replier(req, res);
    const route = matching.find((r) => r.method === req.method);
    if (!route) {
      const allow = [...new Set(matching.map((r) => r.method))].join(", ");
      const body = matching[0]!.errorShape(
        405,
        "unimplemented",
        `method ${req.method ?? ""} is not allowed here; use ${allow}`,
      );
      reply({ status: 405, body, headers: { allow } });
      return;
    }
    readBody(req, (outcome) => serveRoute(route, req, res, url, outcome, log, reply, call));
  };
}

/** Answers with `r` (once: nothing after the head is out); `close` asks an HTTP/1.1 client to close the connection. */
type Reply = (r: CompatReply, close?: boolean) => void;

function replier(req: Parameters<Handler>[0], res: Parameters<Handler>[1]): Reply {
  // HTTP/2 has no Connection header; a stream is ended on its own.
  const h1 = req.httpVersionMajor < 2;
  return (r, close = false) => {
    if (res.headersSent) return;
    const body = JSON.stringify(r.body);
    const headers: Record<string, string | number> = {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      ...r.headers,
    };
    if (close && h1) headers["connection"] = "close";
    res.writeHead(r.status, headers);
    res.end(body);
  };
}

/** Serves a request to `route` once its body is read: the body's refusals, the path's parameters, the handler. */
function serveRoute(
  route: CompatRoute,
  req: Parameters<Handler>[0],
  res: Parameters<Handler>[1],
  url: URL,
  outcome: BodyOutcome,
  log: Logger,
  reply: Reply,
  call: RestCall,
): void {
  const fail = (status: number, code: CompatErrorCode, message: string, close = false) =>
    reply({ status, body: route.errorShape(status, code, message) }, close);
  if (outcome === "too_large" || outcome === "too_large_close") {
    const close = outcome === "too_large_close";
    fail(413, "resource_exhausted", `request body too large: at most ${MAX_BODY} bytes`, close);
    // An HTTP/2 stream still sending is stopped once the answer is out.
    if (close && req.httpVersionMajor >= 2) res.once("finish", () => req.destroy());
    return;
  }
  let body: unknown;
  if (outcome.length > 0) {
    // Invalid bytes must not become U+FFFD: two ids would become one.
    if (!isUtf8(outcome)) {
      fail(400, "invalid_argument", INVALID_UTF8);
      return;
    }
    try {
      body = JSON.parse(outcome.toString("utf8"));
    } catch {
      fail(400, "invalid_argument", "request body is not valid JSON");
      return;
    }
  }
  let params: string[];
  try {
    params = route.path
      .exec(url.pathname)!
      .slice(1)
      .map((p) => decodeURIComponent(p));
  } catch {
    // Malformed percent-encoding: refuse instead of throwing out of an event handler.
    fail(400, "invalid_argument", "malformed path");
    return;
  }
  const secure = Boolean((req.socket as { encrypted?: boolean }).encrypted);
  const tenant = (tenantId: string) => {
    call.tenantId = tenantId;
  };
  route.handle({ params, query: url.searchParams, headers: req.headers, body, secure, tenant }).then(
    (r) => reply(r),
    (err: unknown) => {
      logUnhandled(log, err, url.pathname);
      fail(500, "internal", "internal error");
    },
  );
}

/**
 * Counts, times, traces and logs a REST call like an RPC (protocol "rest"),
 * and answers with its request id. The procedure label is the route's
 * method and fixed path prefix — never the path itself ("unknown" when no
 * route matches).
 */
function observeRest(
  observer: CallObserver,
  req: Parameters<Handler>[0],
  res: Parameters<Handler>[1],
  matching: readonly CompatRoute[],
  rest: RestCall,
): void {
  const route = matching.find((r) => r.method === req.method) ?? matching[0];
  const procedure = route ? `${route.method} ${pathLabel(route.path)}` : "unknown";
  const header = req.headers["x-request-id"];
  const call = observer.begin(procedure, "rest", requestIdFrom(typeof header === "string" ? header : undefined), () => {
    const h = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && !k.startsWith(":")) h.set(k, v);
    return h;
  });
  res.setHeader("x-request-id", call.requestId);
  res.once("close", () => observer.end(call, codeOfStatus(res.headersSent ? res.statusCode : 0), rest.tenantId));
}

/** A route's path as a label: its literal prefix, `*` for what its pattern captures. */
function pathLabel(path: RegExp): string {
  const src = path.source.replace(/^\^/, "");
  const cut = src.search(/[($]/);
  const literal = (cut < 0 ? src : src.slice(0, cut)).replace(/\\(.)/g, "$1");
  return cut >= 0 && src[cut] === "(" ? `${literal}*` : literal;
}

/** The Connect code name a REST status stands for (0: the client left before an answer). */
function codeOfStatus(status: number): string {
  if (status === 0) return "canceled";
  if (status < 400) return "ok";
  return STATUS_CODES[status] ?? "unknown";
}

const STATUS_CODES: Readonly<Record<number, string>> = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "not_found",
  405: "unimplemented",
  409: "already_exists",
  413: "resource_exhausted",
  429: "resource_exhausted",
  500: "internal",
  503: "unavailable",
};

/**
 * Reads a body of at most MAX_BODY bytes. A longer one is read on and
 * discarded, so that an HTTP/1.1 connection is left clean for the next
 * request; past MAX_DISCARD (or when Content-Length announces more) the
 * outcome says the connection is to be closed.
 */
function readBody(req: Parameters<Handler>[0], done: (outcome: BodyOutcome) => void): void {
  if (Number(req.headers["content-length"]) > MAX_DISCARD) {
    done("too_large_close");
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const settle = (outcome: BodyOutcome) => {
    if (settled) return;
    settled = true;
    done(outcome);
  };
  req.on("data", (c: Buffer) => {
    size += c.length;
    if (size <= MAX_BODY) chunks.push(c);
    else if (size > MAX_DISCARD) settle("too_large_close");
  });
  req.on("end", () => settle(size > MAX_BODY ? "too_large" : Buffer.concat(chunks, size)));
}
