import type { Command } from "commander";
import { existsSync } from "node:fs";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { loadConfig } from "../config/config.js";
import { journaled } from "../domain/events/record.js";
import { activateKey, addKey, generateTokenKey, retireKey, type TokenKey } from "../domain/tokens/keyring.js";
import { formatKeysConfig, loadOrCreateKeys, writeKeyFile } from "../store/key-file.js";
import { withStore } from "./options.js";
import { settleAcrossReplicas } from "./settle.js";
import { storeExists } from "./store-check.js";
import { CliError } from "./tokens.js";

const RELOAD_HINT = "a running server picks the change up within a second (or at once on SIGHUP)";

/** `roomgate token-keys list|add|activate|retire|export`: the key file's keyring. */
export function registerTokenKeys(program: Command): void {
  const tokenKeys = program.command("token-keys").description("manage the token encryption keyring (key file)");
  tokenKeys
    .command("list")
    .description("list token keys and their state")
    .action(() => {
      for (const k of keyFileKeys().keys) console.log(`${k.id}\t${k.state}\t${new Date(k.createdAt).toISOString()}`);
    });
  tokenKeys
    .command("add")
    .description("generate a new token key; --activate makes it the one new tokens use")
    .option("--activate", "make the new key active (the old one stays decrypt-only)")
    .action((opts: { activate?: boolean }) => add(Boolean(opts.activate)));
  tokenKeys
    .command("activate <id>")
    .description("make an existing key active; the previous one becomes decrypt-only")
    .action((raw: string) => activate(keyIdArg(raw)));
  tokenKeys
    .command("retire <id>")
    .description("remove a decrypt-only key: tokens sealed with it stop verifying")
    .action((raw: string) => retire(keyIdArg(raw)));
  tokenKeys
    .command("export")
    .description(
      "print the keyring as ROOMGATE_TOKEN_KEYS takes it (id:secret,…, active key first) to stdout; it is the secret",
    )
    .action(() => {
      const { keys } = keyFileKeys();
      // The keys go to stdout only (by design: the operator asked for them); the warning to stderr keeps a pipe clean.
      console.error(
        "roomgate: warning: this is the token keyring's secret: whoever holds it can mint and read every token. Keep it out of logs, shell history and version control",
      );
      process.stdout.write(`${formatKeysConfig(keys)}\n`);
    });
}

async function add(activate: boolean): Promise<void> {
  const { keyFile, keys: before } = keyFileKeys(true);
  const key = generateTokenKey(Date.now());
  const previous = before.find((k) => k.state === "active");
  writeKeyFile(keyFile, addKey(before, key, activate));
  if (activate) {
    console.log(
      `added key ${key.id} (active): new tokens are sealed with it${previous ? `; key ${previous.id} is now decrypt-only` : ""}`,
    );
  } else {
    console.log(
      `added key ${key.id} (decrypt-only): tokens sealed with it verify; activate it with \`token-keys activate ${key.id}\``,
    );
  }
  await announceKeyringChange();
  console.log(RELOAD_HINT);
}

async function activate(id: number): Promise<void> {
  const { keyFile, keys } = keyFileKeys();
  const previous = keys.find((k) => k.state === "active");
  if (previous?.id === id) {
    console.log(`key ${id} is already active; nothing changed`);
    return;
  }
  writeKeyFile(keyFile, activateKey(keys, id));
  console.log(
    `key ${id} is active: new tokens are sealed with it${previous ? `; key ${previous.id} is now decrypt-only` : ""}`,
  );
  await announceKeyringChange();
  console.log(RELOAD_HINT);
}

async function retire(id: number): Promise<void> {
  const { keyFile, keys } = keyFileKeys();
  const left = retireKey(keys, id);
  writeKeyFile(keyFile, left);
  await announceKeyringChange();
  console.log(`key ${id} retired: tokens sealed with it no longer verify; ${left.length} key(s) left`);
  console.log(RELOAD_HINT);
}

/**
 * The key file's keys, creating the file (one active key) when there is
 * none yet — and saying so, since a command that only meant to look at the
 * keyring has then written one.
 */
function keyFileKeys(create = false): { keyFile: string; keys: TokenKey[] } {
  const { keyFile, tokenKeys: fromEnv } = loadConfig();
  if (fromEnv) {
    console.error(
      "roomgate: note: ROOMGATE_TOKEN_KEYS is set, so a server started with it ignores the key file these commands edit",
    );
  }
  // Only `add` may start a keyring; the others read one that must exist (a mistyped data dir).
  if (!create && !existsSync(keyFile)) {
    throw new CliError(
      `no token key file at ${keyFile} (check ROOMGATE_DATA_DIR / ROOMGATE_KEY_FILE; \`roomgate serve\` or \`token-keys add\` creates it)`,
    );
  }
  const loaded = loadOrCreateKeys(keyFile, Date.now());
  if (loaded.created) console.log(`created key file ${keyFile} (mode 0600) with active key ${loaded.keys[0]!.id}`);
  return { keyFile, keys: [...loaded.keys] };
}

/** A key id argument: a whole number, or a clear error. */
function keyIdArg(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new Error(`token key id must be a whole number, got "${raw}"`);
  return Number(raw);
}

/**
 * Tells every running replica, through the change feed, to re-read its key
 * file now (those reading the same file also notice within a second). The
 * event belongs to no tenant, so no Watch stream shows it. A retired key is
 * a removing write: done once every live replica reloaded. Skipped when the
 * store does not exist yet (no SQLite file, no PostgreSQL schema): nothing
 * runs then, and the key file alone is what the first `serve` will use.
 */
async function announceKeyringChange(): Promise<void> {
  if (!(await storeExists(loadConfig()))) return;
  await withStore(async ({ db, stores }) => {
    const sink = { journal: stores.journal, feed: { catchUp: settleAcrossReplicas(db) } };
    await journaled(
      (fn) => db.write(fn),
      sink,
      (record) =>
        record({
          audit: [],
          events: [
            {
              tenantId: "",
              type: EventType.UNSPECIFIED,
              actor: "system",
              at: Date.now(),
              effects: { keyringChanged: true },
            },
          ],
        }),
    );
  });
}
