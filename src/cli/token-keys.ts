import { existsSync } from "node:fs";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { loadConfig } from "../config/config.js";
import { journaled } from "../domain/events/record.js";
import { activateKey, addKey, generateTokenKey, retireKey, type TokenKey } from "../domain/tokens/keyring.js";
import { formatKeysConfig, loadOrCreateKeys, writeKeyFile } from "../store/key-file.js";
import { CliError } from "./cli-error.js";
import { withStore } from "./options.js";
import { settleAcrossReplicas } from "./settle.js";
import { storeExists } from "./store-check.js";

// The actions of `roomgate token-keys`; loaded by token-keys-command.ts only
// when one of them runs.

const RELOAD_HINT = "a running server picks the change up within a second (or at once on SIGHUP)";

/** `token-keys list`: id, state and creation time of each key. */
export function listKeys(): void {
  for (const k of keyFileKeys().keys) console.log(`${k.id}\t${k.state}\t${new Date(k.createdAt).toISOString()}`);
}

/** `token-keys export`: the keyring as ROOMGATE_TOKEN_KEYS takes it, to stdout (a warning to stderr). */
export function exportKeys(): void {
  const { keys } = keyFileKeys();
  // The keys go to stdout only (by design: the operator asked for them); the warning to stderr keeps a pipe clean.
  console.error(
    "roomgate: warning: this is the token keyring's secret: whoever holds it can mint and read every token. Keep it out of logs, shell history and version control",
  );
  process.stdout.write(`${formatKeysConfig(keys)}\n`);
}

/** `token-keys add`: a new key (the active one with --activate), announced to running replicas. */
export async function add(activate: boolean): Promise<void> {
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

/** `token-keys activate`: makes key `id` the one new tokens are sealed with. */
export async function activate(id: number): Promise<void> {
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

/** `token-keys retire`: removes decrypt-only key `id`. */
export async function retire(id: number): Promise<void> {
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
