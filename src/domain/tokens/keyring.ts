/**
 * Token keys: exactly one active key that seals new tokens, plus
 * decrypt-only older keys so tokens issued before a rotation keep verifying
 * until their key is retired. Pure data and helpers; persistence is in
 * src/store/key-file.ts.
 */
import { randomFillSync, randomInt } from "node:crypto";
import { XAES_KEY_SIZE, XaesKey } from "./xaes.js";

/** One token key. The id travels in every token header, so it is not secret. */
export interface TokenKey {
  /** Non-zero uint32, unique within a keyring. */
  id: number;
  /** 32 secret bytes for XAES-256-GCM. */
  secret: Uint8Array;
  /** "active" seals and opens; "decrypt" only opens. */
  state: "active" | "decrypt";
  /** Creation time, Unix milliseconds. */
  createdAt: number;
}

/** Misuse of a keyring or of the rotation helpers (unknown id, two active keys, ...). */
export class KeyringError extends Error {
  /** @param message - Never contains key material. */
  constructor(message: string) {
    super(message);
    this.name = "KeyringError";
  }
}

const MAX_KEY_ID = 0xffff_ffff;

/** Checks one key's shape; messages name the id, never the secret. */
function checkKey(key: TokenKey): void {
  if (!Number.isInteger(key.id) || key.id < 1 || key.id > MAX_KEY_ID) {
    throw new KeyringError(`token key id must be an integer in 1..${MAX_KEY_ID}, got ${String(key.id)}`);
  }
  if (!(key.secret instanceof Uint8Array) || key.secret.length !== XAES_KEY_SIZE) {
    throw new KeyringError(`token key ${key.id}: secret must be ${XAES_KEY_SIZE} bytes`);
  }
  if (key.state !== "active" && key.state !== "decrypt") {
    throw new KeyringError(`token key ${key.id}: state must be "active" or "decrypt"`);
  }
  if (!Number.isFinite(key.createdAt)) {
    throw new KeyringError(`token key ${key.id}: createdAt must be a finite number`);
  }
}

/** A frozen copy, so a Keyring cannot be changed behind its back. */
function freezeKey(key: TokenKey): TokenKey {
  return Object.freeze({ id: key.id, secret: Uint8Array.from(key.secret), state: key.state, createdAt: key.createdAt });
}

/** An immutable set of token keys with their ciphers built once. */
export class Keyring {
  /** The key that seals new tokens. */
  readonly active: TokenKey;
  readonly #keys: readonly TokenKey[];
  readonly #ciphers = new Map<number, XaesKey>();
  readonly #activeCipher: XaesKey;

  /**
   * @throws KeyringError unless there is exactly one active key, ids are
   *   unique non-zero uint32s and every secret is 32 bytes.
   */
  constructor(keys: readonly TokenKey[]) {
    const frozen: TokenKey[] = [];
    let active: TokenKey | undefined;
    for (const key of keys) {
      checkKey(key);
      if (this.#ciphers.has(key.id)) throw new KeyringError(`duplicate token key id ${key.id}`);
      const copy = freezeKey(key);
      frozen.push(copy);
      this.#ciphers.set(copy.id, new XaesKey(copy.secret));
      if (copy.state === "active") {
        if (active) throw new KeyringError(`more than one active token key (${active.id}, ${copy.id})`);
        active = copy;
      }
    }
    if (!active) throw new KeyringError("keyring has no active token key");
    this.active = active;
    this.#activeCipher = this.#ciphers.get(active.id)!;
    this.#keys = Object.freeze(frozen);
  }

  /** The cipher for key `id` (active or decrypt-only), or undefined if unknown. */
  get(id: number): XaesKey | undefined {
    return this.#ciphers.get(id);
  }

  /** The cipher of the active key, for sealing. */
  activeCipher(): XaesKey {
    return this.#activeCipher;
  }

  /** All keys in the order given, as frozen copies. */
  list(): readonly TokenKey[] {
    return this.#keys;
  }
}

/**
 * A fresh random key (random id, random secret), in state "decrypt" until
 * {@link addKey} or {@link activateKey} makes it active.
 *
 * @param now - Creation time, Unix milliseconds.
 */
export function generateTokenKey(now: number): TokenKey {
  return {
    id: randomInt(1, MAX_KEY_ID + 1),
    secret: randomFillSync(new Uint8Array(XAES_KEY_SIZE)),
    state: "decrypt",
    createdAt: now,
  };
}

/** Index of key `id`, or a KeyringError naming it. */
function indexOf(keys: readonly TokenKey[], id: number): number {
  const i = keys.findIndex((k) => k.id === id);
  if (i < 0) throw new KeyringError(`unknown token key id ${id}`);
  return i;
}

/**
 * Returns `keys` plus `key`. With `activate`, the new key becomes the only
 * active one and the previous active key turns decrypt-only; without it the
 * new key is decrypt-only (its own `state` is ignored), which lets every
 * instance learn a key before any of them seals with it.
 *
 * @throws KeyringError if the key is malformed or its id is already present.
 */
export function addKey(keys: readonly TokenKey[], key: TokenKey, activate: boolean): TokenKey[] {
  checkKey(key);
  if (keys.some((k) => k.id === key.id)) throw new KeyringError(`duplicate token key id ${key.id}`);
  const added: TokenKey = { ...key, state: "decrypt" };
  const next = [...keys.map((k) => ({ ...k })), added];
  return activate ? activateKey(next, key.id) : next;
}

/**
 * Returns `keys` with key `id` active and every other key decrypt-only.
 *
 * @throws KeyringError if `id` is unknown.
 */
export function activateKey(keys: readonly TokenKey[], id: number): TokenKey[] {
  indexOf(keys, id);
  return keys.map((k) => ({ ...k, state: k.id === id ? "active" : "decrypt" }));
}

/**
 * Returns `keys` without decrypt-only key `id`; tokens sealed with it stop
 * verifying.
 *
 * @throws KeyringError if `id` is unknown or is the active key (activate
 *   another key first, or nothing could seal new tokens).
 */
export function retireKey(keys: readonly TokenKey[], id: number): TokenKey[] {
  const i = indexOf(keys, id);
  if (keys[i].state === "active") {
    throw new KeyringError(`token key ${id} is active; activate another key before retiring it`);
  }
  return keys.filter((k) => k.id !== id).map((k) => ({ ...k }));
}
