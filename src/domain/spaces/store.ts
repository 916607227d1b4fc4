import type { Keyset } from "../paging.js";
import type { RoleName } from "../roles.js";

/** A space as the rules need it. */
export interface SpaceRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly isPublic: boolean;
  /** The owner (role_space_owner); null for a space an API key made without one. */
  readonly ownerUserId: string | null;
}

/** A room; `spaceId` and `creatorUserId` are null for rooms first named by token Create. */
export interface RoomRecord {
  readonly tenantId: string;
  readonly id: string;
  readonly spaceId: string | null;
  readonly name: string;
  readonly isPublic: boolean;
  readonly creatorUserId: string | null;
}

/** A new room in a space; `creatorUserId` is null when an API key made it. */
export interface NewRoom {
  readonly tenantId: string;
  readonly id: string;
  readonly spaceId: string;
  readonly name: string;
  readonly isPublic: boolean;
  readonly creatorUserId: string | null;
  readonly createdAt: number;
}

/**
 * A single-use space invite. `createdBy` is the creating user's id, or
 * `key:<api key id>` when an API key made it (see creatorLabel).
 */
export interface InviteRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly spaceId: string;
  readonly role: string;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly usedBy: string | null;
  readonly usedAt: number | null;
  /** When it was revoked unused, or null. */
  readonly revokedAt: number | null;
  /** When the role it gives expires, and the invite with it; null when the role lasts. */
  readonly roleExpiresAt?: number | null;
}

/**
 * An access link (seed 001 generateAccess). `createdBy` is the creating
 * user's id, or `key:<api key id>` when an API key made it.
 */
export interface AccessLinkRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly roomId: string;
  readonly username: string;
  readonly role: "user" | "moderator";
  readonly externalUserId: string;
  readonly isPermanent: boolean;
  readonly expiresAt: number;
  readonly createdBy: string;
  readonly createdAt: number;
  /** The guest user, once the link has been redeemed. */
  readonly guestUserId: string | null;
  readonly useCount: number;
  /** When the link was revoked, or null. */
  readonly revokedAt: number | null;
}

/** A guest user created by redeeming an access link. */
export interface NewGuestUser {
  readonly tenantId: string;
  readonly id: string;
  readonly username: string;
  readonly externalUserId: string;
  readonly createdAt: number;
}

/**
 * Persistence for spaces, rooms, invites and access links; implemented in
 * src/store. Writes are made inside the one write transaction (Transact,
 * src/domain/journal.ts), whose lock keeps a rule spanning several of them
 * from interleaving with another writer.
 */
export interface SpaceStore {
  /** True when the user exists in the tenant. */
  userExists(tenantId: string, userId: string): Promise<boolean>;
  /** The space, if it exists in the tenant. */
  findSpace(tenantId: string, spaceId: string): Promise<SpaceRecord | undefined>;
  /** Creates a space and makes its owner (when it has one) a member with `role_space_owner`. */
  insertSpace(space: SpaceRecord, createdAt: number): Promise<void>;
  /** The user's role in the space, if any. */
  spaceRoleOf(tenantId: string, spaceId: string, userId: string): Promise<RoleName | undefined>;
  /** The room, if it exists in the tenant. */
  findRoom(tenantId: string, roomId: string): Promise<RoomRecord | undefined>;
  /** Creates a room in a space. */
  insertRoom(room: NewRoom): Promise<void>;
  /** Stores a new, unused invite. */
  insertInvite(invite: InviteRecord): Promise<void>;
  /** The invite, if it exists in the tenant. */
  findInvite(tenantId: string, inviteId: string): Promise<InviteRecord | undefined>;
  /** Marks an unused, unrevoked invite used; false when it was used or revoked (nothing changed). */
  claimInvite(tenantId: string, inviteId: string, userId: string, now: number): Promise<boolean>;
  /** Marks an unused invite revoked; false when it was used or revoked already (nothing changed). */
  revokeInvite(tenantId: string, inviteId: string, now: number): Promise<boolean>;
  /** Stores a new access link. */
  insertAccessLink(link: AccessLinkRecord): Promise<void>;
  /** The access link, if it exists in the tenant. */
  findAccessLink(tenantId: string, linkId: string): Promise<AccessLinkRecord | undefined>;
  /**
   * Counts one use of a link. A one-time link is claimed only while unused;
   * false when it was already used (nothing changed).
   */
  claimAccessLink(tenantId: string, linkId: string, now: number): Promise<boolean>;
  /** Records the link's guest user, once; false when one was already set. */
  setAccessLinkGuest(tenantId: string, linkId: string, guestUserId: string): Promise<boolean>;
  /** A room's links, newest first (createdAt, then id, descending), strictly after `after` when given. */
  listAccessLinks(
    tenantId: string,
    roomId: string,
    after: Keyset | undefined,
    limit: number,
  ): Promise<AccessLinkRecord[]>;
  /** Marks a link revoked; false when it already was (nothing changed). */
  revokeAccessLink(tenantId: string, linkId: string, now: number): Promise<boolean>;
  /** Creates a guest user (users.kind = 'guest'). */
  insertGuestUser(guest: NewGuestUser): Promise<void>;
}
