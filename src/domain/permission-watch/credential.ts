import { TokenRejectedError } from "../errors.js";
import type { RoomCaller } from "../room-permissions.js";
import type { RevocationIndex } from "../tokens/revocations.js";

/**
 * Refuses a caller whose credential stopped holding since the call began:
 * expired, or revoked (by id, RevokeUser, RevokeRoom, a kick that revoked
 * the room's tokens, or the user's deletion). The same checks, in the same
 * order, as the token verifiers make when a call arrives, so a stream ends
 * with the code a new call would get.
 */
export function requireLiveCredential(caller: RoomCaller, revocations: RevocationIndex, now: number): void {
  const c = caller.credential;
  if (now >= c.expiresAt) throw new TokenRejectedError("expired");
  if (
    revocations.isRevoked({
      tenantId: caller.tenantId,
      userId: caller.userId,
      tokenId: c.tokenId,
      roomId: c.roomId,
      issuedAt: c.issuedAt,
    })
  ) {
    throw new TokenRejectedError("revoked");
  }
}
