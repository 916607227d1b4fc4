import type { BatchSealer } from "./batch-sealer.js";
import type { GrantStore } from "./grants.js";
import { RoomTokenIssuer, type TokenLimits, type TokenRequest } from "./room-token-issuer.js";
import { RoomTokenVerifier, type VerifiedToken } from "./room-token-verifier.js";
import type { RoomTokensLive } from "./room-tokens-live.js";
import type { TokenCodec } from "./token-codec.js";

export type { GrantRecord, GrantStore } from "./grants.js";
export { DEFAULT_TOKEN_LIMITS, RoomTokenIssuer, type TokenLimits, type TokenRequest } from "./room-token-issuer.js";
export { RoomTokenVerifier, type VerifiedToken } from "./room-token-verifier.js";
export type { RoomTokensLive } from "./room-tokens-live.js";
export { formatTokenId } from "./token-id.js";

/**
 * Room member tokens (seed 000): the {@link RoomTokenIssuer} and the
 * {@link RoomTokenVerifier} over one codec and one live state. The two
 * halves share nothing else: issue writes to the store, verify reads only
 * memory.
 */
export class RoomTokens {
  readonly issuer: RoomTokenIssuer;
  readonly verifier: RoomTokenVerifier;

  constructor(
    codec: TokenCodec,
    store: GrantStore,
    limits: TokenLimits,
    clock: () => number,
    live: RoomTokensLive,
    sealer?: BatchSealer,
  ) {
    this.issuer = new RoomTokenIssuer(codec, store, limits, clock, live, sealer);
    this.verifier = new RoomTokenVerifier(codec, limits.verifyCacheSize, clock, live);
  }

  /** The limits Create enforces (read by benchmarks). */
  get limits(): TokenLimits {
    return this.issuer.limits;
  }

  /** See {@link RoomTokenIssuer.issue}. */
  issue(tenantId: string, issuedBy: string, requests: readonly TokenRequest[]): Promise<string[]> {
    return this.issuer.issue(tenantId, issuedBy, requests);
  }

  /** See {@link RoomTokenIssuer.issueRecorded}. */
  issueRecorded(
    tenantId: string,
    issuedBy: string,
    requests: readonly TokenRequest[],
  ): Promise<{ tokens: string[]; eventId: number }> {
    return this.issuer.issueRecorded(tenantId, issuedBy, requests);
  }

  /** See {@link RoomTokenVerifier.verify}. */
  verify(tenantId: string | undefined, token: string): VerifiedToken {
    return this.verifier.verify(tenantId, token);
  }

  /** See {@link RoomTokenVerifier.knows}. */
  knows(token: string): boolean {
    return this.verifier.knows(token);
  }
}
