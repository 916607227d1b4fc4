/** One revocation as stored: a token, a user's tokens (in a room), or a room's. */
export type Revocation =
  | { readonly kind: "token"; readonly tenantId: string; readonly tokenId: string; readonly at: number }
  | { readonly kind: "user"; readonly tenantId: string; readonly userId: string; readonly at: number }
  | {
      readonly kind: "user_room";
      readonly tenantId: string;
      readonly userId: string;
      readonly roomId: string;
      readonly at: number;
    }
  | { readonly kind: "room"; readonly tenantId: string; readonly roomId: string; readonly at: number };

/** What a revocation check needs to know about a token. */
export interface TokenFacts {
  readonly tenantId: string;
  readonly tokenId: string;
  readonly userId: string;
  readonly roomId: string;
  readonly issuedAt: number;
}

/** Watermarks by tenant, then by one more id (user or room): nested maps, no composite keys. */
type Marks = Map<string, Map<string, number>>;

/**
 * Every revocation in force, in memory, so Verify never reads the database.
 * One token: a hash set of ids. A user's or a room's tokens: a watermark —
 * tokens issued at or before it are revoked, later ones are not (a kicked
 * member may come back with a new token). Each check is a constant number of
 * hash lookups, whatever the number of revocations.
 *
 * Watermarks are nested maps keyed by the token's own strings rather than
 * one map keyed by a concatenation: a concatenated key is a new string on
 * every Verify, which V8 must flatten and hash (~300 ns each, 40x the cost
 * of a warm Verify without revocations); the token's strings keep their
 * hash once computed (see bench/revocations.ts).
 */
export class RevocationIndex {
  private readonly tokens = new Set<string>();
  /** tenant → user → at. */
  private readonly users: Marks = new Map();
  /** tenant → room → at. */
  private readonly rooms: Marks = new Map();
  /** tenant → room → user → at. */
  private readonly userRooms = new Map<string, Marks>();
  private changes = 0;

  /**
   * Moves on every {@link add}. Revocations only accumulate, so a token
   * found not revoked at one generation is still not revoked at the same
   * generation: callers may remember that and skip the lookups.
   */
  get generation(): number {
    return this.changes;
  }

  /** Adds a revocation (at start-up from the store, then on every write). */
  add(r: Revocation): void {
    this.changes++;
    switch (r.kind) {
      case "token":
        this.tokens.add(r.tokenId);
        return;
      case "user":
        raise(inner(this.users, r.tenantId), r.userId, r.at);
        return;
      case "user_room":
        raise(inner(inner(this.userRooms, r.tenantId), r.roomId), r.userId, r.at);
        return;
      case "room":
        raise(inner(this.rooms, r.tenantId), r.roomId, r.at);
    }
  }

  /** True when the token has been revoked by id or by a watermark. */
  isRevoked(t: TokenFacts): boolean {
    if (this.tokens.size > 0 && this.tokens.has(t.tokenId)) return true;
    if (this.users.size > 0 && t.issuedAt <= (this.users.get(t.tenantId)?.get(t.userId) ?? -1)) return true;
    if (this.rooms.size > 0 && t.issuedAt <= (this.rooms.get(t.tenantId)?.get(t.roomId) ?? -1)) return true;
    if (this.userRooms.size > 0 && t.issuedAt <= (this.userRooms.get(t.tenantId)?.get(t.roomId)?.get(t.userId) ?? -1)) {
      return true;
    }
    return false;
  }

  /**
   * True when a credential of the user issued at `issuedAt` has lost the
   * room: a kick or RevokeUser in that room, or RevokeRoom, at or after it.
   * This is how a user access token or session cookie, which names no room,
   * loses one room and keeps the others (kick is a one-time removal).
   */
  removedFromRoom(tenantId: string, userId: string, roomId: string, issuedAt: number): boolean {
    if (this.rooms.size > 0 && issuedAt <= (this.rooms.get(tenantId)?.get(roomId) ?? -1)) return true;
    if (this.userRooms.size > 0 && issuedAt <= (this.userRooms.get(tenantId)?.get(roomId)?.get(userId) ?? -1))
      return true;
    return false;
  }

  /** Number of revoked token ids held (for metrics and benchmarks). */
  get revokedTokenCount(): number {
    return this.tokens.size;
  }
}

/** The map under `key`, created when missing. */
function inner<V>(outer: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let m = outer.get(key);
  if (m === undefined) {
    m = new Map();
    outer.set(key, m);
  }
  return m;
}

function raise(map: Map<string, number>, key: string, at: number): void {
  const prev = map.get(key);
  if (prev === undefined || at > prev) map.set(key, at);
}
