import { checkId } from "./ids.js";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { RoomgateError } from "./errors.js";
import { grantedPermissions, type MembershipStore } from "./membership.js";
import { ALL_PERMISSIONS, expandPermissions, isGroupPermission, isKnownPermission, permissionName } from "./permissions.js";

/** Seed 002's flags are the catalog's members of ranges 300–899 (groups excluded). */
const FLAG_RANGES_START = 300;
const FLAG_RANGES_END = 900;
const ENUM_PREFIX = "Permission";

/** One seed 002 flag and the catalog permission behind it. */
export interface RoomPermissionFlag {
  /** The seed's key, e.g. "canSendMessagesInDiscussion". */
  readonly name: string;
  readonly permission: Permission;
}

/**
 * The wire enum name minus its "Permission" prefix, first letter lowered:
 * PermissionUiCanSeeRoomSidebar → uiCanSeeRoomSidebar. The proto comments
 * pair every flag value with exactly this key, so deriving it keeps one
 * source of truth; the checks below fail start-up if a future value breaks
 * the pattern.
 */
function flagNameOf(p: Permission): string {
  const enumName = permissionName(p);
  if (!enumName.startsWith(ENUM_PREFIX) || enumName.length === ENUM_PREFIX.length) {
    throw new Error(`room permissions: ${enumName} does not follow the Permission<Flag> naming`);
  }
  const rest = enumName.slice(ENUM_PREFIX.length);
  const name = rest[0]!.toLowerCase() + rest.slice(1);
  if (!/^[a-z][A-Za-z]*$/.test(name)) throw new Error(`room permissions: ${enumName} gives a bad flag name ${name}`);
  return name;
}

/** Every seed 002 flag, sorted by name (the order seed 002 prints them in). */
export const ROOM_PERMISSION_FLAGS: readonly RoomPermissionFlag[] = ALL_PERMISSIONS.filter(
  (p) => p >= FLAG_RANGES_START && p < FLAG_RANGES_END && !isGroupPermission(p),
)
  .map((permission) => ({ name: flagNameOf(permission), permission }))
  .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

const flagByPermission = new Map<Permission, string>(ROOM_PERMISSION_FLAGS.map((f) => [f.permission, f.name]));
const permissionByFlag = new Map<string, Permission>(ROOM_PERMISSION_FLAGS.map((f) => [f.name, f.permission]));
if (permissionByFlag.size !== ROOM_PERMISSION_FLAGS.length) throw new Error("room permissions: two permissions map to one flag name");

/** The flag a permission shows as, or undefined (groups, seed 000 ranges). */
export function flagOfPermission(p: Permission): string | undefined {
  return flagByPermission.get(p);
}

/** The permission behind a seed 002 flag name, or undefined for an unknown name. */
export function permissionOfFlag(name: string): Permission | undefined {
  return permissionByFlag.get(name);
}

/**
 * Seed 002's permission object: every flag present, true exactly when its
 * permission is in the expanded set (a group grants its whole range).
 * Keys are in seed order.
 */
export function roomPermissionFlags(perms: Iterable<Permission>): Record<string, boolean> {
  const have = new Set(expandPermissions(perms));
  const out: Record<string, boolean> = {};
  for (const f of ROOM_PERMISSION_FLAGS) out[f.name] = have.has(f.permission);
  return out;
}

/**
 * The caller of a permissions query, as resolved from an end-user
 * credential; the services' EndUserPrincipal is this type.
 */
export type RoomCaller =
  | { readonly kind: "user"; readonly tenantId: string; readonly userId: string; readonly roomScope: string | undefined }
  | {
      readonly kind: "member";
      readonly tenantId: string;
      readonly userId: string;
      readonly roomId: string;
      readonly permissions: readonly number[];
    };

/** Read access to the rooms a tenant has; implemented in src/store/room-store.ts. */
export interface RoomDirectory {
  /** True when the tenant has a room with this id (created in a space or first seen in a token Create). */
  roomExists(tenantId: string, roomId: string): boolean;
}

/**
 * Seam for live restrictions (mute, chat block, room block): given what the
 * caller's grants and token allow (expanded), returns what they may do right
 * now, also expanded — removing a member permission must remove its group
 * too. The default lets everything through until moderation lands.
 */
export type ApplyLiveRestrictions = (
  subject: { readonly tenantId: string; readonly userId: string; readonly roomId: string },
  granted: readonly Permission[],
) => Permission[];

/** No live restrictions: the granted set is the effective set. */
export const NO_LIVE_RESTRICTIONS: ApplyLiveRestrictions = (_subject, granted) => [...granted];

/** What {@link effectiveRoomPermissions} reads. */
export interface RoomPermissionDeps {
  readonly rooms: RoomDirectory;
  readonly memberships: MembershipStore;
  /** Defaults to {@link NO_LIVE_RESTRICTIONS}. */
  readonly liveRestrictions?: ApplyLiveRestrictions;
}

/** Refuses a room id no room can have (bounded like token Create bounds it). */
export function checkRoomId(roomId: string): void {
  checkId("room_id", roomId);
}

/**
 * The caller's effective permissions in `roomId`, expanded and sorted:
 * - a room member token gives its own permissions, but only in its room;
 * - a user access token gives the union of the user's room, space and
 *   tenant-moderator roles — nothing when the token is scoped to another
 *   room (access-link users);
 * then live restrictions apply. The room must exist for the caller's
 * tenant (not_found otherwise, also for another tenant's room).
 */
export function effectiveRoomPermissions(caller: RoomCaller, roomId: string, deps: RoomPermissionDeps): Permission[] {
  checkRoomId(roomId);
  if (!deps.rooms.roomExists(caller.tenantId, roomId)) throw new RoomgateError("not_found", `room ${JSON.stringify(roomId)} not found`);
  let granted: Permission[];
  if (caller.kind === "member") {
    // Tokens are expanded at issue; expanding again costs little and keeps
    // a token from an older catalog honest. Unknown numbers are dropped.
    granted = caller.roomId === roomId ? expandPermissions(caller.permissions.filter(isKnownPermission)) : [];
  } else {
    granted =
      caller.roomScope !== undefined && caller.roomScope !== roomId
        ? []
        : grantedPermissions(deps.memberships, caller.tenantId, caller.userId, roomId);
  }
  const restrict = deps.liveRestrictions ?? NO_LIVE_RESTRICTIONS;
  // Not expanded again: a restriction that removes members of a range must
  // also drop its group, and re-expanding would put them back.
  return restrict({ tenantId: caller.tenantId, userId: caller.userId, roomId }, granted);
}
