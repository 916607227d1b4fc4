import { createContextValues } from "@connectrpc/connect";
import { readFileSync } from "node:fs";
import { startMetricsServer, withMetricsEndpoint } from "../observability/metrics-endpoint.js";
import { compatHandler } from "../server/compat.js";
import { withCors } from "../server/cors.js";
import { OnePortServer } from "../server/listener.js";
import { createNodeHandler } from "../server/node-adapter.js";
import { routes } from "../server/routes.js";
import { peerAddressKey } from "../services/peer-address.js";
import type { App } from "./create-app.js";

/** A listening roomgate. */
export interface RunningServer {
  readonly port: number;
  /** The ROOMGATE_METRICS_PORT server's port, when one is set. */
  readonly metricsPort: number | undefined;
  /** Drains in-flight calls, then closes the store. */
  close(): Promise<void>;
}

/** Options for {@link serve}. */
export interface ServeOptions {
  /** Overrides ROOMGATE_FAST_PATH (the differential test serves one app both ways). */
  readonly fastPath?: boolean;
}

/** Serves the app on one port for every protocol. */
export async function serve(app: App, opts: ServeOptions = {}): Promise<RunningServer> {
  const rpc = createNodeHandler({
    ...app.routerOptions,
    fastPath: opts.fastPath ?? app.config.fastPath,
    routes: routes(app.services),
    fallback: compatHandler(app.compatRoutes, app.log, app.observer),
    log: app.log,
    // The direct peer's address, for the login limits (see LoginGuard).
    contextValues: (req) => createContextValues().set(peerAddressKey, req.socket?.remoteAddress ?? ""),
  });
  const handler = withMetricsEndpoint(withCors(rpc, app.config.corsOrigins), app.metrics);
  const tls =
    app.config.tlsCert && app.config.tlsKey
      ? { cert: readFileSync(app.config.tlsCert), key: readFileSync(app.config.tlsKey) }
      : undefined;
  const server = new OnePortServer({
    handler,
    tls,
    onStopAccepting: () => app.log.info("stopped accepting connections; answering every call that reached this server"),
  });
  const port = await server.listen(app.config.port, app.config.host);
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  if (app.config.metricsPort !== undefined) {
    try {
      metricsServer = await startMetricsServer(app.metrics, app.config.metricsPort, app.config.host);
    } catch (err) {
      await server.close(0);
      throw err;
    }
  }
  let closing: Promise<void> | undefined;
  return {
    port,
    metricsPort: metricsServer?.port,
    close() {
      closing ??= (async () => {
        // Not ready at once (/readyz, gRPC health), Watch streams end with unavailable; calls keep being answered.
        app.shutdown.abort();
        const [cut] = await Promise.all([
          server.close(app.config.shutdownGraceMs, app.config.drainDelayMs),
          metricsServer?.close(),
        ]);
        if (cut > 0)
          app.log.warn(
            { connections: cut, graceMs: app.config.shutdownGraceMs },
            "shutdown grace over: connections still open were cut off",
          );
        await app.close();
      })();
      return closing;
    },
  };
}
