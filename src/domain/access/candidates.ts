import type { TenantAccess } from "./access-index.js";

// Sorted candidate lists for the lookups, kept until something they were
// built from changes. A room of 100,000 members costs one sort when its
// membership changes, not one per page: a page is then a binary search and
// a walk of the candidates after the cursor.

interface Cached {
  readonly key: string;
  readonly ids: readonly string[];
}

const byRoom = new WeakMap<TenantAccess, Map<string, Cached>>();
const byUser = new WeakMap<TenantAccess, Map<string, Cached>>();

function cacheOf(all: WeakMap<TenantAccess, Map<string, Cached>>, t: TenantAccess): Map<string, Cached> {
  let m = all.get(t);
  if (m === undefined) {
    m = new Map();
    all.set(t, m);
  }
  return m;
}

/** Entries kept per tenant and kind; the least recently built go first. */
const MAX_CACHED = 10_000;

function remember(m: Map<string, Cached>, id: string, c: Cached): void {
  m.delete(id);
  if (m.size >= MAX_CACHED) m.delete(m.keys().next().value!);
  m.set(id, c);
}

/**
 * Every user who may have a way into the room, sorted: its room roles and
 * token holders, the roles of its space when it is public, the tenant-wide
 * moderators. Each must still be checked (expiry, revocation, restrictions).
 */
export function memberCandidates(t: TenantAccess, roomId: string): readonly string[] {
  const room = t.rooms.get(roomId);
  const space = room?.spaceId != null && room.isPublic ? room.spaceId : null;
  const key = `${t.roomVersion.get(roomId) ?? 0}:${space === null ? "" : (t.spaceVersion.get(space) ?? 0)}:${t.tenantVersion}`;
  const cache = cacheOf(byRoom, t);
  const hit = cache.get(roomId);
  if (hit?.key === key) return hit.ids;
  const ids = new Set<string>();
  for (const u of t.roomRoles.byFirst.get(roomId)?.keys() ?? []) ids.add(u);
  for (const u of t.tokens.byFirst.get(roomId)?.keys() ?? []) ids.add(u);
  if (space !== null) for (const u of t.spaceRoles.byFirst.get(space)?.keys() ?? []) ids.add(u);
  for (const u of t.moderators.keys()) ids.add(u);
  const sorted = [...ids].sort(compare);
  remember(cache, roomId, { key, ids: sorted });
  return sorted;
}

/**
 * Every room the user may have a way into, sorted: rooms of their room
 * roles and tokens, the public rooms of their spaces, and every room of
 * the tenant when they moderate it all.
 */
export function roomCandidates(t: TenantAccess, userId: string): readonly string[] {
  const key = `${t.userVersion.get(userId) ?? 0}:${t.tenantVersion}`;
  const cache = cacheOf(byUser, t);
  const hit = cache.get(userId);
  if (hit?.key === key) return hit.ids;
  const ids = new Set<string>();
  if (t.moderators.has(userId)) {
    for (const r of t.rooms.keys()) ids.add(r);
  } else {
    for (const r of t.roomRoles.bySecond.get(userId)?.keys() ?? []) ids.add(r);
    for (const r of t.tokens.bySecond.get(userId)?.keys() ?? []) ids.add(r);
    for (const s of t.spaceRoles.bySecond.get(userId)?.keys() ?? []) {
      for (const r of t.publicRooms.get(s) ?? []) ids.add(r);
    }
  }
  const sorted = [...ids].sort(compare);
  remember(cache, userId, { key, ids: sorted });
  return sorted;
}

/** Code-unit order, the order pages are in (and page tokens compare by). */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The index of the first id strictly after `after` ("" for the start). */
export function firstAfter(ids: readonly string[], after: string): number {
  if (after === "") return 0;
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
