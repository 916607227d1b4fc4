import { id, InvalidEffectsError, list, record, time } from "../feed/effect-checks.js";

// The facts about ways into rooms that every replica keeps in memory
// (AccessIndex) so Check and the lookups answer without a database read.
// They travel as live effects of stored events, like revocations do: the
// store notes each change it writes (noteEffects), the journal stores it
// with the transaction's events, every replica's feed applies it.

/** Where a role applies: one room, the public rooms of one space, every room of the tenant. */
export type FactScope = "room" | "space" | "tenant";

/** A role held, as stored now (set replaces: the effect is absolute, so applying it twice is harmless). */
export interface RoleFact {
  readonly tenantId: string;
  readonly scope: FactScope;
  /** The room or space id; "" for the tenant. */
  readonly scopeId: string;
  readonly userId: string;
  readonly role: string;
  /** When the role stops counting by itself; null while it lasts. */
  readonly expiresAt: number | null;
}

/** A role no longer held. */
export type RoleGone = Omit<RoleFact, "role" | "expiresAt">;

/** A room created in a space (its space and visibility never change). */
export interface RoomFact {
  readonly tenantId: string;
  readonly roomId: string;
  /** null: a room without a space. */
  readonly spaceId: string | null;
  readonly isPublic: boolean;
}

/** A room first named outside a space (token Create, seed 003's chatRoom): known, nothing more. */
export interface RoomSeen {
  readonly tenantId: string;
  readonly roomId: string;
}

/** A user deleted: every role they held is gone. */
export interface UserGone {
  readonly tenantId: string;
  readonly userId: string;
}

/** One issued token as a Create batch's effect carries it: [tokenId, userId, roomId, permission set index, expiresAt]. */
export type IssuedToken = readonly [string, string, string, number, number];

/** One Create batch's tokens, compactly: the distinct permission sets once, each token by index. */
export interface TokensIssued {
  readonly tenantId: string;
  readonly issuedAt: number;
  readonly permissionSets: readonly (readonly number[])[];
  readonly tokens: readonly IssuedToken[];
}

/** The access facts a stored event may carry (fields of LiveEffects). */
export interface AccessEffects {
  readonly rolesSet?: readonly RoleFact[];
  readonly rolesRemoved?: readonly RoleGone[];
  readonly roomsCreated?: readonly RoomFact[];
  readonly roomsSeen?: readonly RoomSeen[];
  readonly usersRemoved?: readonly UserGone[];
  readonly tokensIssued?: readonly TokensIssued[];
}

/** The LiveEffects field names of {@link AccessEffects}. */
export const ACCESS_EFFECT_FIELDS = [
  "rolesSet",
  "rolesRemoved",
  "roomsCreated",
  "roomsSeen",
  "usersRemoved",
  "tokensIssued",
] as const;

const SCOPES: ReadonlySet<string> = new Set<FactScope>(["room", "space", "tenant"]);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Validates the access fields of a raw effects object (see effects.ts's validate). */
export function validateAccessEffects(o: Record<string, unknown>): AccessEffects {
  const out: Mutable<AccessEffects> = {};
  const set = list(o.rolesSet, "rolesSet", roleFact);
  if (set.length > 0) out.rolesSet = set;
  const removed = list(o.rolesRemoved, "rolesRemoved", roleGone);
  if (removed.length > 0) out.rolesRemoved = removed;
  const created = list(o.roomsCreated, "roomsCreated", roomFact);
  if (created.length > 0) out.roomsCreated = created;
  const seen = list(o.roomsSeen, "roomsSeen", (v, p) => {
    const r = record(v, p, ["tenantId", "roomId"]);
    return { tenantId: id(r.tenantId, `${p}.tenantId`), roomId: id(r.roomId, `${p}.roomId`) };
  });
  if (seen.length > 0) out.roomsSeen = seen;
  const users = list(o.usersRemoved, "usersRemoved", (v, p) => {
    const r = record(v, p, ["tenantId", "userId"]);
    return { tenantId: id(r.tenantId, `${p}.tenantId`), userId: id(r.userId, `${p}.userId`) };
  });
  if (users.length > 0) out.usersRemoved = users;
  const tokens = list(o.tokensIssued, "tokensIssued", tokensIssued);
  if (tokens.length > 0) out.tokensIssued = tokens;
  return out;
}

function roleGone(v: unknown, path: string): RoleGone {
  return scoped(record(v, path, ["tenantId", "scope", "scopeId", "userId"]), path);
}

function roleFact(v: unknown, path: string): RoleFact {
  const o = record(v, path, ["tenantId", "scope", "scopeId", "userId", "role", "expiresAt"]);
  const expiresAt = o.expiresAt === null ? null : time(o.expiresAt, `${path}.expiresAt`);
  return { ...scoped(o, path), role: id(o.role, `${path}.role`), expiresAt };
}

function scoped(o: Record<string, unknown>, path: string): RoleGone {
  if (typeof o.scope !== "string" || !SCOPES.has(o.scope)) {
    throw new InvalidEffectsError(`${path}.scope`, "must be room, space or tenant");
  }
  const scope = o.scope as FactScope;
  if (scope === "tenant" && o.scopeId !== "") throw new InvalidEffectsError(`${path}.scopeId`, "must be empty");
  const scopeId = scope === "tenant" ? "" : id(o.scopeId, `${path}.scopeId`);
  return { tenantId: id(o.tenantId, `${path}.tenantId`), scope, scopeId, userId: id(o.userId, `${path}.userId`) };
}

function roomFact(v: unknown, path: string): RoomFact {
  const o = record(v, path, ["tenantId", "roomId", "spaceId", "isPublic"]);
  if (typeof o.isPublic !== "boolean") throw new InvalidEffectsError(`${path}.isPublic`, "must be a boolean");
  const spaceId = o.spaceId === null ? null : id(o.spaceId, `${path}.spaceId`);
  const roomId = id(o.roomId, `${path}.roomId`);
  return { tenantId: id(o.tenantId, `${path}.tenantId`), roomId, spaceId, isPublic: o.isPublic };
}

function integer(n: unknown, path: string): number {
  if (!Number.isInteger(n)) throw new InvalidEffectsError(path, "must be an integer");
  return n as number;
}

function tokensIssued(v: unknown, path: string): TokensIssued {
  const o = record(v, path, ["tenantId", "issuedAt", "permissionSets", "tokens"]);
  const permissionSets = list(o.permissionSets, `${path}.permissionSets`, (s, p) => list(s, p, integer));
  const tokens = list(o.tokens, `${path}.tokens`, (t, p): IssuedToken => {
    if (!Array.isArray(t) || t.length !== 5) {
      throw new InvalidEffectsError(p, "must be [tokenId, userId, roomId, set, expiresAt]");
    }
    const set = integer(t[3], `${p}[3]`);
    if (set < 0 || set >= permissionSets.length) throw new InvalidEffectsError(`${p}[3]`, "must index permissionSets");
    return [id(t[0], `${p}[0]`), id(t[1], `${p}[1]`), id(t[2], `${p}[2]`), set, time(t[4], `${p}[4]`)];
  });
  const tenantId = id(o.tenantId, `${path}.tenantId`);
  return { tenantId, issuedAt: time(o.issuedAt, `${path}.issuedAt`), permissionSets, tokens };
}
