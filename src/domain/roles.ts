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
  role_space_owner: role("role_space_owner", "space", "creator of a space: everything in all its rooms", ALL_PERMISSIONS),
  role_space_moderator: role("role_space_moderator", "space", "invited moderator: moderates all rooms of the space", MODERATOR),
  role_space_user: role("role_space_user", "space", "invited or joined member: takes part in all rooms of the space", MEMBER),
  role_room_user: role("role_room_user", "room", "granted member of one room", MEMBER),
  role_room_moderator: role("role_room_moderator", "room", "granted moderator of one room", MODERATOR),
  user: role("user", "room", "access-link participant (unregistered)", MEMBER),
  moderator: role("moderator", "room", "access-link moderator (unregistered)", MODERATOR),
  consumer_room_moderator: role("consumer_room_moderator", "room", "seed 003 moderator with chatRoom", MODERATOR),
  consumer_tenant_moderator: role("consumer_tenant_moderator", "tenant", "seed 003 moderator without chatRoom: every room", MODERATOR),
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
/** Room roles that moderate (may grant roles and create access links). */
export const MODERATING_ROOM_ROLES: readonly RoleName[] = ["role_room_moderator", "moderator", "consumer_room_moderator"];

/** Union of the roles' permissions, expanded and sorted. */
export function permissionsOfRoles(names: Iterable<RoleName>): P[] {
  const out: P[] = [];
  for (const n of names) out.push(...ROLES[n].permissions);
  return expandPermissions(out);
}
