import { Option, type Command } from "commander";
import cluster from "node:cluster";
import type { Logger } from "pino";
import { startupStop } from "../cluster/startup-stop.js";
import type { Config } from "../config/config.js";
import type { BootstrapResult } from "../domain/auth/tenants.js";
import { wholeNumber } from "./options.js";
import { ensurePortFree } from "./port-check.js";

/**
 * `roomgate serve`: one process (`--workers 1`) or a primary forking workers.
 * The settings (zod), the cluster and the app load only once `serve` is the
 * command: `--version`, `--help` and the other commands start without them.
 * Returns what completes serve's definition (the --workers description and
 * the settings in its help), for `help serve`: commander prints that help at
 * once, without the preSubcommand hook that completes it otherwise.
 */
export function registerServe(program: Command): () => Promise<void> {
  // Described once the settings are loaded: `roomgate --help` needs only the option's presence.
  const workers = new Option("--workers <n>");
  const serveCommand = program
    .command("serve")
    .description("run the service on one port for Connect, gRPC and gRPC-Web (the command when none is given)")
    .addOption(workers)
    .action((opts: { workers?: number }) => serve(opts.workers));
  let described: Promise<void> | undefined;
  const describe = (): Promise<void> => {
    described ??= (async () => {
      const [{ DEFAULT_WORKERS, MAX_WORKERS }, { settingsHelp }] = await Promise.all([
        import("../config/config.js"),
        import("./settings-help.js"),
      ]);
      workers.description = `processes serving the port (default: ROOMGATE_WORKERS, else ${DEFAULT_WORKERS}); 1 runs no cluster`;
      workers.argParser(wholeNumber(1, MAX_WORKERS));
      serveCommand.addHelpText("after", settingsHelp());
    })();
    return described;
  };
  // Before serve parses its arguments (a bad --workers) or prints its help (`serve --help`).
  program.hook("preSubcommand", async (_program, command) => {
    if (command === serveCommand) await describe();
  });
  return describe;
}

async function serve(workersOption: number | undefined): Promise<void> {
  const [{ loadConfig }, { createLogger }] = await Promise.all([
    import("../config/config.js"),
    import("../server/logger.js"),
  ]);
  const config = loadConfig();
  // The app's module graph (about 0.4 s to load) only where it serves: every other command starts without it.
  if (cluster.isWorker)
    return (await import("../cluster/worker.js")).runWorker(
      config,
      createLogger(config.logLevel).child({ worker: cluster.worker!.id }),
    );
  const log = createLogger(config.logLevel);
  const workers = workersOption ?? config.workers;
  startupStop.attach(log, config.shutdownGraceMs);
  log.debug({ workers }, "start-up: checking the port");
  // A taken port fails here, before the store, key file or bootstrap
  // tenant is written (and before a key is printed that nothing serves).
  await ensurePortFree(config.host, config.port);
  await startupStop.exitIfRequested();
  if (workers === 1) return serveSingle(config, log);
  const [{ choosePort, WorkerPool }, { prepareOnce }] = await Promise.all([
    import("../cluster/primary.js"),
    import("../cluster/prepare.js"),
  ]);
  // The port first (a free one for 0), then the one-time work before any
  // worker exists: workers find it done.
  const port = await choosePort(config.host, config.port);
  log.debug("start-up: preparing the key file and the store");
  // Announced even when a stop came meanwhile: a bootstrap key is printed once or never usable.
  announce(config, log, await prepareOnce(config, log));
  await startupStop.exitIfRequested();
  log.debug({ workers }, "start-up: forking workers");
  const tls = Boolean(config.tlsCert);
  new WorkerPool({ workers, host: config.host, port, graceMs: config.shutdownGraceMs, tls, log }).start();
  // After the pool's handlers are in: a signal not yet dispatched reaches them.
  startupStop.handOver();
}

/** Says once what this start created; the bootstrap API key goes to stdout, never to the log. */
function announce(config: Config, log: Logger, started: { bootstrap: BootstrapResult; keyFileCreated: boolean }): void {
  // The tenant id is not secret, and browsers need it to log in.
  if (started.bootstrap.tenantId) log.info({ tenantId: started.bootstrap.tenantId }, "bootstrap tenant");
  if (started.keyFileCreated) log.info({ file: config.keyFile }, "generated token key file (mode 0600)");
  if (started.bootstrap.newKey) {
    // Printed once to stdout, never logged: only its hash is stored.
    process.stdout.write(
      `\nroomgate created tenant ${started.bootstrap.tenantId} with this API key (shown once, store it now):\n\n  ${started.bootstrap.newKey}\n\n`,
    );
  }
}

/** `serve` as one process, no cluster at all (`--workers 1`). */
async function serveSingle(config: Config, log: Logger): Promise<void> {
  log.debug("start-up: opening the store");
  const [{ createApp }, { serve }, { drainAndExit }] = await Promise.all([
    import("../app/create-app.js"),
    import("../app/serve.js"),
    import("../cluster/serving.js"),
  ]);
  const app = await createApp(config, log);
  announce(config, log, app);
  await startupStop.exitIfRequested(() => app.close());
  log.debug("start-up: store ready, starting to listen");
  const server = await serve(app);
  log.info({ port: server.port, tls: Boolean(config.tlsCert) }, "roomgate listening");
  process.once("SIGTERM", () => drainAndExit(server, "SIGTERM", log));
  process.once("SIGINT", () => drainAndExit(server, "SIGINT", log));
  // The key file's changes and the change feed's reach the app by themselves; SIGHUP asks at once.
  process.on("SIGHUP", () => app.reloadKeys("SIGHUP"));
  // A stop that came while the server started listening drains it now.
  const stopped = startupStop.handOver();
  if (stopped !== undefined) drainAndExit(server, stopped, log);
}
