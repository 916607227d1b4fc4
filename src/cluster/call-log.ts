import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { App } from "../app.js";

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

/** `app` with {@link callLogInterceptor} outermost, when debug logging is on (else `app` itself). */
export function withCallLog(app: App, log: Logger): App {
  if (!log.isLevelEnabled("debug")) return app;
  const interceptors = [callLogInterceptor(log), ...(app.routerOptions.interceptors ?? [])];
  return { ...app, routerOptions: { ...app.routerOptions, interceptors } };
}
