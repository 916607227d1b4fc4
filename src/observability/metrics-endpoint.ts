import http from "node:http";
import type http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { Metrics } from "./metrics.js";

/**
 * A request handler for HTTP/1.1 and HTTP/2 requests: the shape of the
 * server's `Handler` (src/server/listener.ts), restated because
 * observability sits below the transport and does not import it.
 */
export type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** The path Prometheus scrapes. */
export const METRICS_PATH = "/metrics";

/** Answers a scrape: the exposition text, or 405 for another method. */
function answer(metrics: Metrics, req: Parameters<Handler>[0], res: Parameters<Handler>[1]): void {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD" });
    res.end();
    return;
  }
  metrics.render().then(
    ({ body, contentType }) => {
      res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
      if (req.method === "HEAD") res.end();
      else res.end(body);
    },
    () => {
      res.writeHead(500);
      res.end();
    },
  );
}

/**
 * `GET /metrics` on the service port, in front of every other route. It
 * needs no credential: metrics hold no user input beyond procedure names.
 */
export function withMetricsEndpoint(handler: Handler, metrics: Metrics): Handler {
  return (req, res) => {
    if ((req.url ?? "").split("?", 1)[0] === METRICS_PATH) return answer(metrics, req, res);
    handler(req, res);
  };
}

/** A plain HTTP server for ROOMGATE_METRICS_PORT: `/metrics` and nothing else. */
export async function startMetricsServer(
  metrics: Metrics,
  port: number,
  host: string,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if ((req.url ?? "").split("?", 1)[0] === METRICS_PATH) return answer(metrics, req, res);
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
