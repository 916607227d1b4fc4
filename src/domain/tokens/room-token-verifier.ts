import { fromBinary, type JsonObject } from "@bufbuild/protobuf";
import type { Permission } from "../../../gen/room/permissions/v1/permission_pb.js";
import { type Claims, ClaimsSchema } from "../../../gen/room/tokens/v1/claims_pb.js";
import { RoomAccessDeniedError, TokenRejectedError } from "../errors.js";
import { type RestrictionIndex, type RestrictionKind, withoutRestricted } from "../moderation/restrictions.js";
import type { RevocationIndex } from "./revocations.js";
import type { RoomTokensLive } from "./room-tokens-live.js";
import { InvalidTokenError, TokenKind, type TokenCodec } from "./token-codec.js";
import { formatTokenId } from "./token-id.js";
import { VerifiedCache } from "./verified-cache.js";

/** A token that verified: its claims with the effective permissions. */
export interface VerifiedToken {
  readonly tokenId: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly roomId: string;
  readonly permissions: readonly Permission[];
  readonly metadata: JsonObject;
  readonly issuedAt: number;
  readonly notBefore: number;
  readonly expiresAt: number;
  /** Live restrictions in force, already taken out of `permissions`. */
  readonly restrictions: ReadonlyArray<{ readonly kind: RestrictionKind; readonly until: number | null }>;
}

/**
 * A verified token as cached: its claims, and the revocation index
 * generation at which it was last found not revoked (-1: not checked yet).
 */
interface CachedToken {
  readonly v: VerifiedToken;
  clearAt: number;
}

/**
 * Verifies room member tokens from memory only: decryption (cached per
 * token), expiry, revocations and live restrictions; never the database.
 */
export class RoomTokenVerifier {
  private readonly cache: VerifiedCache<CachedToken>;
  private readonly revocations: RevocationIndex;
  private readonly restrictions: RestrictionIndex;
  /**
   * Told whether each Verify found its token already opened (metrics);
   * unset costs nothing. Given with the live state; still assignable while
   * src/app.ts sets it after construction.
   */
  onCacheLookup: ((hit: boolean) => void) | undefined;

  constructor(
    private readonly codec: TokenCodec,
    verifyCacheSize: number,
    private readonly clock: () => number = Date.now,
    live: Pick<RoomTokensLive, "revocations" | "restrictions" | "onCacheLookup">,
  ) {
    this.cache = new VerifiedCache(verifyCacheSize);
    this.revocations = live.revocations;
    this.restrictions = live.restrictions;
    this.onCacheLookup = live.onCacheLookup;
  }

  /**
   * True when `token` opened as a room member token before and the keyring
   * has not changed since: a cheap hint for callers that accept several
   * token kinds. It says nothing about expiry or revocation.
   */
  knows(token: string): boolean {
    return this.cache.get(token, this.codec.generation) !== undefined;
  }

  /**
   * Opens a room member token for `tenantId`. Anything that does not verify —
   * forged, altered, another kind, another tenant — gets the same error.
   */
  verify(tenantId: string | undefined, token: string): VerifiedToken {
    const generation = this.codec.generation;
    let cached = this.cache.get(token, generation);
    this.onCacheLookup?.(cached !== undefined);
    if (cached === undefined) {
      cached = { v: this.open(token), clearAt: -1 };
      this.cache.set(token, cached);
    }
    const v: VerifiedToken = cached.v;
    if (tenantId !== undefined && v.tenantId !== tenantId) {
      throw new TokenRejectedError("invalid");
    }
    const now = this.clock();
    if (now >= v.expiresAt) throw new TokenRejectedError("expired");
    if (now < v.notBefore) throw new TokenRejectedError("not_yet_valid");
    // Revocations only accumulate, so a token found not revoked stays so
    // until the index changes: a warm Verify skips the lookups until then.
    const revocations = this.revocations.generation;
    if (cached.clearAt !== revocations) {
      if (this.revocations.isRevoked(v)) throw new TokenRejectedError("revoked");
      cached.clearAt = revocations;
    }
    const active = this.restrictions.active(v.tenantId, v.roomId, v.userId, now);
    if (active.length === 0) return v;
    // A room block denies access outright (seed 000): a media server that
    // only checks the status must not admit the member.
    const block = active.find((r) => r.kind === "room_block");
    if (block) throw new RoomAccessDeniedError("room_blocked", v.roomId, block.until);
    return { ...v, permissions: withoutRestricted(v.permissions, active), restrictions: active };
  }

  /** Decrypts and decodes a token; every failure is the same "invalid token". */
  private open(token: string): VerifiedToken {
    let claims: Claims;
    try {
      claims = fromBinary(ClaimsSchema, this.codec.open(TokenKind.RoomMember, token));
    } catch (err) {
      if (err instanceof InvalidTokenError) throw new TokenRejectedError("invalid");
      throw err;
    }
    return Object.freeze({
      tokenId: formatTokenId(claims.tokenId),
      tenantId: claims.tenantId,
      userId: claims.userId,
      roomId: claims.roomId,
      permissions: Object.freeze(claims.permissions) as Permission[],
      metadata: claims.metadataJson === "" ? {} : (JSON.parse(claims.metadataJson) as JsonObject),
      issuedAt: Number(claims.issuedAtMs),
      notBefore: Number(claims.notBeforeMs),
      expiresAt: Number(claims.expiresAtMs),
      restrictions: [],
    });
  }
}
