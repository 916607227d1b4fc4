import { Code, ConnectError, createConnectRouter, type ConnectRouter, type ConnectRouterOptions, type ContextValues } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import type { Logger } from "pino";
import type { Handler } from "./listener.js";
import { guardBinaryParse } from "./strict-binary.js";
import { guardGetUtf8 } from "./strict-utf8.js";

/** Options for {@link createNodeHandler}. */
export interface NodeHandlerOptions extends ConnectRouterOptions {
  readonly routes: (router: ConnectRouter) => void;
  /** Serves paths no RPC matches (REST compatibility routes, 404). */
  readonly fallback?: Handler;
  readonly log: Logger;
  /** Values put into every call's context from the Node request (e.g. the peer address). */
  readonly contextValues?: (req: Parameters<Handler>[0]) => ContextValues;
}

/**
 * connect-node's adapter, with every RPC handler wrapped so malformed binary
 * bodies (see {@link guardBinaryParse}) and Connect GET messages that are
 * not UTF-8 (see {@link guardGetUtf8}) are refused with invalid_argument.
 */
export function createNodeHandler(options: NodeHandlerOptions): Handler {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const readMax = options.readMaxBytes ?? 0xffffffff;
  const paths = new Map<string, UniversalHandler>();
  for (const h of router.handlers) paths.set(h.requestPath, guardBinaryParse(guardGetUtf8(h), readMax));
  const fallback: Handler = options.fallback ?? ((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  return (req, res) => {
    const handler = paths.get((req.url ?? "").split("?", 1)[0]!);
    if (!handler) return fallback(req, res);
    const uReq = universalRequestFromNodeRequest(req, res, undefined, options.contextValues?.(req));
    handler(uReq)
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        options.log.error({ err: reason, rpc: handler.requestPath }, "rpc handler failed");
      });
  };
}
