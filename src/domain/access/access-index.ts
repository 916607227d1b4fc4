import type { AccessEffects, RoleFact, RoleGone, RoomFact, RoomSeen, TokensIssued } from "./facts.js";

/** A role held in a room, a space or the tenant. */
export interface Held {
  readonly role: string;
  /** null: lasts until taken away. */
  readonly expiresAt: number | null;
}

/** A room as Check needs it. */
export interface RoomInfo {
  /** null: a room without a space (space roles never reach it). */
  readonly spaceId: string | null;
  readonly isPublic: boolean;
}

/** A room member token that has not expired (it may be revoked: the revocation index says). */
export interface LiveToken {
  readonly tenantId: string;
  readonly tokenId: string;
  readonly userId: string;
  readonly roomId: string;
  /** Expanded at issue. */
  readonly permissions: readonly number[];
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** Where a replica's AccessIndex is loaded from at start (src/store/access-facts-store.ts). */
export interface AccessFactSource {
  rooms(): Promise<{ created: RoomFact[]; seen: RoomSeen[] }>;
  /** Roles that still count at `now`. */
  roles(now: number): Promise<RoleFact[]>;
  /** Tokens that have not expired at `now`. */
  tokens(now: number): Promise<LiveToken[]>;
}

/** Two-way map: a → b → value and b → a → value, kept together. */
class Pairs<V> {
  readonly byFirst = new Map<string, Map<string, V>>();
  readonly bySecond = new Map<string, Map<string, V>>();

  set(a: string, b: string, v: V): void {
    inner(this.byFirst, a).set(b, v);
    inner(this.bySecond, b).set(a, v);
  }

  get(a: string, b: string): V | undefined {
    return this.byFirst.get(a)?.get(b);
  }

  delete(a: string, b: string): void {
    dropInner(this.byFirst, a, b);
    dropInner(this.bySecond, b, a);
  }

  /** Removes every pair whose second key is `b`. */
  deleteSecond(b: string): void {
    for (const a of this.bySecond.get(b)?.keys() ?? []) dropInner(this.byFirst, a, b);
    this.bySecond.delete(b);
  }
}

function inner<V>(m: Map<string, Map<string, V>>, k: string): Map<string, V> {
  let v = m.get(k);
  if (v === undefined) {
    v = new Map();
    m.set(k, v);
  }
  return v;
}

function dropInner<V>(m: Map<string, Map<string, V>>, a: string, b: string): void {
  const i = m.get(a);
  if (i === undefined) return;
  i.delete(b);
  if (i.size === 0) m.delete(a);
}

/**
 * One tenant's ways in, by room and by user. The version counters let the
 * lookups keep a sorted candidate list until something it was built from
 * changes (see lookup.ts).
 */
export class TenantAccess {
  constructor(readonly tenantId: string) {}

  readonly rooms = new Map<string, RoomInfo>();
  /** Public rooms by space: the rooms a space role reaches. */
  readonly publicRooms = new Map<string, Set<string>>();
  /** room → user → role. */
  readonly roomRoles = new Pairs<Held>();
  /** space → user → role. */
  readonly spaceRoles = new Pairs<Held>();
  /** user → expiry of their tenant-wide moderation. */
  readonly moderators = new Map<string, number | null>();
  /** room → user → tokens. */
  readonly tokens = new Pairs<LiveToken[]>();
  /** Bumped when a room's own ways in change (room roles, tokens). */
  readonly roomVersion = new Map<string, number>();
  /** Bumped when a space's roles change. */
  readonly spaceVersion = new Map<string, number>();
  /** Bumped when a user's ways in change (any scope). */
  readonly userVersion = new Map<string, number>();
  /** Bumped when a room is added or the tenant moderators change. */
  tenantVersion = 0;

  bump(m: Map<string, number>, k: string): void {
    m.set(k, (m.get(k) ?? 0) + 1);
  }
}

/**
 * Every replica's memory of the ways into rooms: rooms, room and space
 * roles, tenant-wide moderators and live room member tokens, per tenant.
 * Loaded once at start, then kept current by the access facts each stored
 * event carries (facts.ts), applied in event order by the change feed;
 * every step is idempotent (a set replaces, a removal of nothing is
 * nothing, a token added twice is kept once).
 */
export class AccessIndex {
  private readonly tenants = new Map<string, TenantAccess>();

  /** The tenant's ways in, or undefined when it has none at all. */
  tenant(tenantId: string): TenantAccess | undefined {
    return this.tenants.get(tenantId);
  }

  private of(tenantId: string): TenantAccess {
    let t = this.tenants.get(tenantId);
    if (t === undefined) {
      t = new TenantAccess(tenantId);
      this.tenants.set(tenantId, t);
    }
    return t;
  }

  /** Loads the stored state (before the feed starts; see startLiveState). */
  async load(source: AccessFactSource, now: number): Promise<void> {
    const rooms = await source.rooms();
    for (const r of rooms.seen) this.seeRoom(r);
    for (const r of rooms.created) this.createRoom(r);
    for (const r of await source.roles(now)) this.setRole(r);
    for (const t of await source.tokens(now)) this.addToken(t);
  }

  /** Applies one event's access facts. */
  apply(e: AccessEffects): void {
    for (const r of e.roomsSeen ?? []) this.seeRoom(r);
    for (const r of e.roomsCreated ?? []) this.createRoom(r);
    for (const r of e.rolesSet ?? []) this.setRole(r);
    for (const r of e.rolesRemoved ?? []) this.removeRole(r);
    for (const u of e.usersRemoved ?? []) this.removeUser(u.tenantId, u.userId);
    for (const batch of e.tokensIssued ?? []) this.addBatch(batch);
  }

  private seeRoom(r: RoomSeen): void {
    const t = this.of(r.tenantId);
    if (t.rooms.has(r.roomId)) return;
    t.rooms.set(r.roomId, { spaceId: null, isPublic: false });
    t.tenantVersion++;
  }

  private createRoom(r: RoomFact): void {
    const t = this.of(r.tenantId);
    t.rooms.set(r.roomId, { spaceId: r.spaceId, isPublic: r.isPublic });
    if (r.spaceId !== null && r.isPublic) {
      let s = t.publicRooms.get(r.spaceId);
      if (s === undefined) {
        s = new Set();
        t.publicRooms.set(r.spaceId, s);
      }
      s.add(r.roomId);
    }
    t.tenantVersion++;
  }

  private setRole(r: RoleFact): void {
    const t = this.of(r.tenantId);
    const held: Held = { role: r.role, expiresAt: r.expiresAt };
    if (r.scope === "room") {
      t.roomRoles.set(r.scopeId, r.userId, held);
      t.bump(t.roomVersion, r.scopeId);
    } else if (r.scope === "space") {
      t.spaceRoles.set(r.scopeId, r.userId, held);
      t.bump(t.spaceVersion, r.scopeId);
    } else {
      t.moderators.set(r.userId, r.expiresAt);
      t.tenantVersion++;
    }
    t.bump(t.userVersion, r.userId);
  }

  private removeRole(r: RoleGone): void {
    const t = this.tenants.get(r.tenantId);
    if (t === undefined) return;
    if (r.scope === "room") {
      t.roomRoles.delete(r.scopeId, r.userId);
      t.bump(t.roomVersion, r.scopeId);
    } else if (r.scope === "space") {
      t.spaceRoles.delete(r.scopeId, r.userId);
      t.bump(t.spaceVersion, r.scopeId);
    } else {
      t.moderators.delete(r.userId);
      t.tenantVersion++;
    }
    t.bump(t.userVersion, r.userId);
  }

  private removeUser(tenantId: string, userId: string): void {
    const t = this.tenants.get(tenantId);
    if (t === undefined) return;
    for (const room of t.roomRoles.bySecond.get(userId)?.keys() ?? []) t.bump(t.roomVersion, room);
    for (const space of t.spaceRoles.bySecond.get(userId)?.keys() ?? []) t.bump(t.spaceVersion, space);
    t.roomRoles.deleteSecond(userId);
    t.spaceRoles.deleteSecond(userId);
    if (t.moderators.delete(userId)) t.tenantVersion++;
    t.bump(t.userVersion, userId);
  }

  private addBatch(b: TokensIssued): void {
    for (const [tokenId, userId, roomId, set, expiresAt] of b.tokens) {
      const permissions = b.permissionSets[set]!;
      this.addToken({ tenantId: b.tenantId, tokenId, userId, roomId, permissions, issuedAt: b.issuedAt, expiresAt });
    }
  }

  private addToken(k: LiveToken): void {
    const t = this.of(k.tenantId);
    if (!t.rooms.has(k.roomId)) {
      t.rooms.set(k.roomId, { spaceId: null, isPublic: false });
      t.tenantVersion++;
    }
    const list = t.tokens.get(k.roomId, k.userId);
    if (list === undefined) t.tokens.set(k.roomId, k.userId, [k]);
    else if (!list.some((x) => x.tokenId === k.tokenId)) list.push(k);
    else return;
    t.bump(t.roomVersion, k.roomId);
    t.bump(t.userVersion, k.userId);
  }

  /**
   * Forgets tokens that expired before `now` (they can never count again);
   * run now and then so memory follows the live tokens, not all ever issued.
   */
  pruneExpired(now: number): number {
    let pruned = 0;
    for (const t of this.tenants.values()) {
      for (const [roomId, users] of [...t.tokens.byFirst]) {
        for (const [userId, list] of [...users]) {
          const live = list.filter((k) => k.expiresAt > now);
          if (live.length === list.length) continue;
          pruned += list.length - live.length;
          if (live.length === 0) t.tokens.delete(roomId, userId);
          else t.tokens.set(roomId, userId, live);
          t.bump(t.roomVersion, roomId);
          t.bump(t.userVersion, userId);
        }
      }
    }
    return pruned;
  }
}
