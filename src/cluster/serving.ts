import type { Logger } from "pino";
import type { RunningServer } from "../app/serve.js";

/**
 * Drains the server (in-flight calls finish, see OnePortServer.close), closes
 * the store and exits: 0 when that went well, 1 otherwise.
 */
export function drainAndExit(server: RunningServer, signal: string, log: Logger): void {
  log.info({ signal }, "draining in-flight calls");
  server.close().then(
    () => {
      log.info("stopped");
      process.exit(0);
    },
    (err: unknown) => {
      log.error({ err }, "shutdown failed");
      process.exit(1);
    },
  );
}
