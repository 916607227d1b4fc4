import type { TenantAccess } from "./access-index.js";

// Sorted candidate lists for the lookups: a page is a binary search and a
// walk of the candidates after the cursor, each judged (standing.ts). A list
// may hold ids that are no longer candidates — they are judged "no way in"
// and skipped like any other — but never lacks one that is.
//
// A room's member list (room roles, token holders, roles of its space when
// public) is kept up to date rather than rebuilt: sorting 100,000 ids took
// 50 to 120 ms on the benchmark machine (bench/access.ts), which a room whose
// membership changes between pages paid on every page. The index's maps keep
// keys in insertion order, so the ids added since the list was last read are
// the keys after the last one it saw (about 3 ms to walk 100,000); they are
// merged in. This relies on the index setting a fresh value object whenever
// it sets a key (see catchUp). Removed ids stay until the removals since the
// last full build (bounded by the room's and space's version bumps) reach
// an eighth of the list, then it is built again. The tenant's moderators
// are a list of their own, merged in at read time, so a room created
// elsewhere in the tenant leaves the room's list alone.

/** One source map of a member list as last read: the map, its last key, and that key's value then. */
interface Mark {
  readonly map: ReadonlyMap<string, unknown> | undefined;
  readonly last: string | undefined;
  readonly value: unknown;
}

interface MemberList {
  /** The space whose roles it holds (null: none): when that changes it is built again. */
  readonly space: string | null;
  /** The room's and the space's versions when it was last brought up to date. */
  key: string;
  /** Version bumps when it was last built in full. */
  readonly builtAt: number;
  ids: string[];
  marks: Mark[];
}

interface RoomList {
  readonly key: string;
  readonly ids: readonly string[];
}

interface ModeratorList {
  readonly version: number;
  readonly ids: readonly string[];
}

const byRoom = new WeakMap<TenantAccess, Map<string, MemberList>>();
const byUser = new WeakMap<TenantAccess, Map<string, RoomList>>();
const moderatorLists = new WeakMap<TenantAccess, ModeratorList>();

function cacheOf<V>(all: WeakMap<TenantAccess, Map<string, V>>, t: TenantAccess): Map<string, V> {
  let m = all.get(t);
  if (m === undefined) {
    m = new Map();
    all.set(t, m);
  }
  return m;
}

/** Entries kept per tenant and kind; the least recently built go first. */
const MAX_CACHED = 10_000;
/** Ids added at once above which they are merged in one pass rather than inserted one by one. */
const MERGE_ABOVE = 16;

function remember<V>(m: Map<string, V>, id: string, c: V): void {
  m.delete(id);
  if (m.size >= MAX_CACHED) m.delete(m.keys().next().value!);
  m.set(id, c);
}

type Source = ReadonlyMap<string, unknown> | undefined;

function memberSources(t: TenantAccess, roomId: string, space: string | null): Source[] {
  return [
    t.roomRoles.byFirst.get(roomId),
    t.tokens.byFirst.get(roomId),
    space === null ? undefined : t.spaceRoles.byFirst.get(space),
  ];
}

/** Every version bump of the room and its space so far: each removal of a way in is one. */
function bumps(t: TenantAccess, roomId: string, space: string | null): number {
  return (t.roomVersion.get(roomId) ?? 0) + (space === null ? 0 : (t.spaceVersion.get(space) ?? 0));
}

function markOf(map: Source, last: string | undefined): Mark {
  return { map, last, value: last === undefined ? undefined : map!.get(last) };
}

/**
 * Every user who may have a way into the room, as sorted lists to merge
 * (see {@link idsAfter}): its room roles, token holders and the roles of
 * its space when it is public; and the tenant-wide moderators. Each must
 * still be judged (expiry, revocation, restrictions).
 */
export function memberCandidates(t: TenantAccess, roomId: string): readonly (readonly string[])[] {
  const room = t.rooms.get(roomId);
  const space = room?.spaceId != null && room.isPublic ? room.spaceId : null;
  const key = `${t.roomVersion.get(roomId) ?? 0}:${space === null ? "" : (t.spaceVersion.get(space) ?? 0)}`;
  const cache = cacheOf(byRoom, t);
  const hit = cache.get(roomId);
  if (hit?.space !== space || (hit.key !== key && !catchUp(t, roomId, hit, key))) {
    remember(cache, roomId, buildMembers(t, roomId, space, key));
  }
  const ids = cache.get(roomId)!.ids;
  const moderators = moderatorIds(t);
  return moderators.length === 0 ? [ids] : [ids, moderators];
}

function buildMembers(t: TenantAccess, roomId: string, space: string | null, key: string): MemberList {
  const all: string[] = [];
  const marks = memberSources(t, roomId, space).map((m) => {
    let last: string | undefined;
    for (const k of m?.keys() ?? []) {
      all.push(k);
      last = k;
    }
    return markOf(m, last);
  });
  return { space, key, builtAt: bumps(t, roomId, space), ids: sortedUnique(all), marks };
}

/**
 * Brings the list up to date with the keys added to its sources since it
 * was last read; false when it cannot tell which those are, or when it may
 * hold too many removed ids (it is then built again). The keys added to a
 * map since are the keys after the last one seen — unless that one was
 * removed or set again since (the index sets a fresh value every time), so
 * its value is checked first.
 */
function catchUp(t: TenantAccess, roomId: string, list: MemberList, key: string): boolean {
  if (bumps(t, roomId, list.space) - list.builtAt > Math.max(64, list.ids.length / 8)) return false;
  const sources = memberSources(t, roomId, list.space);
  const added: string[] = [];
  const marks: Mark[] = [];
  for (let i = 0; i < sources.length; i++) {
    const m = sources[i];
    const mark = list.marks[i]!;
    // A map new since the last read (none then, or the old one emptied and dropped): all its keys are new.
    const fresh = m !== mark.map || mark.last === undefined;
    if (m !== undefined && !fresh && m.get(mark.last!) !== mark.value) return false;
    let after = fresh;
    let last = fresh ? undefined : mark.last;
    for (const k of m?.keys() ?? []) {
      if (after) {
        added.push(k);
        last = k;
      } else if (k === mark.last) after = true;
    }
    marks.push(markOf(m, last));
  }
  list.ids = added.length > MERGE_ABOVE ? mergeSorted(list.ids, sortedUnique(added)) : insertEach(list.ids, added);
  list.marks = marks;
  list.key = key;
  return true;
}

/** The tenant's moderators, sorted (few: rebuilt when they change). */
function moderatorIds(t: TenantAccess): readonly string[] {
  if (t.moderators.size === 0) return [];
  const hit = moderatorLists.get(t);
  if (hit?.version === t.tenantVersion) return hit.ids;
  const ids = [...t.moderators.keys()].sort();
  moderatorLists.set(t, { version: t.tenantVersion, ids });
  return ids;
}

/**
 * Every room the user may have a way into, as sorted lists to merge: rooms
 * of their room roles and tokens, the public rooms of their spaces, and
 * every room of the tenant when they moderate it all.
 */
export function roomCandidates(t: TenantAccess, userId: string): readonly (readonly string[])[] {
  // Rooms created elsewhere in the tenant reach only a moderator's list and,
  // as public rooms of a space, the lists of the space's members; every
  // other change of the list bumps the user's version.
  const tenantWide = t.moderators.has(userId) || t.spaceRoles.bySecond.has(userId);
  const key = `${t.userVersion.get(userId) ?? 0}:${tenantWide ? t.tenantVersion : ""}`;
  const cache = cacheOf(byUser, t);
  const hit = cache.get(userId);
  if (hit?.key === key) return [hit.ids];
  const all: string[] = [];
  if (t.moderators.has(userId)) {
    for (const r of t.rooms.keys()) all.push(r);
  } else {
    for (const r of t.roomRoles.bySecond.get(userId)?.keys() ?? []) all.push(r);
    for (const r of t.tokens.bySecond.get(userId)?.keys() ?? []) all.push(r);
    for (const s of t.spaceRoles.bySecond.get(userId)?.keys() ?? []) {
      for (const r of t.publicRooms.get(s) ?? []) all.push(r);
    }
  }
  const ids = sortedUnique(all);
  remember(cache, userId, { key, ids });
  return [ids];
}

/**
 * `ids` sorted in code-unit order (the order pages are in, and page tokens
 * compare by: the default sort's, which needs no comparator call per
 * comparison), repeats dropped; sorts in place.
 */
function sortedUnique(ids: string[]): string[] {
  ids.sort();
  let w = 0;
  for (let i = 0; i < ids.length; i++) if (w === 0 || ids[i] !== ids[w - 1]) ids[w++] = ids[i]!;
  ids.length = w;
  return ids;
}

/** Inserts each id where it sorts, unless present. */
function insertEach(ids: string[], added: readonly string[]): string[] {
  for (const id of added) {
    const at = firstAfter(ids, id);
    if (at === 0 || ids[at - 1] !== id) ids.splice(at, 0, id);
  }
  return ids;
}

/** Two sorted lists as one, repeats dropped. */
function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x < y)) out.push(a[i++]!);
    else {
      if (x === y) i++;
      out.push(b[j++]!);
    }
  }
  return out;
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

/** The ids of sorted lists strictly after `after`, merged in order, each once. */
export function* idsAfter(lists: readonly (readonly string[])[], after: string): Generator<string, void, undefined> {
  const at = lists.map((ids) => firstAfter(ids, after));
  for (;;) {
    let next: string | undefined;
    for (let k = 0; k < lists.length; k++) {
      const id = lists[k]![at[k]!];
      if (id !== undefined && (next === undefined || id < next)) next = id;
    }
    if (next === undefined) return;
    for (let k = 0; k < lists.length; k++) if (lists[k]![at[k]!] === next) at[k] = at[k]! + 1;
    yield next;
  }
}
