/**
 * Token keys on disk and in config. The key file holds secrets, so it is
 * written atomically with mode 0600 and refused when others could read it.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { decodeBase64Url, encodeBase64Url } from "../domain/tokens/base64url.js";
import { Keyring, addKey, generateTokenKey } from "../domain/tokens/keyring.js";
import type { TokenKey } from "../domain/tokens/keyring.js";

const FILE_VERSION = 1;
const MAX_KEY_ID = 0xffff_ffff;
const ENTRY_FIELDS = ["createdAt", "id", "secret", "state"];

function errorCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String(err.code) : undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validates the set as a whole, reusing the Keyring's rules (one active, unique ids). */
function checkKeyring(keys: TokenKey[], where: string): TokenKey[] {
  try {
    new Keyring(keys);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
  return keys;
}

/** Parses one `keys[]` entry of the file; messages never include the secret. */
function parseEntry(entry: unknown, where: string): TokenKey {
  if (!isPlainObject(entry)) throw new Error(`${where}: must be an object`);
  const fields = Object.keys(entry).sort();
  if (fields.join() !== ENTRY_FIELDS.join()) {
    throw new Error(`${where}: must have exactly the fields ${ENTRY_FIELDS.join(", ")}`);
  }
  const { id, secret, state, createdAt } = entry;
  if (typeof id !== "number" || !Number.isInteger(id) || id < 1 || id > MAX_KEY_ID) {
    throw new Error(`${where}: id must be an integer in 1..${MAX_KEY_ID}`);
  }
  const bytes = typeof secret === "string" ? decodeBase64Url(secret) : undefined;
  if (bytes === undefined || bytes.length !== 32) {
    throw new Error(`${where} (key ${id}): secret must be 32 bytes of unpadded base64url`);
  }
  if (state !== "active" && state !== "decrypt") {
    throw new Error(`${where} (key ${id}): state must be "active" or "decrypt"`);
  }
  if (typeof createdAt !== "number" || !Number.isSafeInteger(createdAt) || createdAt < 0) {
    throw new Error(`${where} (key ${id}): createdAt must be Unix milliseconds`);
  }
  return { id, secret: Uint8Array.from(bytes), state, createdAt };
}

/**
 * Reads the key file.
 *
 * @returns The keys, or `undefined` if the file does not exist.
 * @throws Error if the file is accessible to group or others, is not a
 *   regular file, or its content is not a valid keyring.
 */
export function readKeyFile(file: string): TokenKey[] | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (err) {
    if (errorCode(err) === "ENOENT") return undefined;
    throw err;
  }
  let text: string;
  try {
    // fstat the open descriptor, so the mode we check belongs to what we read.
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`token key file ${file} is not a regular file`);
    // Windows has no POSIX modes; everywhere else refuse a leaked secret.
    if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
      throw new Error(
        `token key file ${file} has mode ${mode}; it must not be accessible by group or others (chmod 600 ${file})`,
      );
    }
    text = fs.readFileSync(fd, "utf8");
  } finally {
    fs.closeSync(fd);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // V8's message quotes the text around the error, which may be a secret.
    throw new Error(`token key file ${file} is not valid JSON`);
  }
  if (!isPlainObject(doc) || doc.version !== FILE_VERSION || !Array.isArray(doc.keys)) {
    throw new Error(`token key file ${file} must be {"version": ${FILE_VERSION}, "keys": [...]}`);
  }
  const keys = doc.keys.map((e: unknown, i: number) => parseEntry(e, `token key file ${file}, keys[${i}]`));
  return checkKeyring(keys, `token key file ${file}`);
}

/** Writes `text` to a fresh 0600 temp file beside `file` and syncs it; returns its path. */
function writeTemp(file: string, text: string): string {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  // "wx" = O_CREAT|O_EXCL: never follow or reuse someone else's file.
  const fd = fs.openSync(tmp, "wx", 0o600);
  try {
    fs.fchmodSync(fd, 0o600); // the umask can only narrow the mode, but be explicit
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  return tmp;
}

/** Makes the rename itself durable; not every platform can fsync a directory. */
function syncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // best effort: the file content is already synced
  }
}

function serialize(keys: readonly TokenKey[]): string {
  const doc = {
    version: FILE_VERSION,
    keys: keys.map((k) => ({ id: k.id, secret: encodeBase64Url(k.secret), state: k.state, createdAt: k.createdAt })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Atomically replaces the key file (temp file, fsync, rename), leaving it
 * with mode 0600; creates the parent directory with mode 0700 if missing.
 * A crash leaves either the old file or the new one, never a torn one.
 *
 * @throws Error if `keys` is not a valid keyring, or on I/O failure.
 */
export function writeKeyFile(file: string, keys: readonly TokenKey[]): void {
  checkKeyring([...keys], "refusing to write token key file");
  const tmp = writeTemp(file, serialize(keys));
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDir(path.dirname(file));
}

/**
 * Publishes `tmp` as `file` only if `file` does not exist yet, so two
 * processes starting at once cannot both create a key and each seal tokens
 * the other cannot open. Returns false if `file` already existed.
 */
function publishExclusive(tmp: string, file: string): boolean {
  try {
    fs.linkSync(tmp, file); // fails with EEXIST instead of replacing
    return true;
  } catch (err) {
    if (errorCode(err) === "EEXIST") return false;
    // Some filesystems have no hard links; a plain rename is the fallback.
    if (errorCode(err) === "EPERM" || errorCode(err) === "ENOTSUP" || errorCode(err) === "ENOSYS") {
      fs.renameSync(tmp, file);
      return true;
    }
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Loads the keys from `file`, or, if it does not exist, generates one
 * active key and writes it there.
 *
 * @param now - Creation time for a generated key, Unix milliseconds.
 * @returns The keys, and whether this call created the file.
 */
export function loadOrCreateKeys(file: string, now: number): { keys: TokenKey[]; created: boolean } {
  const existing = readKeyFile(file);
  if (existing) return { keys: existing, created: false };
  const keys = addKey([], generateTokenKey(now), true);
  const tmp = writeTemp(file, serialize(keys));
  if (publishExclusive(tmp, file)) {
    syncDir(path.dirname(file));
    return { keys, created: true };
  }
  // Lost the race: use the winner's keys.
  const winner = readKeyFile(file);
  if (!winner) throw new Error(`token key file ${file} vanished while being created`);
  return { keys: winner, created: false };
}

/**
 * Parses `ROOMGATE_TOKEN_KEYS`: comma-separated `id:secret` entries, where
 * `id` is a decimal uint32 (non-zero) and `secret` is 32 bytes of unpadded
 * base64url. The first entry is active, the rest decrypt-only. Keys from
 * config have no known creation time, so `createdAt` is 0.
 *
 * @throws Error naming the entry by position; never echoes its text, since a
 *   mistyped entry may be all secret.
 */
export function parseKeysConfig(value: string): TokenKey[] {
  const entries = value.split(",");
  const keys = entries.map((raw, i): TokenKey => {
    const where = `ROOMGATE_TOKEN_KEYS entry ${i + 1}`;
    const entry = raw.trim();
    if (entry === "") throw new Error(`${where} is empty`);
    const colon = entry.indexOf(":");
    if (colon < 0) throw new Error(`${where} must be "id:secret"`);
    const idText = entry.slice(0, colon);
    const id = /^[0-9]{1,10}$/.test(idText) ? Number(idText) : NaN;
    if (!(id >= 1 && id <= MAX_KEY_ID)) {
      throw new Error(`${where}: id must be a decimal integer in 1..${MAX_KEY_ID}`);
    }
    const secret = decodeBase64Url(entry.slice(colon + 1));
    if (secret === undefined || secret.length !== 32) {
      throw new Error(`${where} (key ${id}): secret must be 32 bytes of unpadded base64url`);
    }
    return { id, secret: Uint8Array.from(secret), state: i === 0 ? "active" : "decrypt", createdAt: 0 };
  });
  return checkKeyring(keys, "ROOMGATE_TOKEN_KEYS");
}

/**
 * The inverse of {@link parseKeysConfig}: the keyring as `ROOMGATE_TOKEN_KEYS`
 * takes it, `id:secret` entries joined by commas, the active key first and
 * the decrypt-only keys after it in their order. The result is the secret
 * itself: print it only where the operator asked for it, never log it.
 *
 * @throws Error if `keys` is not a valid keyring (no active key, duplicate ids).
 */
export function formatKeysConfig(keys: readonly TokenKey[]): string {
  checkKeyring([...keys], "refusing to export token keys");
  const ordered = [...keys.filter((k) => k.state === "active"), ...keys.filter((k) => k.state !== "active")];
  return ordered.map((k) => `${k.id}:${encodeBase64Url(k.secret)}`).join(",");
}
