import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Prefix of keys roomgate generates: `rgk_<key id>_<secret>`. */
const PREFIX = "rgk_";
const FORMAT = /^rgk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** A freshly generated API key; `key` is shown once and never stored. */
export interface NewApiKey {
  readonly id: string;
  readonly key: string;
  readonly hash: Uint8Array;
}

/** What the store keeps of an API key. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly hash: Uint8Array;
  readonly revokedAt: number | null;
}

/** Looks an API key up by its public id. */
export interface ApiKeyLookup {
  findApiKey(id: string): Promise<ApiKeyRecord | undefined>;
}

/** The caller behind a valid API key. */
export interface ApiKeyPrincipal {
  readonly tenantId: string;
  readonly keyId: string;
}

/** Generates a key with 256 bits of secret entropy and a 64-bit public id. */
export function generateApiKey(): NewApiKey {
  const id = randomBytes(8).toString("hex");
  const key = `${PREFIX}${id}_${randomBytes(32).toString("base64url")}`;
  return { id, key, hash: hashApiKey(key) };
}

/** SHA-256 of the whole key; keys are high-entropy, so a fast hash suffices. */
export function hashApiKey(key: string): Uint8Array {
  return createHash("sha256").update(key, "utf8").digest();
}

/**
 * The public id of a presented key. Generated keys carry it; a key given by
 * the operator (ROOMGATE_API_KEY) in another shape gets one derived from its
 * hash, so lookups stay a primary-key read either way.
 */
export function apiKeyId(key: string, hash: (key: string) => Uint8Array = hashApiKey): string {
  const m = FORMAT.exec(key);
  if (m) return m[1]!;
  return `env_${Buffer.from(hash(`roomgate-key-id:${key}`))
    .toString("hex")
    .slice(0, 16)}`;
}

const DUMMY_HASH = hashApiKey("roomgate-dummy");

/**
 * Resolves a presented key to its tenant, or undefined. The hash comparison
 * runs in constant time, and a dummy comparison runs for unknown ids so that
 * timing does not tell which ids exist. `hash` is {@link hashApiKey}; a
 * parameter only so tests can count the hashes a call costs.
 */
export async function authenticateApiKey(
  lookup: ApiKeyLookup,
  presented: string,
  hash: (key: string) => Uint8Array = hashApiKey,
): Promise<ApiKeyPrincipal | undefined> {
  if (presented.length === 0 || presented.length > 512) return undefined;
  const id = apiKeyId(presented, hash);
  const record = await lookup.findApiKey(id);
  const digest = hash(presented);
  const expected = record?.hash.length === digest.length ? record.hash : DUMMY_HASH;
  const equal = timingSafeEqual(digest, expected);
  if (!record || !equal || record.revokedAt !== null) return undefined;
  return { tenantId: record.tenantId, keyId: record.id };
}
