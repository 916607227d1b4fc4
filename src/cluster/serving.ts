import { watchFile } from "node:fs";
import type { Logger } from "pino";
import type { RunningServer } from "../app.js";
import type { Config } from "../config/config.js";

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

/**
 * Rotation for a serving process: `roomgate token-keys add --activate`
 * edits the key file; the server notices the change (polled every second),
 * reloads on SIGHUP (call the returned function), or hears of it through the
 * change feed. The reload itself is the app's one `reloadKeys`.
 */
export function keyringReloader(config: Config, reload: (why: string) => void): (why: string) => void {
  if (!config.tokenKeys) {
    watchFile(config.keyFile, { interval: 1_000, persistent: false }, (cur, prev) => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino) reload("key file changed");
    });
  }
  return reload;
}
