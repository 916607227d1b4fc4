import { RoomgateError } from "../errors.js";
import { moderatesRoom } from "../membership.js";
import type { ActiveRestriction } from "../moderation/restrictions.js";
import { pageSizeOf } from "../paging.js";
import { requireRoomAccess } from "../room-permissions.js";
import type { RoleName } from "../roles.js";
import type { MemberFacts, MemberRoom, Position, RoomListing, SpaceListing } from "./list-store.js";
import { decodePosition, encodePosition, type ListName } from "./page-token.js";
import { checkId, checkScope, tenantOf, type SpaceCaller, type SpaceManager } from "./rules.js";
import type { SpacesDeps } from "./deps.js";
import { findRoomIn, findSpaceIn } from "./lookups.js";
import type { InviteRecord } from "./store.js";

/** A page as a list call asks for it. */
export interface PageRequest {
  /** 0: the default (50); at most 500. */
  readonly pageSize: number;
  /** "" for the first page. */
  readonly pageToken: string;
}

/** One page of a list. */
export interface Page<T> {
  readonly items: T[];
  /** "" on the last page. */
  readonly nextPageToken: string;
}

/** How a member got into a room (the README's "ways in"). */
export type WayIn = "room_role" | "space_role" | "tenant_moderator" | "access_link" | "room_member_token";

/** A member of a room as ListMembers shows it. */
export interface MemberListing {
  readonly userId: string;
  readonly username: string;
  readonly roomRole: RoleName | undefined;
  readonly spaceRole: RoleName | undefined;
  /** When each role expires by itself; null when it lasts until revoked (or is not held). */
  readonly roomRoleExpiresAt: number | null;
  readonly spaceRoleExpiresAt: number | null;
  readonly tenantModeratorExpiresAt: number | null;
  readonly waysIn: WayIn[];
  readonly accessLinkId: string | undefined;
  /** Restrictions in force now. */
  readonly restrictions: ActiveRestriction[];
}

/** A parsed page request. */
interface PageAsked {
  readonly size: number;
  readonly after: Position | undefined;
}

/**
 * The list calls (ListSpaces, ListRooms, ListMembers, ListInvites) for the
 * API key (its whole tenant) and for end users (what they belong to or
 * manage); the rules are listed in ./rules.ts. Each is keyset-paged with an
 * opaque token (./page-token.ts): a row that exists when the first page is
 * read is seen exactly once, whatever is inserted meanwhile. The page
 * request is checked first (invalid_argument), then ids are looked up
 * (not_found, also for another tenant's), then the caller is authorised.
 */
export class SpaceListings {
  constructor(private readonly deps: SpacesDeps) {}

  /** The API key: the tenant's spaces. An end user: the spaces they hold a role in, with it. */
  async spaces(who: SpaceManager, req: PageRequest): Promise<Page<SpaceListing>> {
    const asked = pageOf("spaces", req);
    if (who.kind === "api_key") {
      return await paged("spaces", asked, (after, n) => this.deps.lists.tenantSpaces(who.tenantId, after, n), newest);
    }
    const caller = await this.user(who.caller);
    return await paged(
      "spaces",
      asked,
      (after, n) => this.deps.lists.userSpaces(caller.tenantId, caller.userId, after, n),
      newest,
    );
  }

  /**
   * The API key: the rooms of a space ("" for the tenant's rooms without a
   * space). An end user who belongs to the space (a space role, a room role
   * in one of its rooms, or tenant-wide moderation): the rooms open to them.
   */
  async rooms(who: SpaceManager, spaceId: string, req: PageRequest): Promise<Page<RoomListing>> {
    const asked = pageOf("rooms", req);
    if (who.kind === "api_key") {
      if (spaceId === "")
        return await paged(
          "rooms",
          asked,
          (after, n) => this.deps.lists.spaceRooms(who.tenantId, null, after, n),
          newest,
        );
      checkId("space_id", spaceId);
      const space = await findSpaceIn(this.deps.store, who.tenantId, spaceId);
      return await paged(
        "rooms",
        asked,
        (after, n) => this.deps.lists.spaceRooms(who.tenantId, space.id, after, n),
        newest,
      );
    }
    checkId("space_id", spaceId);
    const caller = await this.user(who.caller);
    const space = await findSpaceIn(this.deps.store, caller.tenantId, spaceId);
    const spaceMember = (await this.deps.store.spaceRoleOf(caller.tenantId, space.id, caller.userId)) !== undefined;
    const tenantModerator = await this.deps.lists.isTenantModerator(caller.tenantId, caller.userId);
    if (
      !spaceMember &&
      !tenantModerator &&
      !(await this.deps.lists.belongsToSpace(caller.tenantId, space.id, caller.userId))
    ) {
      throw new RoomgateError("permission_denied", "you do not belong to this space");
    }
    const viewer = { userId: caller.userId, spaceMember, tenantModerator };
    return await paged(
      "rooms",
      asked,
      (after, n) => this.deps.lists.openRooms(caller.tenantId, space.id, viewer, after, n),
      newest,
    );
  }

  /**
   * A room's members — everyone with a way in — by user id, with roles, ways
   * in and the restrictions in force. The API key: any room of its tenant
   * (space "" for a room without one). An end user: a room moderator of the
   * room (moderatesRoom) to whom the room is open.
   */
  async members(who: SpaceManager, spaceId: string, roomId: string, req: PageRequest): Promise<Page<MemberListing>> {
    const asked = pageOf("members", req);
    if (who.kind === "user") checkId("space_id", spaceId);
    checkId("room_id", roomId);
    const tenantId = tenantOf(who);
    if (who.kind === "user") {
      checkScope(who.caller, roomId);
      await this.user(who.caller);
    }
    const room = await findRoomIn(this.deps.store, tenantId, spaceId, roomId);
    if (who.kind === "user") {
      requireRoomAccess(who.caller, room.id, this.deps.access);
      if (!moderatesRoom(await this.deps.memberships.roomRolesOf(tenantId, who.caller.userId, room.id))) {
        throw new RoomgateError("permission_denied", "only a room moderator may list the room's members");
      }
    }
    const where: MemberRoom = { tenantId, roomId: room.id, spaceId: room.spaceId, isPublic: room.isPublic };
    const now = this.deps.clock();
    // One more than asked tells whether another page follows.
    const ids = await this.deps.lists.memberIds(where, now, asked.after, asked.size + 1);
    const pageIds = ids.slice(0, asked.size);
    const facts = await this.deps.lists.memberFacts(where, pageIds, now);
    // A member whose only way in was a room member token that was revoked
    // since is no member: the page may hold fewer than asked, never a gap.
    const items = facts.map((f) => this.member(where, f, now)).filter((m) => m.waysIn.length > 0);
    const last = pageIds[pageIds.length - 1];
    return {
      items,
      nextPageToken:
        ids.length > asked.size && last !== undefined ? encodePosition("members", { at: 0, id: last }) : "",
    };
  }

  /** A space's invites, newest first: the API key, or the space's owner. */
  async invites(who: SpaceManager, spaceId: string, req: PageRequest): Promise<Page<InviteRecord>> {
    const asked = pageOf("invites", req);
    checkId("space_id", spaceId);
    const tenantId = tenantOf(who);
    if (who.kind === "user") await this.user(who.caller);
    const space = await findSpaceIn(this.deps.store, tenantId, spaceId);
    if (
      who.kind === "user" &&
      (await this.deps.store.spaceRoleOf(tenantId, space.id, who.caller.userId)) !== "role_space_owner"
    ) {
      throw new RoomgateError("permission_denied", "only the space owner may list its invites");
    }
    return await paged(
      "invites",
      asked,
      (after, n) => this.deps.lists.spaceInvites(tenantId, space.id, after, n),
      newest,
    );
  }

  private member(room: MemberRoom, f: MemberFacts, now: number): MemberListing {
    const waysIn: WayIn[] = [];
    if (f.roomRole !== undefined) waysIn.push(f.accessLinkId !== undefined ? "access_link" : "room_role");
    if (f.spaceRole !== undefined && room.isPublic) waysIn.push("space_role");
    if (f.tenantModerator) waysIn.push("tenant_moderator");
    if (f.newestTokenIssuedAt !== undefined) {
      const facts = {
        tenantId: room.tenantId,
        tokenId: "",
        userId: f.userId,
        roomId: room.roomId,
        issuedAt: f.newestTokenIssuedAt,
      };
      if (!this.deps.access.revocations.isRevoked(facts)) waysIn.push("room_member_token");
    }
    return {
      userId: f.userId,
      username: f.username,
      roomRole: f.roomRole,
      spaceRole: f.spaceRole,
      roomRoleExpiresAt: f.roomRoleExpiresAt,
      spaceRoleExpiresAt: f.spaceRoleExpiresAt,
      tenantModeratorExpiresAt: f.tenantModeratorExpiresAt,
      waysIn,
      accessLinkId: f.accessLinkId,
      restrictions: [...this.deps.access.restrictions.active(room.tenantId, room.roomId, f.userId, now)],
    };
  }

  /** A space-level end-user caller: not an access-link guest, and still existing. */
  private async user(caller: SpaceCaller): Promise<SpaceCaller> {
    checkScope(caller);
    if (!(await this.deps.store.userExists(caller.tenantId, caller.userId))) {
      throw new RoomgateError("unauthenticated", "the user of this access token no longer exists");
    }
    return caller;
  }
}

/** Page size and position of a request; invalid_argument for a bad size or a token not made by this list. */
function pageOf(list: ListName, req: PageRequest): PageAsked {
  return {
    size: pageSizeOf(req.pageSize),
    after: req.pageToken === "" ? undefined : decodePosition(list, req.pageToken),
  };
}

/** The (createdAt, id) key of rows listed newest first. */
function newest(row: { readonly createdAt: number; readonly id: string }): Position {
  return { at: row.createdAt, id: row.id };
}

/** Reads one page (one row more than asked tells whether another follows) and its next token. */
async function paged<T>(
  list: ListName,
  asked: PageAsked,
  read: (after: Position | undefined, limit: number) => Promise<T[]>,
  key: (row: T) => Position,
): Promise<Page<T>> {
  const rows = await read(asked.after, asked.size + 1);
  const items = rows.slice(0, asked.size);
  const last = items[items.length - 1];
  return {
    items,
    nextPageToken: rows.length > asked.size && last !== undefined ? encodePosition(list, key(last)) : "",
  };
}
