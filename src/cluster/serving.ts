import { watchFile } from "node:fs";
import type { Logger } from "pino";
import type { RunningServer } from "../app.js";
import type { Config } from "../config/config.js";
import { Keyring } from "../domain/tokens/keyring.js";
import type { TokenCodec } from "../domain/tokens/token-codec.js";
import { readKeyFile } from "../store/key-file.js";

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
 * edits the key file; the server notices the change (polled every second)
 * or reloads on SIGHUP (call the returned function). A file that fails to
 * load leaves the current keyring in place.
 */
export function keyringReloader(config: Config, codec: TokenCodec, log: Logger): (why: string) => void {
  const reload = (why: string): void => {
    if (config.tokenKeys) return log.warn("token keys come from ROOMGATE_TOKEN_KEYS; nothing to reload");
    try {
      const keys = readKeyFile(config.keyFile);
      if (keys) codec.setKeyring(new Keyring(keys));
      log.info({ keys: keys?.length, why }, "token keyring reloaded");
    } catch (err) {
      log.error({ err }, "keyring reload failed; keeping the current one");
    }
  };
  if (!config.tokenKeys) {
    watchFile(config.keyFile, { interval: 1_000, persistent: false }, (cur, prev) => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino) reload("key file changed");
    });
  }
  return reload;
}
