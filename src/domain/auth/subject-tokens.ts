import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { randomBytes } from "node:crypto";
import { type Claims, ClaimsSchema } from "../../../gen/room/tokens/v1/claims_pb.js";
import { TokenRejectedError } from "../errors.js";
import { formatTokenId } from "../tokens/token-id.js";
import type { RevocationIndex } from "../tokens/revocations.js";
import { InvalidTokenError, type TokenCodec, type TokenKind } from "../tokens/token-codec.js";

/** The claims of a user access token or an access-link token. */
export interface SubjectClaims {
  readonly tokenId: string;
  readonly tenantId: string;
  /** The user; empty for an access-link token (the guest is created on redemption). */
  readonly userId: string;
  /** The one room the token is limited to, or "" for none. */
  readonly roomId: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** What to put in a new token; `tokenId` defaults to 16 random bytes. */
export interface SubjectTokenInit {
  readonly tenantId: string;
  readonly userId: string;
  readonly roomId?: string;
  readonly ttlSeconds: number;
  /** 32 hex digits, for tokens that must carry a known id (access links, a session's tokens). */
  readonly tokenId?: string;
  /**
   * The issue time revocations judge the token by; default now. A refreshed
   * session token carries its session's start, so a kick or RevokeUser
   * after the session began still covers the tokens it issues later.
   */
  readonly issuedAt?: number;
}

/**
 * Opaque tokens of one kind that name a subject rather than carry grants:
 * user access tokens (TokenKind.UserAccess) and access-link tokens
 * (TokenKind.AccessLink). The kind is bound as associated data by the codec,
 * so neither is ever accepted as the other, nor as a room member token.
 */
export class SubjectTokens {
  constructor(
    private readonly codec: TokenCodec,
    private readonly kind: TokenKind,
    private readonly clock: () => number,
    /**
     * Revocations to honour: a user's tokens revoked by RevokeUser, and an
     * access-link user's room-scoped token revoked by a kick from that room.
     * Null only where another check owns revocation (access-link tokens:
     * Redeem judges the link's row and the guest's revocations itself).
     */
    private readonly revocations: RevocationIndex | null,
  ) {}

  /** Seals a new token and returns it with its claims. */
  issue(init: SubjectTokenInit): { token: string; claims: SubjectClaims } {
    const now = this.clock();
    const idBytes = init.tokenId ? Buffer.from(init.tokenId, "hex") : randomBytes(16);
    const expiresAt = now + init.ttlSeconds * 1000;
    const issuedAt = init.issuedAt ?? now;
    const msg = create(ClaimsSchema, {
      tokenId: idBytes,
      tenantId: init.tenantId,
      userId: init.userId,
      roomId: init.roomId ?? "",
      issuedAtMs: BigInt(issuedAt),
      notBeforeMs: BigInt(now),
      expiresAtMs: BigInt(expiresAt),
    });
    const token = this.codec.seal(this.kind, toBinary(ClaimsSchema, msg));
    return {
      token,
      claims: {
        tokenId: formatTokenId(idBytes),
        tenantId: init.tenantId,
        userId: init.userId,
        roomId: init.roomId ?? "",
        issuedAt,
        expiresAt,
      },
    };
  }

  /** Opens a token of this kind; anything else is unauthenticated. */
  verify(token: string): SubjectClaims {
    let c: Claims;
    try {
      c = fromBinary(ClaimsSchema, this.codec.open(this.kind, token));
    } catch (err) {
      if (err instanceof InvalidTokenError) throw new TokenRejectedError("invalid");
      throw err;
    }
    const expiresAt = Number(c.expiresAtMs);
    if (this.clock() >= expiresAt) throw new TokenRejectedError("expired");
    const tokenId = formatTokenId(c.tokenId);
    const issuedAt = Number(c.issuedAtMs);
    if (this.revocations?.isRevoked({ tenantId: c.tenantId, tokenId, userId: c.userId, roomId: c.roomId, issuedAt })) {
      throw new TokenRejectedError("revoked");
    }
    return {
      tokenId,
      tenantId: c.tenantId,
      userId: c.userId,
      roomId: c.roomId,
      issuedAt,
      expiresAt,
    };
  }
}
