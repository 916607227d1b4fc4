import { and, asc, eq, gt, isNotNull, isNull, lte, min, or, sql } from "drizzle-orm";
import type { TimedRestriction } from "../domain/moderation/lapses.js";
import type { Restriction, RestrictionKind } from "../domain/moderation/restrictions.js";
import type { Revocation } from "../domain/tokens/revocations.js";
import type { Db } from "./db.js";
import { grants, restrictions, revocations, roomMembers, rooms, spaceMembers } from "./schema.js";

/** Restrictions, revocations and the membership facts moderation needs. */
export class SqliteModerationStore {
  constructor(private readonly db: Db) {}

  /** Inserts or replaces a member's restriction of one kind. */
  setRestriction(r: Restriction, createdBy: string, now: number): void {
    this.db
      .insert(restrictions)
      .values({ ...r, createdBy, createdAt: now })
      .onConflictDoUpdate({
        target: [restrictions.tenantId, restrictions.roomId, restrictions.userId, restrictions.kind],
        set: { until: r.until, createdBy, createdAt: now },
      })
      .run();
  }

  /** Removes a restriction; false when there was none. */
  liftRestriction(tenantId: string, roomId: string, userId: string, kind: RestrictionKind): boolean {
    const r = this.db
      .delete(restrictions)
      .where(and(eq(restrictions.tenantId, tenantId), eq(restrictions.roomId, roomId), eq(restrictions.userId, userId), eq(restrictions.kind, kind)))
      .run();
    return r.changes > 0;
  }

  /** Restrictions still in force at `now` (loaded into memory at start). */
  activeRestrictions(now: number): Restriction[] {
    return this.db
      .select({ tenantId: restrictions.tenantId, roomId: restrictions.roomId, userId: restrictions.userId, kind: restrictions.kind, until: restrictions.until })
      .from(restrictions)
      .where(or(isNull(restrictions.until), gt(restrictions.until, now)))
      .all();
  }

  /** Timed restrictions that ended at or before `now`, soonest first, at most `limit`. */
  dueRestrictions(now: number, limit: number): TimedRestriction[] {
    return this.db
      .select({ tenantId: restrictions.tenantId, roomId: restrictions.roomId, userId: restrictions.userId, kind: restrictions.kind, until: restrictions.until })
      .from(restrictions)
      .where(and(isNotNull(restrictions.until), lte(restrictions.until, now)))
      .orderBy(asc(restrictions.until))
      .limit(limit)
      .all() as TimedRestriction[];
  }

  /** The soonest end of any timed restriction, or undefined when none is timed. */
  nextRestrictionEnd(): number | undefined {
    return this.db.select({ at: min(restrictions.until) }).from(restrictions).get()?.at ?? undefined;
  }

  /**
   * Deletes a lapsed restriction, but only while it still ends at `r.until`:
   * false when it was lifted or re-set (another end) meanwhile, or already
   * lapsed by another caller. Call it inside the lapse's write transaction.
   */
  deleteLapsed(r: TimedRestriction): boolean {
    const res = this.db
      .delete(restrictions)
      .where(
        and(
          eq(restrictions.tenantId, r.tenantId),
          eq(restrictions.roomId, r.roomId),
          eq(restrictions.userId, r.userId),
          eq(restrictions.kind, r.kind),
          eq(restrictions.until, r.until),
        ),
      )
      .run();
    return res.changes > 0;
  }

  /** Stores a revocation; `expiresAt` (token revocations) allows pruning later. */
  addRevocation(r: Revocation, expiresAt: number | null): void {
    this.db
      .insert(revocations)
      .values({
        tenantId: r.tenantId,
        kind: r.kind,
        tokenId: r.kind === "token" ? r.tokenId : null,
        userId: r.kind === "user" || r.kind === "user_room" ? r.userId : null,
        roomId: r.kind === "room" || r.kind === "user_room" ? r.roomId : null,
        at: r.at,
        expiresAt,
      })
      .run();
  }

  /** Revocations that can still matter at `now` (token ones whose token has not expired). */
  liveRevocations(now: number): Revocation[] {
    const rows = this.db
      .select()
      .from(revocations)
      .where(or(isNull(revocations.expiresAt), gt(revocations.expiresAt, now)))
      .all();
    return rows.map((r): Revocation => {
      switch (r.kind) {
        case "token":
          return { kind: "token", tenantId: r.tenantId, tokenId: r.tokenId!, at: r.at };
        case "user":
          return { kind: "user", tenantId: r.tenantId, userId: r.userId!, at: r.at };
        case "user_room":
          return { kind: "user_room", tenantId: r.tenantId, userId: r.userId!, roomId: r.roomId!, at: r.at };
        case "room":
          return { kind: "room", tenantId: r.tenantId, roomId: r.roomId!, at: r.at };
      }
    });
  }

  /** An issued token of the tenant, for revoking it by id. */
  findGrant(tenantId: string, tokenId: string): { userId: string; roomId: string; expiresAt: number } | undefined {
    return this.db
      .select({ userId: grants.userId, roomId: grants.roomId, expiresAt: grants.expiresAt })
      .from(grants)
      .where(and(eq(grants.tenantId, tenantId), eq(grants.id, tokenId)))
      .get();
  }

  /** True when the room exists for the tenant. */
  roomExists(tenantId: string, roomId: string): boolean {
    return this.db.select({ id: rooms.id }).from(rooms).where(and(eq(rooms.tenantId, tenantId), eq(rooms.id, roomId))).get() !== undefined;
  }

  /**
   * True when the user belongs to the room: holds a token issued for it, a
   * room role, or a role in the room's space.
   */
  isMember(tenantId: string, roomId: string, userId: string): boolean {
    const viaGrant = this.db
      .select({ one: sql<number>`1` })
      .from(grants)
      .where(and(eq(grants.tenantId, tenantId), eq(grants.roomId, roomId), eq(grants.userId, userId)))
      .limit(1)
      .get();
    if (viaGrant) return true;
    const viaRole = this.db
      .select({ one: sql<number>`1` })
      .from(roomMembers)
      .where(and(eq(roomMembers.tenantId, tenantId), eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
      .get();
    if (viaRole) return true;
    const viaSpace = this.db
      .select({ one: sql<number>`1` })
      .from(rooms)
      .innerJoin(spaceMembers, and(eq(spaceMembers.spaceId, rooms.spaceId), eq(spaceMembers.userId, userId)))
      .where(and(eq(rooms.tenantId, tenantId), eq(rooms.id, roomId)))
      .get();
    return viaSpace !== undefined;
  }
}
