import { randomBytes, randomUUID } from "node:crypto";
import type { SubjectTokens } from "../auth/subject-tokens.js";
import { invalidArgument, RoomgateError } from "../errors.js";
import { journaled, memberJoined, type JournalSink } from "../events/record.js";
import type { MembershipStore } from "../membership.js";
import { ACCESS_LINK_ROLES, MODERATING_ROOM_ROLES } from "../roles.js";
import {
  checkExternalUserId,
  checkId,
  checkName,
  checkRole,
  checkScope,
  DEFAULT_LINK_TTL_SECONDS,
  MAX_LINK_USERNAME_CHARS,
  MAX_REDEEMED_TOKEN_TTL_SECONDS,
  type SpaceCaller,
} from "./rules.js";
import { findRoomIn } from "./spaces.js";
import type { AccessLinkRecord, SpaceStore } from "./store.js";

/** Seed 001 generateAccess, as the caller sends it. */
export interface AccessRequest {
  /** The room's space, "" for a room without one. */
  readonly spaceId: string;
  readonly roomId: string;
  readonly username: string;
  readonly role: string;
  readonly externalUserId: string;
  /** 0 means the default (24 h). */
  readonly ttlSeconds: number;
  readonly isPermanent: boolean;
}

/** A generated access link. */
export interface GeneratedAccess {
  /** `${publicUrl}/join/<room>?participantName=…&accessToken=…` */
  readonly link: string;
  readonly participantName: string;
  /** The access-link token (redeemed with room.access.v1 Redeem). */
  readonly accessToken: string;
  readonly expiresAt: number;
}

/** What redeeming a link gives: a user access token for the link's room. */
export interface Redemption {
  readonly accessToken: string;
  readonly userId: string;
  readonly roomId: string;
  readonly participantName: string;
  readonly expiresAt: number;
}

/** Settings of {@link AccessLinks}. */
export interface AccessLinkOptions {
  /** Base URL the links point at, without a trailing slash. */
  readonly publicUrl: string;
  /** Longest link lifetime accepted. */
  readonly maxTtlSeconds: number;
}

/**
 * Access links for unregistered users (seed 001 generateAccess) and their
 * redemption; the rules are listed in ./rules.ts. A link is a row in the
 * store plus an access-link token whose token id is the row's id, so the
 * token alone names the link and nothing guessable does.
 */
export class AccessLinks {
  constructor(
    private readonly store: SpaceStore,
    private readonly memberships: MembershipStore,
    private readonly linkTokens: SubjectTokens,
    private readonly userTokens: SubjectTokens,
    private readonly options: AccessLinkOptions,
    private readonly clock: () => number = Date.now,
    /** Where a guest's first redemption is audited and announced as a join. */
    private readonly sink?: JournalSink,
  ) {}

  /** Creates an access link; only the room's creator or a room moderator may. */
  generate(caller: SpaceCaller, req: AccessRequest): GeneratedAccess {
    checkId("room_id", req.roomId);
    checkName("username", req.username, MAX_LINK_USERNAME_CHARS);
    // ACCESS_LINK_ROLES is exactly the two access_links.role values.
    const role = checkRole("role", req.role, ACCESS_LINK_ROLES as readonly AccessLinkRecord["role"][]);
    checkExternalUserId(req.externalUserId);
    const ttlSeconds = req.ttlSeconds || DEFAULT_LINK_TTL_SECONDS;
    if (ttlSeconds > this.options.maxTtlSeconds) {
      throw invalidArgument(`ttl: ${ttlSeconds} exceeds the maximum of ${this.options.maxTtlSeconds} seconds`);
    }
    checkScope(caller, req.roomId);
    const room = findRoomIn(this.store, caller.tenantId, req.spaceId, req.roomId);
    // Seed 001: the creator or a room moderator — a space owner (or space
    // moderator) as such is not enough, so moderatesRoom is not used here.
    const mine = this.memberships.roomRolesOf(caller.tenantId, caller.userId, room.id);
    const allowed =
      room.creatorUserId === caller.userId ||
      mine.tenantModerator ||
      (mine.roomRole !== undefined && MODERATING_ROOM_ROLES.includes(mine.roomRole));
    if (!allowed) {
      throw new RoomgateError("permission_denied", "only the room's creator or a room moderator may generate access links");
    }
    const id = randomBytes(16).toString("hex");
    // Sealing writes nothing, so the token is made first and the row gets
    // the token's exact expiry; the row is the only write.
    const { token, claims } = this.linkTokens.issue({ tenantId: caller.tenantId, userId: "", roomId: room.id, ttlSeconds, tokenId: id });
    this.store.insertAccessLink({
      id,
      tenantId: caller.tenantId,
      roomId: room.id,
      username: req.username,
      role,
      externalUserId: req.externalUserId,
      isPermanent: req.isPermanent,
      expiresAt: claims.expiresAt,
      createdBy: caller.userId,
      createdAt: claims.issuedAt,
      guestUserId: null,
      useCount: 0,
    });
    const link =
      `${this.options.publicUrl}/join/${encodeURIComponent(room.id)}` +
      `?participantName=${encodeURIComponent(req.username)}&accessToken=${encodeURIComponent(token)}`;
    return { link, participantName: req.username, accessToken: token, expiresAt: claims.expiresAt };
  }

  /**
   * Exchanges an access-link token for a user access token limited to the
   * link's room. The claim, the guest user and its room role are written in
   * one transaction, so a one-time link yields exactly one token even when
   * redeemed concurrently.
   */
  redeem(accessToken: string): Redemption {
    if (accessToken === "") throw invalidArgument("access_token: must not be empty");
    let claims;
    try {
      claims = this.linkTokens.verify(accessToken);
    } catch (err) {
      // "token expired" is reported only after the tag verified: the link is
      // authentic, its time is up (its token lives exactly as long as it).
      if (err instanceof RoomgateError && err.message === "token expired") throw linkExpired();
      throw err;
    }
    const { tenantId, tokenId } = claims;
    const now = this.clock();
    return journaled((f) => this.store.atomically(f), this.sink, (record) => {
      const link = this.store.findAccessLink(tenantId, tokenId);
      if (!link || link.roomId !== claims.roomId) throw new RoomgateError("not_found", "access link not found");
      const ttlSeconds = Math.min(Math.floor((link.expiresAt - now) / 1000), MAX_REDEEMED_TOKEN_TTL_SECONDS);
      if (ttlSeconds < 1) throw linkExpired();
      if (!this.store.claimAccessLink(tenantId, link.id, now)) {
        throw new RoomgateError("failed_precondition", "access link already used");
      }
      let userId = link.guestUserId;
      if (userId === null) {
        userId = randomUUID();
        this.store.insertGuestUser({ tenantId, id: userId, username: link.username, externalUserId: link.externalUserId, createdAt: now });
        if (!this.store.setAccessLinkGuest(tenantId, link.id, userId)) {
          // Cannot happen inside the transaction; refuse rather than split the link's guests.
          throw new Error("access link guest set concurrently");
        }
        this.memberships.setRoomRole(tenantId, link.roomId, userId, link.role, link.createdBy, now);
        record(
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
      }
      const issued = this.userTokens.issue({ tenantId, userId, roomId: link.roomId, ttlSeconds });
      return {
        accessToken: issued.token,
        userId,
        roomId: link.roomId,
        participantName: link.username,
        expiresAt: issued.claims.expiresAt,
      };
    });
  }
}

function linkExpired(): RoomgateError {
  return new RoomgateError("failed_precondition", "access link expired");
}
