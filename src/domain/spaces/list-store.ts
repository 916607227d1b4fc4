import type { RoleName } from "../roles.js";
import type { InviteRecord } from "./store.js";

/**
 * A keyset position: rows strictly after it in the list's order. Spaces,
 * rooms and invites are ordered by (createdAt desc, id desc); members by
 * user id ascending (`at` is 0). Both keys are immutable and unique per
 * row, so a row that exists when the first page is read is seen exactly
 * once however many rows are inserted between pages.
 */
export interface Position {
  readonly at: number;
  readonly id: string;
}

/** A space as listed; `role` is the listing user's role (undefined for the API key). */
export interface SpaceListing {
  readonly id: string;
  readonly name: string;
  readonly isPublic: boolean;
  readonly ownerUserId: string | null;
  readonly createdAt: number;
  readonly role: RoleName | undefined;
}

/** A room as listed; `role` is the listing user's room role (undefined for the API key or none). */
export interface RoomListing {
  readonly id: string;
  readonly spaceId: string | null;
  readonly name: string;
  readonly isPublic: boolean;
  readonly creatorUserId: string | null;
  readonly createdAt: number;
  readonly role: RoleName | undefined;
}

/** Which rooms of a space a user sees: those their roles open (see applicableRoles). */
export interface RoomViewer {
  readonly userId: string;
  /** The user holds a role in the space: its public rooms are open to them. */
  readonly spaceMember: boolean;
  /** Seed 003's tenant-wide moderator: every room is open to them. */
  readonly tenantModerator: boolean;
}

/** The room whose members are listed. */
export interface MemberRoom {
  readonly tenantId: string;
  readonly roomId: string;
  /** The room's space, or null. */
  readonly spaceId: string | null;
  /** Space roles reach public rooms only. */
  readonly isPublic: boolean;
}

/** What the store knows about one member of a room (before live state is applied). */
export interface MemberFacts {
  readonly userId: string;
  /** "" when the user id is known only from room member tokens. */
  readonly username: string;
  readonly roomRole: RoleName | undefined;
  /** When the room role expires by itself, or null. */
  readonly roomRoleExpiresAt: number | null;
  readonly spaceRole: RoleName | undefined;
  /** When the space role expires by itself, or null. */
  readonly spaceRoleExpiresAt: number | null;
  readonly tenantModerator: boolean;
  /** When tenant-wide moderation expires by itself, or null. */
  readonly tenantModeratorExpiresAt: number | null;
  /** The access link this member is the guest of, in this room. */
  readonly accessLinkId: string | undefined;
  /** Issue time of the member's newest unexpired room member token for the room, if any. */
  readonly newestTokenIssuedAt: number | undefined;
}

/**
 * Reads behind the list calls; implemented in src/store/space-list-store.ts.
 * Every method is tenant-scoped and returns at most `limit` rows strictly
 * after `after` in the list's order (see {@link Position}).
 */
export interface SpaceListStore {
  /** The tenant's spaces. */
  tenantSpaces(tenantId: string, after: Position | undefined, limit: number): Promise<SpaceListing[]>;
  /** The spaces the user holds a role in, with that role. */
  userSpaces(tenantId: string, userId: string, after: Position | undefined, limit: number): Promise<SpaceListing[]>;
  /** The rooms of a space (`spaceId` null: the rooms without a space). */
  spaceRooms(
    tenantId: string,
    spaceId: string | null,
    after: Position | undefined,
    limit: number,
  ): Promise<RoomListing[]>;
  /** The rooms of a space open to `viewer`, with the viewer's room role. */
  openRooms(
    tenantId: string,
    spaceId: string,
    viewer: RoomViewer,
    after: Position | undefined,
    limit: number,
  ): Promise<RoomListing[]>;
  /** True when the user holds a role in the space or a room role in one of its rooms. */
  belongsToSpace(tenantId: string, spaceId: string, userId: string): Promise<boolean>;
  /** True when the user is seed 003's tenant-wide moderator. */
  isTenantModerator(tenantId: string, userId: string): Promise<boolean>;
  /**
   * The user ids with a way into the room by the store's rows — a room role,
   * a space role (public rooms), tenant-wide moderation, an unexpired room
   * member token — ascending, after `after` (its `at` is ignored).
   */
  memberIds(room: MemberRoom, now: number, after: Position | undefined, limit: number): Promise<string[]>;
  /** The facts of the given members of the room: one entry per id, in the order given. */
  memberFacts(room: MemberRoom, userIds: readonly string[], now: number): Promise<MemberFacts[]>;
  /** A space's invites. */
  spaceInvites(tenantId: string, spaceId: string, after: Position | undefined, limit: number): Promise<InviteRecord[]>;
}
