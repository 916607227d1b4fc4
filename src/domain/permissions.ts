import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";

/** Width of one permission range; a range's first value is its group. */
const RANGE = 100;

/** Every real permission value (the unspecified zero excluded), ascending. */
export const ALL_PERMISSIONS: readonly Permission[] = Object.values(Permission)
  .filter((v): v is Permission => typeof v === "number" && v !== Permission.PermissionUnspecified)
  .sort((a, b) => a - b);

const known = new Set<number>(ALL_PERMISSIONS);

/** Group permission → the members it implies (excluding itself). */
const members = new Map<Permission, readonly Permission[]>();
for (const p of ALL_PERMISSIONS) {
  if (p % RANGE === 0) {
    members.set(
      p,
      ALL_PERMISSIONS.filter((m) => m > p && m < p + RANGE),
    );
  }
}

/** The group permissions (one per range), ascending. */
export const GROUP_PERMISSIONS: readonly Permission[] = [...members.keys()];

/** True when `value` names a real permission of the catalog. */
export function isKnownPermission(value: number): value is Permission {
  return known.has(value);
}

/** True when `p` is a group permission that implies a whole range. */
export function isGroupPermission(p: Permission): boolean {
  return members.has(p);
}

/** The members a group implies; empty for a non-group permission. */
export function impliedBy(p: Permission): readonly Permission[] {
  return members.get(p) ?? [];
}

/**
 * Expands group permissions into their members and returns the sorted,
 * de-duplicated set. A group is kept alongside its members so that a check
 * for the group itself still succeeds. Unknown values must be refused before
 * calling this (see {@link isKnownPermission}).
 */
export function expandPermissions(perms: Iterable<Permission>): Permission[] {
  const out = new Set<Permission>();
  for (const p of perms) {
    out.add(p);
    for (const m of impliedBy(p)) out.add(m);
  }
  return [...out].sort((a, b) => a - b);
}

/** The wire name of a permission, e.g. "PermissionRoomKick". */
export function permissionName(p: Permission): string {
  return Permission[p] ?? String(p);
}
