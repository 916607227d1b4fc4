import { randomBytes, randomUUID } from "node:crypto";
import type { SubjectTokens } from "../auth/subject-tokens.js";
import { invalidArgument, RoomgateError, TokenRejectedError } from "../errors.js";
import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import { journaled, memberJoined, roleRevoked } from "../events/record.js";
import type { Actor, StoredEvent } from "../journal.js";
import { moderatesRoom } from "../membership.js";
import { decodeKeyset, encodeKeyset, pageSizeOf } from "../paging.js";
import { requireRoomAccess } from "../room-permissions.js";
import { ACCESS_LINK_ROLES } from "../roles.js";
import type { Revocation } from "../tokens/revocations.js";
import {
  actorOf,
  checkExternalUserId,
  checkReason,
  creatorOf,
  tenantOf,
  type SpaceManager,
  checkId,
  checkName,
  checkRole,
  checkScope,
  DEFAULT_LINK_TTL_SECONDS,
  MAX_LINK_USERNAME_CHARS,
  MAX_REDEEMED_TOKEN_TTL_SECONDS,
} from "./rules.js";
import { findRoomIn, type SpacesDeps } from "./spaces.js";
import type { AccessLinkRecord } from "./store.js";

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
  /** The link's id (ListAccessLinks, RevokeAccessLink). */
  readonly linkId: string;
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

/** What access links work with beyond {@link SpacesDeps}; all required. */
export interface AccessLinksDeps extends SpacesDeps {
  readonly linkTokens: SubjectTokens;
  readonly userTokens: SubjectTokens;
  readonly options: AccessLinkOptions;
  /** Where a revoked link's guest revocation is stored (the revocations table). */
  readonly revocationStore: { addRevocation(r: Revocation, expiresAt: number | null): void };
}

/** Who manages a room's links: an end user (judged in the room) or the tenant's API key. */
export type LinkManager = SpaceManager;

/** A room and a page position, as List asks for them. */
export interface LinkListRequest {
  readonly spaceId: string;
  readonly roomId: string;
  readonly pageSize: number;
  readonly pageToken: string;
}

/** One page of links. */
export interface LinkPage {
  readonly links: AccessLinkRecord[];
  readonly nextPageToken: string;
}

/**
 * Access links for unregistered users (seed 001 generateAccess), their
 * redemption, listing and revocation; the rules are listed in ./rules.ts. A
 * link is a row in the store plus an access-link token whose token id is
 * the row's id, so the token alone names the link and nothing guessable does.
 */
export class AccessLinks {
  constructor(private readonly deps: AccessLinksDeps) {}

  /**
   * Creates an access link; only the room's creator or a room moderator may,
   * or the API key, in any room of its tenant (space "" for a room without
   * one). The link records its creator (creatorOf: a user id or `key:<id>`).
   */
  async generate(who: LinkManager, req: AccessRequest): Promise<GeneratedAccess> {
    if (who.kind === "user") checkId("space_id", req.spaceId);
    checkId("room_id", req.roomId);
    checkName("username", req.username, MAX_LINK_USERNAME_CHARS);
    // ACCESS_LINK_ROLES is exactly the two access_links.role values.
    const role = checkRole("role", req.role, ACCESS_LINK_ROLES as readonly AccessLinkRecord["role"][]);
    checkExternalUserId(req.externalUserId);
    const ttlSeconds = req.ttlSeconds || DEFAULT_LINK_TTL_SECONDS;
    if (ttlSeconds > this.deps.options.maxTtlSeconds) {
      throw invalidArgument(`ttl: ${ttlSeconds} exceeds the maximum of ${this.deps.options.maxTtlSeconds} seconds`);
    }
    const tenantId = tenantOf(who);
    const room = await findRoomIn(this.deps.store, tenantId, req.spaceId, req.roomId);
    if (who.kind === "user") {
      const caller = who.caller;
      checkScope(caller, req.roomId);
      requireRoomAccess(caller, room.id, this.deps.access);
      // Seed 001: the creator or a room moderator — a space owner as such is
      // not enough (moderatesRoom does not count the owner).
      const mine = await this.deps.memberships.roomRolesOf(caller.tenantId, caller.userId, room.id);
      if (room.creatorUserId !== caller.userId && !moderatesRoom(mine)) {
        throw new RoomgateError(
          "permission_denied",
          "only the room's creator or a room moderator may generate access links",
        );
      }
    }
    const id = randomBytes(16).toString("hex");
    // Sealing writes nothing, so the token is made first and the row gets
    // the token's exact expiry.
    const { token, claims } = this.deps.linkTokens.issue({
      tenantId,
      userId: "",
      roomId: room.id,
      ttlSeconds,
      tokenId: id,
    });
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      await this.deps.store.insertAccessLink({
        id,
        tenantId,
        roomId: room.id,
        username: req.username,
        role,
        externalUserId: req.externalUserId,
        isPermanent: req.isPermanent,
        expiresAt: claims.expiresAt,
        createdBy: creatorOf(who),
        createdAt: claims.issuedAt,
        guestUserId: null,
        useCount: 0,
        revokedAt: null,
      });
      await record({
        audit: [
          {
            tenantId,
            at: claims.issuedAt,
            actor: actorOf(who),
            action: "access_link.generate",
            roomId: room.id,
            target: id,
            detail: { role, isPermanent: req.isPermanent, expiresAt: claims.expiresAt, username: req.username },
          },
        ],
        events: [],
      });
    });
    const link =
      `${this.deps.options.publicUrl}/join/${encodeURIComponent(room.id)}` +
      `?participantName=${encodeURIComponent(req.username)}&accessToken=${encodeURIComponent(token)}`;
    return { link, participantName: req.username, accessToken: token, expiresAt: claims.expiresAt, linkId: id };
  }

  /**
   * Exchanges an access-link token for a user access token limited to the
   * link's room. The claim, the guest user and its room role are written in
   * one transaction, so a one-time link yields exactly one token even when
   * redeemed concurrently. A link revoked — by itself, by RevokeRoom, or by
   * RevokeUser or a kick of its guest, after it was made — never redeems; a
   * room-blocked guest is refused until the block ends.
   */
  async redeem(accessToken: string): Promise<Redemption> {
    if (accessToken === "") throw invalidArgument("access_token: must not be empty");
    let claims;
    try {
      claims = this.deps.linkTokens.verify(accessToken);
    } catch (err) {
      // "expired" is reported only after the tag verified: the link is
      // authentic, its time is up (its token lives exactly as long as it).
      if (err instanceof TokenRejectedError && err.rejection === "expired") throw linkExpired();
      throw err;
    }
    const { tenantId, tokenId } = claims;
    const now = this.deps.clock();
    // Every block and revocation committed on any replica before this call
    // is applied here first (this replica's memory may be behind). Not
    // inside the write: the feed reads through the pool, which writers
    // waiting for the lock may have exhausted.
    await this.deps.sink.feed.catchUp();
    return await journaled(this.deps.transact, this.deps.sink, async (record) => {
      const link = await this.deps.store.findAccessLink(tenantId, tokenId);
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
      if (link.revokedAt !== null || this.deps.access.revocations.isRevoked(facts)) {
        throw new RoomgateError("failed_precondition", "access link revoked");
      }
      if (link.guestUserId !== null)
        requireRoomAccess({ tenantId, userId: link.guestUserId, issuedAt: undefined }, link.roomId, this.deps.access);
      if (!(await this.deps.store.claimAccessLink(tenantId, link.id, now))) {
        throw new RoomgateError("failed_precondition", "access link already used");
      }
      let userId = link.guestUserId;
      if (userId === null) {
        userId = randomUUID();
        await this.deps.store.insertGuestUser({
          tenantId,
          id: userId,
          username: link.username,
          externalUserId: link.externalUserId,
          createdAt: now,
        });
        if (!(await this.deps.store.setAccessLinkGuest(tenantId, link.id, userId))) {
          // Cannot happen inside the transaction; refuse rather than split the link's guests.
          throw new Error("access link guest set concurrently");
        }
        await this.deps.memberships.setRoomRole(tenantId, link.roomId, userId, link.role, link.createdBy, now);
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
      }
      const issued = this.deps.userTokens.issue({ tenantId, userId, roomId: link.roomId, ttlSeconds });
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

  /** One page of a room's links, newest first. */
  async list(who: LinkManager, req: LinkListRequest): Promise<LinkPage> {
    const pageSize = pageSizeOf(req.pageSize);
    const after = req.pageToken === "" ? undefined : decodeKeyset(req.pageToken);
    const room = await this.managedRoom(who, req.spaceId, req.roomId, undefined);
    // One more than asked tells whether another page follows.
    const rows = await this.deps.store.listAccessLinks(room.tenantId, room.id, after, pageSize + 1);
    const links = rows.slice(0, pageSize);
    const last = links[links.length - 1];
    return {
      links,
      nextPageToken: rows.length > pageSize && last ? encodeKeyset({ at: last.createdAt, id: last.id }) : "",
    };
  }

  /**
   * Revokes one link: it never redeems again; its guest (if it was redeemed)
   * loses the room — every token issued to the guest so far is revoked and
   * the guest's room role removed. One transaction, audited, announced as
   * TOKEN_REVOKED naming the link.
   */
  async revoke(
    who: LinkManager,
    spaceId: string,
    roomId: string,
    linkId: string,
    reason: string,
  ): Promise<StoredEvent> {
    if (!/^[0-9a-f]{32}$/.test(linkId)) throw invalidArgument("link_id must be 32 lower-case hex digits");
    checkReason(reason);
    const tenantId = tenantOf(who);
    const link = await this.deps.store.findAccessLink(tenantId, linkId);
    if (!link || link.roomId !== roomId) throw new RoomgateError("not_found", "access link not found");
    await this.managedRoom(who, spaceId, roomId, link);
    const actor: Actor = actorOf(who);
    const now = this.deps.clock();
    const { events } = await journaled(
      this.deps.transact,
      this.deps.sink,
      async (record) => {
        if (!(await this.deps.store.revokeAccessLink(tenantId, link.id, now))) {
          throw new RoomgateError("failed_precondition", "access link already revoked");
        }
        const guest = (await this.deps.store.findAccessLink(tenantId, link.id))?.guestUserId ?? null;
        let revocation: Revocation | undefined;
        if (guest !== null) {
          revocation = { kind: "user_room", tenantId, userId: guest, roomId, at: now };
          await this.deps.revocationStore.addRevocation(revocation, null);
          if (await this.deps.memberships.removeRoomRole(tenantId, roomId, guest)) {
            await record(
              roleRevoked({
                tenantId,
                actor,
                at: now,
                userId: guest,
                role: link.role,
                roomId,
                via: "access_link",
                target: link.id,
              }),
            );
          }
        }
        await record({
          audit: [
            {
              tenantId,
              at: now,
              actor,
              action: "access_link.revoke",
              roomId,
              targetUserId: guest ?? "",
              target: link.id,
              reason,
            },
          ],
          events: [
            {
              tenantId,
              type: EventType.TOKEN_REVOKED,
              roomId,
              userId: guest ?? "",
              actor,
              at: now,
              tokenId: link.id,
              reason,
              effects: revocation ? { revocations: [revocation] } : undefined,
            },
          ],
        });
      },
      { withEvents: true },
    );
    return events[events.length - 1]!;
  }

  /**
   * The room whose links `who` may see or revoke: the API key, any room of
   * its tenant; an end user, a room open to them of which they are the
   * creator or a moderator — or, for one link, its creator.
   */
  private async managedRoom(who: LinkManager, spaceId: string, roomId: string, link: AccessLinkRecord | undefined) {
    if (who.kind === "api_key") {
      checkId("room_id", roomId);
      return await findRoomIn(this.deps.store, who.tenantId, spaceId, roomId);
    }
    const caller = who.caller;
    checkId("space_id", spaceId);
    checkId("room_id", roomId);
    checkScope(caller, roomId);
    const room = await findRoomIn(this.deps.store, caller.tenantId, spaceId, roomId);
    requireRoomAccess(caller, room.id, this.deps.access);
    const mine = await this.deps.memberships.roomRolesOf(caller.tenantId, caller.userId, room.id);
    const ownLink = link !== undefined && link.createdBy === caller.userId;
    if (room.creatorUserId !== caller.userId && !ownLink && !moderatesRoom(mine)) {
      throw new RoomgateError(
        "permission_denied",
        "only the room's creator or a room moderator may manage its access links",
      );
    }
    return room;
  }
}

function linkExpired(): RoomgateError {
  return new RoomgateError("failed_precondition", "access link expired");
}
