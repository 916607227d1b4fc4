import type { Logger } from "pino";
import { createApp, type App } from "../app/create-app.js";
import { serve, type RunningServer } from "../app/serve.js";
import type { Config } from "../config/config.js";
import { tellPrimary } from "./messages.js";
import { shareMetricsWithCluster } from "./metrics.js";
import { drainAndExit } from "./serving.js";
import { SiblingSync } from "./sibling-sync.js";
import { startupStop } from "./startup-stop.js";
import { LEASE_MARGIN_MS } from "../domain/feed/removal-barrier.js";

/**
 * One worker of `serve --workers N`: builds the app and serves it on the
 * port the primary chose (node:cluster shares the listening socket), then
 * tells the primary it listens — or why it could not, and exits 1.
 *
 * The primary has already created the key file, migrated the store and
 * bootstrapped the tenant, so this worker announces none of that.
 * Signals are handled from the first moment: the primary forwards
 * SIGTERM/SIGINT/SIGHUP, and a terminal's Ctrl-C reaches every process of
 * the group as well, so a stop may arrive twice (the second is a no-op) or
 * before the server listens (it then drains right after listening).
 */
export async function runWorker(config: Config, log: Logger): Promise<void> {
  let server: RunningServer | undefined;
  let stopSignal: string | undefined;
  let reload: ((why: string) => void) | undefined;
  let reloadPending = false;
  const stop = (signal: string): void => {
    if (stopSignal !== undefined) return;
    stopSignal = signal;
    if (server) drainAndExit(server, signal, log);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // SIGHUP's default action ends the process: a forwarded one must never kill a starting worker.
  process.on("SIGHUP", () => (reload ? reload("SIGHUP") : (reloadPending = true)));
  // A stop recorded while the CLI's modules loaded counts as if it came now.
  const early = startupStop.handOver();
  if (early !== undefined) stop(early);
  log.debug("start-up: building the app");

  // Listening from the first moment: a sibling's write during this start is applied before this worker answers.
  const siblings = new SiblingSync(config.replicaLeaseMs + LEASE_MARGIN_MS);
  let app: App | undefined;
  try {
    app = await createApp(config, log, { siblings });
    if (stopSignal !== undefined) {
      // Stopped while starting: never listen, close what is open and end cleanly.
      await app.close();
      log.info({ signal: stopSignal }, "stopped during start-up");
      process.exit(0);
    }
    log.debug("start-up: app ready, starting to listen");
    if (app.bootstrap.newKey) {
      // Only when the database was replaced under a running primary; the key is never shown by a worker.
      log.warn(
        { tenantId: app.bootstrap.tenantId },
        "a worker bootstrapped a tenant; create its API key with `roomgate api-keys create --tenant`",
      );
    }
    // A scrape on any worker answers for every worker.
    shareMetricsWithCluster(app.metrics);
    server = await serve(app);
  } catch (err) {
    log.error({ err }, "worker failed to start");
    await app?.close();
    await tellPrimary({ roomgate: "failed", message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
  reload = app.reloadKeys;
  if (reloadPending) reload("SIGHUP");
  log.info({ port: server.port }, "worker listening");
  await tellPrimary({ roomgate: "listening", port: server.port });
  if (stopSignal !== undefined) drainAndExit(server, stopSignal, log);
}
