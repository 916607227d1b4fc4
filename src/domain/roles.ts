import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { ALL_PERMISSIONS, expandPermissions } from "./permissions.js";

/** Where a role applies: one room, every room of a space, or every room of the tenant. */
export type RoleScope = "room" | "space" | "tenant";

/** A named preset over the permission catalog. */
export interface Role {
  readonly name: RoleName;
  readonly scope: RoleScope;
  /** What the role is for, as the README shows it. */
  readonly description: string;
  /** Expanded permissions the role grants in each room of its scope. */
  readonly permissions: readonly P[];
}

/** Every role name roomgate knows; seed names are kept verbatim. */
export type RoleName =
  | "role_space_owner"
  | "role_space_moderator"
  | "role_space_user"
  | "role_room_user"
  | "role_room_moderator"
  | "user"
  | "moderator"
  | "consumer_room_moderator"
  | "consumer_tenant_moderator";

/** What a participant needs to take part: talk, share, react, see. */
const MEMBER: readonly P[] = [
  P.PermissionMessaging,
  P.PermissionFiles,
  P.PermissionCanUseIntercom,
  P.PermissionCanIntercomListen,
  P.PermissionCanIntercomTalk,
  P.PermissionCanIntercomWatchVideo,
  P.PermissionCanIntercomStreamVideo,
  P.PermissionCanShareScreen,
  P.PermissionCanCreateIssues,
  P.PermissionCanCreateMeetings,
  P.PermissionUiCanSeeRoomSidebar,
  P.PermissionCanSendNudge,
];

/** Members plus moderation (seed 000's chat and room actions) and oversight. */
const MODERATOR: readonly P[] = [
  ...MEMBER,
  P.PermissionChat,
  P.PermissionRoom,
  P.PermissionIntercom,
  P.PermissionIssuesAndMeetings,
  P.PermissionUi,
  P.PermissionOther,
];

function role(name: RoleName, scope: RoleScope, description: string, perms: readonly P[]): Role {
  return { name, scope, description, permissions: expandPermissions(perms) };
}

/**
 * The one table of roles. Every grant, invite, access link and seed 003
 * user resolves to one of these; effective permissions are the union of the
 * caller's roles that apply to the room, minus live restrictions.
 */
export const ROLES: Readonly<Record<RoleName, Role>> = {
  role_space_owner: role(
    "role_space_owner",
    "space",
    "creator of a space: everything in its public rooms; outranks everyone in the space",
    ALL_PERMISSIONS,
  ),
  role_space_moderator: role(
    "role_space_moderator",
    "space",
    "invited moderator: moderates the public rooms of the space",
    MODERATOR,
  ),
  role_space_user: role(
    "role_space_user",
    "space",
    "invited or joined member: takes part in the public rooms of the space",
    MEMBER,
  ),
  role_room_user: role("role_room_user", "room", "granted member of one room", MEMBER),
  role_room_moderator: role("role_room_moderator", "room", "granted moderator of one room", MODERATOR),
  user: role("user", "room", "access-link participant (unregistered)", MEMBER),
  moderator: role("moderator", "room", "access-link moderator (unregistered)", MODERATOR),
  consumer_room_moderator: role("consumer_room_moderator", "room", "seed 003 moderator with chatRoom", MODERATOR),
  consumer_tenant_moderator: role(
    "consumer_tenant_moderator",
    "tenant",
    "seed 003 moderator without chatRoom: every room",
    MODERATOR,
  ),
};

/** True when `name` is a known role. */
export function isRoleName(name: string): name is RoleName {
  return Object.hasOwn(ROLES, name);
}

/** Roles that may be granted in a room (seed 001 grantRole). */
export const ROOM_GRANT_ROLES: readonly RoleName[] = ["role_room_user", "role_room_moderator"];
/** Roles an invite may carry (seed 001 createInvite). */
export const INVITE_ROLES: readonly RoleName[] = ["role_space_moderator", "role_space_user"];
/** Roles an access link may carry (seed 001 generateAccess). */
export const ACCESS_LINK_ROLES: readonly RoleName[] = ["user", "moderator"];
/** Room roles that moderate one room. */
export const MODERATING_ROOM_ROLES: readonly RoleName[] = [
  "role_room_moderator",
  "moderator",
  "consumer_room_moderator",
];

/**
 * Roles that make their holder a moderator of the rooms they reach: the
 * moderating room roles, a space moderator (in the rooms of the space that
 * the role reaches) and seed 003's tenant-wide moderator. The space owner is
 * not among them: seed 001 gives the owner powers of its own (rooms,
 * invites, role grants) but not "room moderator" as such.
 */
export const MODERATING_ROLES: readonly RoleName[] = [
  ...MODERATING_ROOM_ROLES,
  "role_space_moderator",
  "consumer_tenant_moderator",
];

/**
 * Standing in a room, for the hierarchy rule: nobody moderates or grants at
 * or above their own rank (the API key stands above all of them).
 */
export const Rank = {
  /** Any member, and anyone without a role. */
  member: 0,
  /** A moderating room role, or a room member token that carries a moderation permission. */
  roomModerator: 1,
  /** A space moderator, or seed 003's tenant-wide moderator. */
  spaceModerator: 2,
  /** The space owner. */
  owner: 3,
} as const;

/** One of the {@link Rank} values. */
export type Rank = (typeof Rank)[keyof typeof Rank];

const RANK_OF_ROLE: Readonly<Record<RoleName, Rank>> = {
  role_space_owner: Rank.owner,
  role_space_moderator: Rank.spaceModerator,
  consumer_tenant_moderator: Rank.spaceModerator,
  role_room_moderator: Rank.roomModerator,
  moderator: Rank.roomModerator,
  consumer_room_moderator: Rank.roomModerator,
  role_space_user: Rank.member,
  role_room_user: Rank.member,
  user: Rank.member,
};

/** The rank a role confers. */
export function rankOfRole(name: RoleName): Rank {
  return RANK_OF_ROLE[name];
}

/** Union of the roles' permissions, expanded and sorted. */
export function permissionsOfRoles(names: Iterable<RoleName>): P[] {
  const out: P[] = [];
  for (const n of names) out.push(...ROLES[n].permissions);
  return expandPermissions(out);
}
