import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

/** scrypt cost parameters for new hashes (RFC 7914; N=2^14, r=8, p=1 ≈ 16 MiB, tens of ms). */
export const SCRYPT_PARAMS = { N: 16_384, r: 8, p: 1 } as const;

const SALT_BYTES = 16;
const HASH_BYTES = 32;
// Bounds on parameters read back from the database, so a tampered row cannot
// make one login allocate gigabytes or spin for minutes: scrypt's work is
// proportional to N·r·p and its memory is 128·N·r bytes, so capping N·r·p at
// 4× ours (2^19) caps one check at 4× a normal login's time and at 64 MiB.
// Rows outside the bounds are treated as malformed (no password matches).
const MAX_WORK = 4 * SCRYPT_PARAMS.N * SCRYPT_PARAMS.r * SCRYPT_PARAMS.p;
const B64URL = /^[A-Za-z0-9_-]+$/;

/**
 * A well-formed hash that no password matches (its digest is all zeros and
 * scrypt output is never that in practice). Verifying against it costs the
 * same scrypt work as a real hash, so an unknown username takes as long as a
 * wrong password.
 */
const DUMMY_HASH = `scrypt$${SCRYPT_PARAMS.N}$${SCRYPT_PARAMS.r}$${SCRYPT_PARAMS.p}$${Buffer.alloc(SALT_BYTES, 7).toString("base64url")}$${Buffer.alloc(HASH_BYTES).toString("base64url")}`;

function derive(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Async scrypt runs on the libuv pool and keeps the event loop free.
    scrypt(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** scrypt's memory need is 128·N·r·p bytes; Node's default cap (32 MiB) is just above ours. */
function options(N: number, r: number, p: number): ScryptOptions {
  return { N, r, p, maxmem: 128 * N * r * p + 1024 * 1024 };
}

/**
 * Hashes a password with a fresh random 16-byte salt. The result,
 * `scrypt$N$r$p$salt$hash` (salt and hash base64url), is all that is stored.
 */
export async function hashPassword(password: string): Promise<string> {
  const { N, r, p } = SCRYPT_PARAMS;
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, HASH_BYTES, options(N, r, p));
  return `scrypt$${N}$${r}$${p}$${salt.toString("base64url")}$${hash.toString("base64url")}`;
}

/** A stored hash split into its parts; undefined when it is not one we can check. */
function parse(stored: string): { N: number; r: number; p: number; salt: Buffer; hash: Buffer } | undefined {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return undefined;
  const [, nS, rS, pS, saltS, hashS] = parts as [string, string, string, string, string, string];
  if (!/^\d{1,8}$/.test(nS) || !/^\d{1,3}$/.test(rS) || !/^\d{1,3}$/.test(pS)) return undefined;
  const N = Number(nS);
  const r = Number(rS);
  const p = Number(pS);
  // N must be a power of two above 1 for scrypt.
  if (N < 2 || (N & (N - 1)) !== 0 || r < 1 || p < 1 || N * r * p > MAX_WORK) return undefined;
  if (!B64URL.test(saltS) || !B64URL.test(hashS)) return undefined;
  const salt = Buffer.from(saltS, "base64url");
  const hash = Buffer.from(hashS, "base64url");
  if (salt.length < 8 || hash.length < 16 || hash.length > 64) return undefined;
  return { N, r, p, salt, hash };
}

let checks = 0;

/**
 * How many password checks (scrypt runs in {@link verifyPassword}) this
 * process has started: what the login limits bound, observable by tests and
 * metrics.
 */
export function passwordChecksStarted(): number {
  return checks;
}

/**
 * True when `password` matches `stored`, compared in constant time. With
 * `stored` undefined (no such user) a dummy hash is checked instead so that
 * the call takes as long, and the answer is false. A malformed stored value
 * is false, never an exception.
 */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const parsed = parse(stored ?? DUMMY_HASH) ?? parse(DUMMY_HASH)!;
  checks++;
  const actual = await derive(password, parsed.salt, parsed.hash.length, options(parsed.N, parsed.r, parsed.p));
  const equal = timingSafeEqual(actual, parsed.hash);
  // Only a real, well-formed stored hash can ever say yes.
  return equal && stored !== undefined && parse(stored) !== undefined;
}
