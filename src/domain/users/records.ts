import type { Keyset } from "../paging.js";
import type { UserKind } from "./users.js";

/** A live (not deleted) user as stored, without its password hash. */
export interface UserRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly kind: UserKind;
  readonly username: string;
  readonly email: string | null;
  readonly phone: string | null;
  readonly externalUserId: string | null;
  readonly uniqueUserIdentifier: string | null;
  readonly profilePic: string | null;
  readonly meta: string | null;
  /** Seed 003's moderator of every room of the tenant. */
  readonly tenantModerator: boolean;
  /** True when a password hash is stored (it is never read out). */
  readonly hasPassword: boolean;
  readonly createdAt: number;
}

/** A user as read back: the record plus the rooms it moderates by a room role. */
export interface UserView extends UserRecord {
  /** Rooms the user moderates by a room role, sorted, at most {@link MAX_MODERATED_ROOMS}. */
  readonly moderatedRoomIds: readonly string[];
  /** True when there are more than {@link MAX_MODERATED_ROOMS}. */
  readonly moderatedRoomIdsTruncated: boolean;
}

/** Most moderated rooms listed per user (GetUser, ListUsers). */
export const MAX_MODERATED_ROOMS = 100;

/** ListUsers filters; all given must match. */
export interface UserFilter {
  /** Exactly this external_user_id. */
  readonly externalUserId?: string;
  /** The registered user with this username key (see usernameKey). */
  readonly usernameKey?: string;
  readonly kind?: UserKind;
}

/**
 * Column changes of UpdateUser, already validated: undefined leaves a
 * column as it is, null clears it. `usernameKey` goes with `username` for
 * registered users.
 */
export interface UserColumnsPatch {
  readonly username?: string;
  readonly usernameKey?: string | null;
  readonly email?: string | null;
  readonly phone?: string | null;
  readonly externalUserId?: string | null;
  readonly meta?: string | null;
  readonly profilePic?: string | null;
  readonly passwordHash?: string;
}

/** What a deletion removed, for its audit entry and events. */
export interface DeletedUser {
  readonly kind: UserKind;
  readonly tenantModerator: boolean;
  /** Room roles removed: room and role. */
  readonly roomRoles: readonly { readonly roomId: string; readonly role: string }[];
  /** Space roles removed: space and role. */
  readonly spaceRoles: readonly { readonly spaceId: string; readonly role: string }[];
}

/** An access link revoked because its creator or its guest was deleted. */
export interface RevokedLink {
  readonly id: string;
  readonly roomId: string;
  readonly role: string;
  /** The guest who redeemed it, if anyone did. */
  readonly guestUserId: string | null;
}

/**
 * Persistence for reading back, updating and deleting users; implemented
 * in src/store/user-directory-store.ts. Deleted users are never returned.
 */
export interface UserDirectoryStore {
  /** A live user of the tenant, or undefined (unknown, another tenant's, deleted). */
  findUser(tenantId: string, userId: string): Promise<UserRecord | undefined>;
  /** Live users of the tenant strictly after `after` in (created_at desc, id desc) order. */
  listUsers(tenantId: string, filter: UserFilter, after: Keyset | undefined, limit: number): Promise<UserRecord[]>;
  /** Per user: the rooms it moderates by a room role, sorted, at most `limit` each. */
  moderatedRooms(tenantId: string, userIds: readonly string[], limit: number): Promise<Map<string, string[]>>;
  /** True when a registered user other than `exceptUserId` has this username, in any case. */
  registeredUsernameTakenByOther(tenantId: string, username: string, exceptUserId: string): Promise<boolean>;
  /** True when a registered user other than `exceptUserId` has this (lower-cased) email. */
  registeredEmailTakenByOther(tenantId: string, email: string, exceptUserId: string): Promise<boolean>;
  /** Applies a patch to a live user; false when there is none. A unique violation is already_exists. */
  updateUser(tenantId: string, userId: string, patch: UserColumnsPatch): Promise<boolean>;
  /**
   * Soft-deletes a live user in the caller's transaction: removes its room
   * and space roles and clears every personal field (kind becomes
   * `deleted`; the id stays). Undefined when there is no live user.
   */
  deleteUser(tenantId: string, userId: string): Promise<DeletedUser | undefined>;
  /** Revokes (at `now`) the unrevoked links the user created or redeemed as their guest. */
  revokeLinksOf(tenantId: string, userId: string, now: number): Promise<RevokedLink[]>;
}
