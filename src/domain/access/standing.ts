import type { Permission } from "../../../gen/room/permissions/v1/permission_pb.js";
import { type ActiveRestriction, type RestrictionIndex, withoutRestricted } from "../moderation/restrictions.js";
import { expandPermissions, isKnownPermission } from "../permissions.js";
import { ACCESS_LINK_ROLES, isRoleName, permissionsOfRoles, type RoleName } from "../roles.js";
import type { RevocationIndex } from "../tokens/revocations.js";
import type { Held, LiveToken, TenantAccess } from "./access-index.js";

/** How a user gets into a room. */
export type WayKind = "room_role" | "space_role" | "tenant_moderator" | "access_link" | "token";

/** One way in and what it grants (expanded, before restrictions). */
export interface Way {
  readonly kind: WayKind;
  /** The role; "" for a token. */
  readonly role: string;
  /** The space, for a space role; "". */
  readonly spaceId: string;
  /** The token id, for a token; "". */
  readonly tokenId: string;
  /** null: lasts until taken away. */
  readonly expiresAt: number | null;
  readonly permissions: ReadonlySet<Permission>;
}

/** Why a permission is not allowed. */
export type DeniedReason = "no_way_in" | "removed" | "room_blocked" | "chat_block" | "mute" | "room_not_found";

/** A user's standing in one room now: the same facts Verify and GetRoomPermissions judge by. */
export interface Standing {
  readonly ways: readonly Way[];
  /** Permissions that only revoked tokens (kick, revocation) granted. */
  readonly removed: ReadonlySet<Permission>;
  readonly restrictions: readonly ActiveRestriction[];
  /** Effective permissions, expanded and sorted, restrictions applied. */
  readonly permissions: readonly Permission[];
  readonly effective: ReadonlySet<Permission>;
}

/** One permission's answer. */
export interface Answer {
  readonly permission: Permission;
  readonly allowed: boolean;
  readonly grantedBy: readonly Way[];
  /** "" when allowed. */
  readonly deniedReason: DeniedReason | "";
  /** When the restriction behind deniedReason lifts; null otherwise or when indefinite. */
  readonly deniedUntil: number | null;
}

/** What a standing is judged with. */
export interface StandingDeps {
  readonly revocations: RevocationIndex;
  readonly restrictions: RestrictionIndex;
}

const rolePermissions = new Map<string, ReadonlySet<Permission>>();

function permissionsOfRole(role: string): ReadonlySet<Permission> {
  let p = rolePermissions.get(role);
  if (p === undefined) {
    p = new Set(isRoleName(role) ? permissionsOfRoles([role as RoleName]) : []);
    rolePermissions.set(role, p);
  }
  return p;
}

const live = (h: Held | undefined, now: number): h is Held =>
  h !== undefined && (h.expiresAt === null || h.expiresAt > now);

function roleWay(kind: WayKind, h: Held, spaceId = ""): Way {
  return { kind, role: h.role, spaceId, tokenId: "", expiresAt: h.expiresAt, permissions: permissionsOfRole(h.role) };
}

/** The role-given ways in: as GetRoomPermissions counts them for a fresh user access token (applicableRoles). */
function roleWays(t: TenantAccess, userId: string, roomId: string, now: number): Way[] {
  const ways: Way[] = [];
  const roomRole = t.roomRoles.get(roomId, userId);
  if (live(roomRole, now)) {
    ways.push(roleWay(ACCESS_LINK_ROLES.includes(roomRole.role as RoleName) ? "access_link" : "room_role", roomRole));
  }
  const room = t.rooms.get(roomId);
  if (room?.spaceId != null && room.isPublic) {
    const spaceRole = t.spaceRoles.get(room.spaceId, userId);
    if (live(spaceRole, now)) ways.push(roleWay("space_role", spaceRole, room.spaceId));
  }
  if (t.moderators.has(userId)) {
    const held = { role: "consumer_tenant_moderator", expiresAt: t.moderators.get(userId) ?? null };
    if (live(held, now)) ways.push(roleWay("tenant_moderator", held));
  }
  return ways;
}

const tokenPermissions = new WeakMap<LiveToken, ReadonlySet<Permission>>();

/** A token's permissions as Verify gives them: expanded again, unknown numbers dropped. */
function permissionsOfToken(k: LiveToken): ReadonlySet<Permission> {
  let p = tokenPermissions.get(k);
  if (p === undefined) {
    p = new Set(expandPermissions((k.permissions as Permission[]).filter(isKnownPermission)));
    tokenPermissions.set(k, p);
  }
  return p;
}

/**
 * The user's standing in the room: every way in (roles as for a fresh
 * login, and each live token not revoked), minus live restrictions. A room
 * block leaves nothing; a revoked token's permissions are reported as
 * removed when nothing else grants them.
 */
export function standingOf(t: TenantAccess, userId: string, roomId: string, now: number, deps: StandingDeps): Standing {
  const ways = roleWays(t, userId, roomId, now);
  const removed = new Set<Permission>();
  for (const k of t.tokens.get(roomId, userId) ?? []) {
    if (k.expiresAt <= now) continue;
    const perms = permissionsOfToken(k);
    if (deps.revocations.isRevoked(k)) {
      for (const p of perms) removed.add(p);
      continue;
    }
    ways.push({ kind: "token", role: "", spaceId: "", tokenId: k.tokenId, expiresAt: k.expiresAt, permissions: perms });
  }
  const granted = new Set<Permission>();
  for (const w of ways) for (const p of w.permissions) granted.add(p);
  for (const p of granted) removed.delete(p);
  const restrictions = deps.restrictions.active(t.tenantId, roomId, userId, now);
  const sorted = [...granted].sort((a, b) => a - b);
  const permissions = [...withoutRestricted(sorted, restrictions)];
  return { ways, removed, restrictions, permissions, effective: new Set(permissions) };
}

/** The answer for one permission, from a standing. */
export function answerOf(s: Standing, permission: Permission): Answer {
  const grantedBy = s.ways.filter((w) => w.permissions.has(permission));
  if (s.effective.has(permission)) {
    return { permission, allowed: true, grantedBy, deniedReason: "", deniedUntil: null };
  }
  const deny = (deniedReason: DeniedReason, deniedUntil: number | null = null): Answer => ({
    permission,
    allowed: false,
    grantedBy,
    deniedReason,
    deniedUntil,
  });
  const block = s.restrictions.find((r) => r.kind === "room_block");
  if (block) return deny("room_blocked", block.until);
  if (grantedBy.length > 0) {
    const r = s.restrictions.find((x) => x.kind === "chat_block") ?? s.restrictions.find((x) => x.kind === "mute");
    return r ? deny(r.kind as DeniedReason, r.until) : deny("no_way_in");
  }
  return deny(s.removed.has(permission) ? "removed" : "no_way_in");
}
