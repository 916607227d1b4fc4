import type { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { MODERATING_ROOM_ROLES, permissionsOfRoles, type RoleName } from "./roles.js";

/** The roles that apply to one user in one room. */
export interface RoomRoles {
  /** Role granted in the room itself (room_members). */
  readonly roomRole: RoleName | undefined;
  /** Role in the room's space, when the room belongs to one. */
  readonly spaceRole: RoleName | undefined;
  /** The user moderates every room of the tenant (seed 003). */
  readonly tenantModerator: boolean;
}

/** Read and write access to memberships; implemented in src/store. */
export interface MembershipStore {
  /** Roles of `userId` that apply in `roomId` (all undefined/false when none). */
  roomRolesOf(tenantId: string, userId: string, roomId: string): RoomRoles;
  /** Sets (insert or replace) a user's role in a room. */
  setRoomRole(tenantId: string, roomId: string, userId: string, role: RoleName, grantedBy: string, now: number): void;
  /** Sets (insert or replace) a user's role in a space. */
  setSpaceRole(tenantId: string, spaceId: string, userId: string, role: RoleName, now: number): void;
}

/** The role names behind a {@link RoomRoles}. */
export function applicableRoles(r: RoomRoles): RoleName[] {
  const out: RoleName[] = [];
  if (r.roomRole) out.push(r.roomRole);
  if (r.spaceRole) out.push(r.spaceRole);
  if (r.tenantModerator) out.push("consumer_tenant_moderator");
  return out;
}

/**
 * A user's permissions in a room from their roles (before live
 * restrictions): the union of the room role, the space role and a
 * tenant-wide moderator role.
 */
export function grantedPermissions(store: MembershipStore, tenantId: string, userId: string, roomId: string): Permission[] {
  return permissionsOfRoles(applicableRoles(store.roomRolesOf(tenantId, userId, roomId)));
}

/** True when the user moderates the room (may grant roles, create access links). */
export function moderatesRoom(r: RoomRoles): boolean {
  return (
    r.tenantModerator ||
    (r.roomRole !== undefined && MODERATING_ROOM_ROLES.includes(r.roomRole)) ||
    r.spaceRole === "role_space_moderator"
  );
}
