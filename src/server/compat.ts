import type { Logger } from "pino";
import type { ErrorKind } from "../domain/errors.js";
import type { Handler } from "./listener.js";

/** A REST compatibility route: method, a path pattern and its handler. */
export interface CompatRoute {
  readonly method: "GET" | "POST";
  /** Matched against the path without the query; groups become `params`. */
  readonly path: RegExp;
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
}

/** A JSON reply with its HTTP status and extra headers. */
export interface CompatReply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

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

const MAX_BODY = 64 * 1024;

/**
 * Serves the seeds' REST routes (seed 002's room-permissions GET, seed 003's
 * consumer POST) beside the RPCs, as thin adapters over the same domain.
 * Unknown paths get 404; a handler's thrown error becomes a 500 with no
 * detail, and is logged.
 */
export function compatHandler(routes: readonly CompatRoute[], log: Logger): Handler {
  return (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const route = routes.find((r) => r.method === req.method && r.path.test(url.pathname));
    const reply = (r: CompatReply) => {
      const body = JSON.stringify(r.body);
      res.writeHead(r.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...r.headers });
      res.end(body);
    };
    if (!route) {
      res.writeHead(404);
      res.end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reply({ status: 413, body: { errorText: "request body too large", httpStatusCode: 413 } });
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      let body: unknown;
      if (size > 0) {
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          return reply({ status: 400, body: { errorText: "request body is not valid JSON", httpStatusCode: 400 } });
        }
      }
      let params: string[];
      try {
        params = route.path.exec(url.pathname)!.slice(1).map((p) => decodeURIComponent(p));
      } catch {
        // Malformed percent-encoding: refuse instead of throwing out of an event handler.
        return reply({ status: 400, body: { errorText: "malformed path", httpStatusCode: 400 } });
      }
      const secure = Boolean((req.socket as { encrypted?: boolean }).encrypted);
      route.handle({ params, query: url.searchParams, headers: req.headers, body, secure }).then(reply, (err: unknown) => {
        log.error({ err, path: url.pathname }, "compat route failed");
        reply({ status: 500, body: { errorText: "internal error", httpStatusCode: 500 } });
      });
    });
  };
}
