import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";

/**
 * Logs every RPC at debug level — with the worker's logger, so the line
 * names the worker that answered. It is how an operator (and the cluster
 * test) sees calls spread over the workers without the workers telling
 * callers who they are.
 */
export function callLogInterceptor(log: Logger): Interceptor {
  return (next) => (req) => {
    log.debug(
      { rpc: `${req.service.typeName}/${req.method.name}`, contentType: req.header.get("content-type") },
      "rpc",
    );
    return next(req);
  };
}

/** The interceptors to put outside all others: the call log when debug logging is on, else none. */
export function callLogInterceptors(log: Logger): Interceptor[] {
  return log.isLevelEnabled("debug") ? [callLogInterceptor(log)] : [];
}
