import type { ApiKeyAuthenticator } from "../domain/auth/api-key-cache.js";
import type { ApiKeyPrincipal } from "../domain/auth/api-keys.js";
import { RoomgateError } from "../domain/errors.js";
import type { RateLimiter } from "../domain/rate-limit.js";

/** A call refused by its API key's rate limit; `retryAfterMs` says when one is allowed again. */
export class RateLimitedError extends RoomgateError {
  constructor(readonly retryAfterMs: number) {
    super("resource_exhausted", `rate limit exceeded for this API key; retry in ${retryAfterMs} ms`);
    this.name = "RateLimitedError";
  }
}

/**
 * Calls the per-key rate limit does not count: token verification. A chat or
 * media server verifies on every join and often on every message; it only
 * reads memory (no row is written), so its rate is bounded by the CPU, and any
 * fixed per-key cap would either throttle one busy media server below what
 * the machine can do or be too high to protect anything else. Exempting it
 * keeps the default cap meaningful for the calls that write.
 */
export const UNMETERED_PROCEDURES: ReadonlySet<string> = new Set([
  "room.tokens.private.v1.Service/Verify",
  "room.users.private.v1.Service/VerifyAccessToken",
  // Check answers from memory too, for servers that hold a user id, not a token.
  "room.access.private.v1.Service/Check",
  "room.access.private.v1.Service/CheckBulk",
]);

/**
 * The one way a backend call is admitted, whatever carried the key (the
 * RPCs' `Authorization: Bearer`, seed 003's `?auth=`): the key must open,
 * and its call budget must allow one more call. Sharing one gate (and one
 * limiter) means a key's budget is the same on every path.
 */
export class ApiKeyGate {
  constructor(
    /** Usually the `CachedApiKeyLookup`, which remembers keys that opened for its ttl. */
    private readonly keys: ApiKeyAuthenticator,
    private readonly limiter?: RateLimiter,
  ) {}

  /**
   * Authenticates `presented` and takes one call from its budget, unless
   * `procedure` (`<service>/<method>`) is one of {@link UNMETERED_PROCEDURES}.
   * Throws unauthenticated for a key that does not open,
   * {@link RateLimitedError} when the budget is spent. The key itself is
   * never logged or echoed.
   */
  async admit(presented: string, procedure: string): Promise<ApiKeyPrincipal> {
    const principal = await this.keys.authenticate(presented);
    if (!principal) throw new RoomgateError("unauthenticated", "invalid API key");
    return this.budget(principal, procedure);
  }

  /**
   * {@link admit} without waiting, for a key the authenticator remembers
   * (a hot key: one map lookup); undefined when it would have to wait, and
   * then {@link admit} decides. Refusals throw as admit's do.
   */
  admitRemembered(presented: string, procedure: string): ApiKeyPrincipal | undefined {
    const principal = this.keys.remembered?.(presented);
    return principal === undefined ? undefined : this.budget(principal, procedure);
  }

  /** Takes one call from the key's budget (unless the procedure is unmetered). */
  private budget(principal: ApiKeyPrincipal, procedure: string): ApiKeyPrincipal {
    if (UNMETERED_PROCEDURES.has(procedure)) return principal;
    const wait = this.limiter?.take(principal.keyId) ?? 0;
    if (wait > 0) throw new RateLimitedError(wait);
    return principal;
  }
}

/** The key of an `Authorization: Bearer <key>` header; unauthenticated when missing or malformed. */
export function bearerApiKey(authorization: string | null): string {
  if (authorization === null)
    throw new RoomgateError("unauthenticated", "missing API key: send Authorization: Bearer <key>");
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!m) throw new RoomgateError("unauthenticated", "malformed Authorization header: expected Bearer <key>");
  return m[1]!;
}
