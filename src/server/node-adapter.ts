import {
  Code,
  ConnectError,
  createConnectRouter,
  type ConnectRouter,
  type ConnectRouterOptions,
  type ContextValues,
} from "@connectrpc/connect";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import type { Logger } from "pino";
import { FastPath, type SlowPath } from "./fast/fast-path.js";
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
  /** Serve qualifying unary calls on the fast path (src/server/fast) before connect-node; default true. */
  readonly fastPath?: boolean;
}

/**
 * connect-node's adapter, with every RPC handler wrapped so malformed binary
 * bodies (see {@link guardBinaryParse}) and Connect GET messages that are
 * not UTF-8 (see {@link guardGetUtf8}) are refused with invalid_argument —
 * and, unless turned off, the unary fast path ({@link FastPath}) in front:
 * it serves plain unary calls itself and hands everything else to
 * connect-node, with the body when it has already read it.
 */
export function createNodeHandler(options: NodeHandlerOptions): Handler {
  const connectOptions = { acceptCompression: [compressionGzip, compressionBrotli], ...options };
  const router = createConnectRouter(connectOptions);
  const paths = new Map<string, UniversalHandler>();
  const slow: SlowPath = (req, res, body) => {
    const handler = paths.get(pathOf(req.url))!;
    const uReq = universalRequestFromNodeRequest(req, res, undefined, options.contextValues?.(req));
    handler(body ? { ...uReq, body } : uReq)
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        options.log.error({ err: reason, rpc: handler.requestPath }, "rpc handler failed");
      });
  };
  const fast =
    options.fastPath === false
      ? undefined
      : new FastPath({ ...connectOptions, slow, log: options.log, contextValues: options.contextValues });
  options.routes(fast ? fast.recording(router) : router);
  const readMax = options.readMaxBytes ?? 0xffffffff;
  for (const h of router.handlers) paths.set(h.requestPath, guardBinaryParse(guardGetUtf8(h), readMax));
  const fallback: Handler =
    options.fallback ??
    ((_req, res) => {
      res.writeHead(404);
      res.end();
    });
  return (req, res) => {
    const path = pathOf(req.url);
    if (!paths.has(path)) return fallback(req, res);
    if (fast?.serve(req, res, path)) return;
    slow(req, res);
  };
}

/** The path of a request target, without its query. */
function pathOf(url: string | undefined): string {
  const u = url ?? "";
  const q = u.indexOf("?");
  return q < 0 ? u : u.slice(0, q);
}
