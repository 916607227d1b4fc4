import { checkId } from "./ids.js";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { RoomgateError } from "./errors.js";
import { applicableRoles, rankIn, type MembershipStore } from "./membership.js";
import { RoomAccessDeniedError } from "./errors.js";
import type { RestrictionIndex } from "./moderation/restrictions.js";
import type { RevocationIndex } from "./tokens/revocations.js";
import { permissionsOfRoles, Rank } from "./roles.js";
import {
  ALL_PERMISSIONS,
  expandPermissions,
  isGroupPermission,
  isKnownPermission,
  permissionName,
} from "./permissions.js";

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
if (permissionByFlag.size !== ROOM_PERMISSION_FLAGS.length)
  throw new Error("room permissions: two permissions map to one flag name");

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
 * The credential a caller presented, as its revocation check needs it; a
 * long-lived call (Watch) checks it again after every change.
 */
export interface CredentialFacts {
  readonly tokenId: string;
  /** The token's room ("" for a user access token limited to no room). */
  readonly roomId: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/**
 * The caller of a permissions query, as resolved from an end-user
 * credential; the services' EndUserPrincipal is this type.
 */
export type RoomCaller =
  | {
      readonly kind: "user";
      readonly tenantId: string;
      readonly userId: string;
      readonly roomScope: string | undefined;
      /** When the user access token (or session cookie) was issued: a later kick takes the room from it. */
      readonly issuedAt: number;
      /** The token itself, checked again by long-lived calls. */
      readonly credential: CredentialFacts;
    }
  | {
      readonly kind: "member";
      readonly tenantId: string;
      readonly userId: string;
      readonly roomId: string;
      readonly permissions: readonly number[];
      /** The token itself, checked again by long-lived calls. */
      readonly credential: CredentialFacts;
    };

/** Read access to the rooms a tenant has; implemented in src/store/room-store.ts. */
export interface RoomDirectory {
  /** True when the tenant has a room with this id (created in a space or first seen in a token Create). */
  roomExists(tenantId: string, roomId: string): Promise<boolean>;
}

/** What every end-user judgement in a room reads; all required, wired once in a feature module (src/app/modules/). */
export interface RoomPermissionDeps {
  readonly rooms: RoomDirectory;
  readonly memberships: MembershipStore;
  readonly restrictions: RestrictionIndex;
  readonly revocations: RevocationIndex;
  readonly clock: () => number;
}

/** Refuses a room id no room can have (bounded like token Create bounds it). */
export function checkRoomId(roomId: string): void {
  checkId("room_id", roomId);
}

/** The subject of a room access check: who, with which credential. */
export interface RoomSubject {
  readonly tenantId: string;
  readonly userId: string;
  /** When the credential was issued; undefined for credentials already checked against revocations (room member tokens). */
  readonly issuedAt: number | undefined;
}

/**
 * Refuses a member for whom the room is closed, whatever their roles:
 * - a live room block → RoomAccessDeniedError "room_blocked" with its until;
 * - a kick from the room, or RevokeUser in the room, or RevokeRoom, after
 *   the credential was issued → "removed" (a new login or token is not
 *   affected: kick is a one-time removal).
 * Every end-user call that acts in a room calls this first.
 */
export function requireRoomAccess(
  subject: RoomSubject,
  roomId: string,
  deps: Pick<RoomPermissionDeps, "restrictions" | "revocations" | "clock">,
): void {
  const now = deps.clock();
  for (const r of deps.restrictions.active(subject.tenantId, roomId, subject.userId, now)) {
    if (r.kind === "room_block") throw new RoomAccessDeniedError("room_blocked", roomId, r.until);
  }
  if (
    subject.issuedAt !== undefined &&
    deps.revocations.removedFromRoom(subject.tenantId, subject.userId, roomId, subject.issuedAt)
  ) {
    throw new RoomAccessDeniedError("removed", roomId, null);
  }
}

/** The subject of a resolved end-user caller. */
export function subjectOf(caller: RoomCaller): RoomSubject {
  return {
    tenantId: caller.tenantId,
    userId: caller.userId,
    issuedAt: caller.kind === "user" ? caller.issuedAt : undefined,
  };
}

/** What a caller may do in a room and how high they stand there. */
export interface RoomStanding {
  /** Effective permissions, expanded and sorted, live restrictions applied. */
  readonly permissions: Permission[];
  /** Rank for the hierarchy rule (see rankIn and Rank). */
  readonly rank: Rank;
}

/**
 * The caller's standing in `roomId`:
 * - the room must exist for the caller's tenant (not_found otherwise, also
 *   for another tenant's room), and be open to them (requireRoomAccess);
 * - a room member token gives its own permissions, but only in its room,
 *   and stands as a room moderator when it carries a moderation permission
 *   (the backend vouched for it); its user's roles may rank it higher;
 * - a user access token gives the union of the roles that open the room
 *   (see applicableRoles) — nothing when it is scoped to another room
 *   (access-link guests);
 * then live restrictions (mute, chat block) take away what they take.
 */
export async function roomStanding(
  caller: RoomCaller,
  roomId: string,
  deps: RoomPermissionDeps,
): Promise<RoomStanding> {
  checkRoomId(roomId);
  if (!(await deps.rooms.roomExists(caller.tenantId, roomId)))
    throw new RoomgateError("not_found", `room ${JSON.stringify(roomId)} not found`);
  requireRoomAccess(subjectOf(caller), roomId, deps);
  const roles = await deps.memberships.roomRolesOf(caller.tenantId, caller.userId, roomId);
  let granted: Permission[];
  let rank = rankIn(roles);
  if (caller.kind === "member") {
    // Tokens are expanded at issue; expanding again costs little and keeps
    // a token from an older catalog honest. Unknown numbers are dropped.
    granted = caller.roomId === roomId ? expandPermissions(caller.permissions.filter(isKnownPermission)) : [];
    if (granted.some(isModerationPermission)) rank = Math.max(rank, Rank.roomModerator) as Rank;
  } else if (caller.roomScope !== undefined && caller.roomScope !== roomId) {
    granted = [];
  } else {
    granted = permissionsOfRoles(applicableRoles(roles));
  }
  // Not expanded again: a restriction that removes members of a range must
  // also drop its group, and re-expanding would put them back.
  const permissions = [...deps.restrictions.apply(granted, caller.tenantId, roomId, caller.userId, deps.clock())];
  return { permissions, rank };
}

/** The caller's effective permissions in `roomId`, expanded and sorted (see {@link roomStanding}). */
export async function effectiveRoomPermissions(
  caller: RoomCaller,
  roomId: string,
  deps: RoomPermissionDeps,
): Promise<Permission[]> {
  return (await roomStanding(caller, roomId, deps)).permissions;
}

/** Seed 000's moderation actions (a token carrying one acts as a room moderator). */
const MODERATION_PERMISSIONS: ReadonlySet<Permission> = new Set([
  Permission.PermissionChatBlock,
  Permission.PermissionChatUnblock,
  Permission.PermissionChatMute,
  Permission.PermissionChatUnmute,
  Permission.PermissionChatMessageDelete,
  Permission.PermissionChatKick,
  Permission.PermissionRoomBlock,
  Permission.PermissionRoomUnblock,
  Permission.PermissionRoomKick,
]);

function isModerationPermission(p: Permission): boolean {
  return MODERATION_PERMISSIONS.has(p);
}
