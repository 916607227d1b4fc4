import type { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { MODERATING_ROLES, permissionsOfRoles, Rank, rankOfRole, type RoleName } from "./roles.js";

/** The roles that concern one user in one room, as stored. */
export interface RoomRoles {
  /** Role granted in the room itself (room_members). */
  readonly roomRole: RoleName | undefined;
  /** Role in the room's space, when the room belongs to one. */
  readonly spaceRole: RoleName | undefined;
  /** The user moderates every room of the tenant (seed 003). */
  readonly tenantModerator: boolean;
  /** The room is public; space roles reach public rooms only. */
  readonly roomIsPublic: boolean;
}

/** Read and write access to memberships; implemented in src/store. */
export interface MembershipStore {
  /**
   * Roles of `userId` that concern `roomId` (all undefined/false when none);
   * a role whose expiry has come is left out, swept or not.
   */
  roomRolesOf(tenantId: string, userId: string, roomId: string): Promise<RoomRoles>;
  /** Sets (insert or replace) a user's role in a room, with its expiry (null: lasts until revoked). */
  setRoomRole(
    tenantId: string,
    roomId: string,
    userId: string,
    role: RoleName,
    grantedBy: string,
    now: number,
    expiresAt?: number | null,
  ): Promise<void>;
  /** Removes a user's role in a room; false when they had none. */
  removeRoomRole(tenantId: string, roomId: string, userId: string): Promise<boolean>;
  /** Sets (insert or replace) a user's role in a space, with its expiry (null: lasts until revoked). */
  setSpaceRole(
    tenantId: string,
    spaceId: string,
    userId: string,
    role: RoleName,
    now: number,
    expiresAt?: number | null,
  ): Promise<void>;
  /** Removes a user's role in a space; false when they had none. */
  removeSpaceRole(tenantId: string, spaceId: string, userId: string): Promise<boolean>;
  /** Sets when seed 003's tenant-wide moderation of the user expires (null: lasts until demoted). */
  setTenantModeratorExpiry(tenantId: string, userId: string, expiresAt: number | null): Promise<void>;
}

/**
 * The role names that open the room to the user — the ways in by role:
 * - the room role;
 * - the space role, only when the room is public (seed 001: a private room
 *   takes part only with a room role; a space role, the owner's included,
 *   never opens a private room by itself — nobody grants themselves a role,
 *   so an owner outside a private room gets a room role from the API key);
 * - seed 003's tenant-wide moderator role: every room of the tenant.
 */
export function applicableRoles(r: RoomRoles): RoleName[] {
  const out: RoleName[] = [];
  if (r.roomRole) out.push(r.roomRole);
  if (r.spaceRole && r.roomIsPublic) out.push(r.spaceRole);
  if (r.tenantModerator) out.push("consumer_tenant_moderator");
  return out;
}

/**
 * A user's permissions in a room from their roles (before live
 * restrictions): the union of the roles that open the room to them.
 */
export async function grantedPermissions(
  store: MembershipStore,
  tenantId: string,
  userId: string,
  roomId: string,
): Promise<Permission[]> {
  return permissionsOfRoles(applicableRoles(await store.roomRolesOf(tenantId, userId, roomId)));
}

/**
 * True when the user is a moderator of the room: one of the roles that
 * open the room to them moderates (MODERATING_ROLES). This one definition
 * is used by every call that needs "a room moderator": GrantRole,
 * GenerateAccess, access-link listing and revocation. Moderation actions
 * are judged by the permissions those same roles give.
 */
export function moderatesRoom(r: RoomRoles): boolean {
  return applicableRoles(r).some((role) => MODERATING_ROLES.includes(role));
}

/**
 * The user's standing in the room for the hierarchy rule: the highest rank
 * among all their roles that concern it, whether or not the role opens the
 * room (a space owner outranks everyone in every room of the space, a
 * private one included).
 */
export function rankIn(r: RoomRoles): Rank {
  let rank: Rank = Rank.member;
  for (const role of [r.roomRole, r.spaceRole, r.tenantModerator ? "consumer_tenant_moderator" : undefined] as const) {
    if (role !== undefined) rank = Math.max(rank, rankOfRole(role)) as Rank;
  }
  return rank;
}
