import { randomUUID } from "node:crypto";
import type { SubjectClaims, SubjectTokens } from "../auth/subject-tokens.js";
import { invalidArgument, RoomgateError, TokenRejectedError } from "../errors.js";
import { journaled, memberJoined, type RecordFn } from "../events/record.js";
import { requireRoomAccess } from "../room-permissions.js";
import type { AccessLinksDeps, Redemption } from "./access-link-types.js";
import { MAX_REDEEMED_TOKEN_TTL_SECONDS } from "./rules.js";
import type { AccessLinkRecord } from "./store.js";

/**
 * Exchanges an access-link token for a user access token limited to the
 * link's room. The claim, the guest user and its room role are written in
 * one transaction, so a one-time link yields exactly one token even when
 * redeemed concurrently. A link revoked — by itself, by RevokeRoom, or by
 * RevokeUser or a kick of its guest, after it was made — never redeems; a
 * room-blocked guest is refused until the block ends.
 */
export async function redeemLink(deps: AccessLinksDeps, accessToken: string): Promise<Redemption> {
  if (accessToken === "") throw invalidArgument("access_token: must not be empty");
  const claims = openLinkToken(deps.linkTokens, accessToken);
  const { tenantId } = claims;
  const now = deps.clock();
  // Every block and revocation committed on any replica before this call
  // is applied here first (this replica's memory may be behind). Not
  // inside the write: the feed reads through the pool, which writers
  // waiting for the lock may have exhausted.
  await deps.sink.feed.catchUp();
  return await journaled(deps.transact, deps.sink, async (record) => {
    const { link, ttlSeconds } = await claimLink(deps, claims, now);
    const userId = link.guestUserId ?? (await admitGuest(deps, tenantId, link, now, record));
    const issued = deps.userTokens.issue({ tenantId, userId, roomId: link.roomId, ttlSeconds });
    await record({
      audit: [
        {
          tenantId,
          at: now,
          actor: `user:${userId}`,
          action: "access_link.redeem",
          roomId: link.roomId,
          targetUserId: userId,
          target: link.id,
          detail: { linkCreatedBy: link.createdBy, role: link.role, expiresAt: issued.claims.expiresAt },
        },
      ],
      events: [],
    });
    return {
      accessToken: issued.token,
      userId,
      roomId: link.roomId,
      participantName: link.username,
      expiresAt: issued.claims.expiresAt,
    };
  });
}

/** Opens an access-link token; "expired" only once the tag verified. */
function openLinkToken(tokens: SubjectTokens, accessToken: string): SubjectClaims {
  try {
    return tokens.verify(accessToken);
  } catch (err) {
    // "expired" is reported only after the tag verified: the link is
    // authentic, its time is up (its token lives exactly as long as it).
    if (err instanceof TokenRejectedError && err.rejection === "expired") throw linkExpired();
    throw err;
  }
}

/**
 * Inside the write: the link the token names, still live, not revoked and
 * open to its guest, claimed once more; with the lifetime left for the
 * token it yields.
 */
async function claimLink(
  deps: AccessLinksDeps,
  claims: SubjectClaims,
  now: number,
): Promise<{ link: AccessLinkRecord; ttlSeconds: number }> {
  const { tenantId, tokenId } = claims;
  const link = await deps.store.findAccessLink(tenantId, tokenId);
  if (!link || link.roomId !== claims.roomId) throw new RoomgateError("not_found", "access link not found");
  const ttlSeconds = Math.min(Math.floor((link.expiresAt - now) / 1000), MAX_REDEEMED_TOKEN_TTL_SECONDS);
  if (ttlSeconds < 1) throw linkExpired();
  const facts = {
    tenantId,
    tokenId: link.id,
    userId: link.guestUserId ?? "",
    roomId: link.roomId,
    issuedAt: link.createdAt,
  };
  if (link.revokedAt !== null || deps.access.revocations.isRevoked(facts)) {
    throw new RoomgateError("failed_precondition", "access link revoked");
  }
  if (link.guestUserId !== null)
    requireRoomAccess({ tenantId, userId: link.guestUserId, issuedAt: undefined }, link.roomId, deps.access);
  if (!(await deps.store.claimAccessLink(tenantId, link.id, now))) {
    throw new RoomgateError("failed_precondition", "access link already used");
  }
  return { link, ttlSeconds };
}

/** The first redemption of a link: its guest user, tied to the link, with the link's room role. */
async function admitGuest(
  deps: AccessLinksDeps,
  tenantId: string,
  link: AccessLinkRecord,
  now: number,
  record: RecordFn,
): Promise<string> {
  const userId = randomUUID();
  await deps.store.insertGuestUser({
    tenantId,
    id: userId,
    username: link.username,
    externalUserId: link.externalUserId,
    createdAt: now,
  });
  if (!(await deps.store.setAccessLinkGuest(tenantId, link.id, userId))) {
    // Cannot happen inside the transaction; refuse rather than split the link's guests.
    throw new Error("access link guest set concurrently");
  }
  await deps.memberships.setRoomRole(tenantId, link.roomId, userId, link.role, link.createdBy, now);
  await record(
    memberJoined({
      tenantId,
      actor: `user:${userId}`,
      at: now,
      userId,
      role: link.role,
      roomId: link.roomId,
      via: "access_link",
      target: link.id,
    }),
  );
  return userId;
}

function linkExpired(): RoomgateError {
  return new RoomgateError("failed_precondition", "access link expired");
}
