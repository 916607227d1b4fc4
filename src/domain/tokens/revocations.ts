/** One revocation as stored: a token, a user's tokens (in a room), or a room's. */
export type Revocation =
  | { readonly kind: "token"; readonly tenantId: string; readonly tokenId: string; readonly at: number }
  | { readonly kind: "user"; readonly tenantId: string; readonly userId: string; readonly at: number }
  | { readonly kind: "user_room"; readonly tenantId: string; readonly userId: string; readonly roomId: string; readonly at: number }
  | { readonly kind: "room"; readonly tenantId: string; readonly roomId: string; readonly at: number };

/** What a revocation check needs to know about a token. */
export interface TokenFacts {
  readonly tenantId: string;
  readonly tokenId: string;
  readonly userId: string;
  readonly roomId: string;
  readonly issuedAt: number;
}

const SEP = "\u0000";

/**
 * Every revocation in force, in memory, so Verify never reads the database.
 * One token: a hash set of ids. A user's or a room's tokens: a watermark —
 * tokens issued at or before it are revoked, later ones are not (a kicked
 * member may come back with a new token). Each check is a constant number of
 * hash lookups, whatever the number of revocations.
 */
export class RevocationIndex {
  private readonly tokens = new Set<string>();
  private readonly users = new Map<string, number>();
  private readonly userRooms = new Map<string, number>();
  private readonly rooms = new Map<string, number>();

  /** Adds a revocation (at start-up from the store, then on every write). */
  add(r: Revocation): void {
    switch (r.kind) {
      case "token":
        this.tokens.add(r.tokenId);
        return;
      case "user":
        raise(this.users, r.tenantId + SEP + r.userId, r.at);
        return;
      case "user_room":
        raise(this.userRooms, r.tenantId + SEP + r.userId + SEP + r.roomId, r.at);
        return;
      case "room":
        raise(this.rooms, r.tenantId + SEP + r.roomId, r.at);
    }
  }

  /** True when the token has been revoked by id or by a watermark. */
  isRevoked(t: TokenFacts): boolean {
    if (this.tokens.size > 0 && this.tokens.has(t.tokenId)) return true;
    if (this.users.size > 0 && t.issuedAt <= (this.users.get(t.tenantId + SEP + t.userId) ?? -1)) return true;
    if (this.rooms.size > 0 && t.issuedAt <= (this.rooms.get(t.tenantId + SEP + t.roomId) ?? -1)) return true;
    if (this.userRooms.size > 0 && t.issuedAt <= (this.userRooms.get(t.tenantId + SEP + t.userId + SEP + t.roomId) ?? -1)) {
      return true;
    }
    return false;
  }

  /** Number of revoked token ids held (for metrics and benchmarks). */
  get revokedTokenCount(): number {
    return this.tokens.size;
  }
}

function raise(map: Map<string, number>, key: string, at: number): void {
  const prev = map.get(key);
  if (prev === undefined || at > prev) map.set(key, at);
}
