import { sql } from "drizzle-orm";
import type { LapseStore, TimedRestriction } from "../domain/moderation/lapses.js";
import type { ModerationStore } from "../domain/moderation/moderation.js";
import type { Restriction, RestrictionKind } from "../domain/moderation/restrictions.js";
import type { RevocationStore } from "../domain/tokens/revoker.js";
import type { Revocation } from "../domain/tokens/revocations.js";
import { num, numOrNull, type Database, type Row } from "./database-port.js";
import { roleLive } from "./role-expiry-sql.js";

const RESTRICTION_COLUMNS = sql`tenant_id as "tenantId", room_id as "roomId", user_id as "userId", kind as "kind", until as "until"`;

/** Restrictions, revocations and the membership facts moderation needs. */
export class SqlModerationStore implements ModerationStore, RevocationStore, LapseStore {
  constructor(
    private readonly db: Database,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Inserts or replaces a member's restriction of one kind. */
  async setRestriction(r: Restriction, createdBy: string, now: number): Promise<void> {
    await this.db.run(
      sql`insert into restrictions (tenant_id, room_id, user_id, kind, until, created_by, created_at)
          values (${r.tenantId}, ${r.roomId}, ${r.userId}, ${r.kind}, ${r.until}, ${createdBy}, ${now})
          on conflict (tenant_id, room_id, user_id, kind)
          do update set until = excluded.until, created_by = excluded.created_by, created_at = excluded.created_at`,
    );
  }

  /** Removes a restriction; false when there was none. */
  async liftRestriction(tenantId: string, roomId: string, userId: string, kind: RestrictionKind): Promise<boolean> {
    const changed = await this.db.run(
      sql`delete from restrictions where tenant_id = ${tenantId} and room_id = ${roomId} and user_id = ${userId} and kind = ${kind}`,
    );
    return changed > 0;
  }

  /** Restrictions still in force at `now` (loaded into memory at start). */
  async activeRestrictions(now: number): Promise<Restriction[]> {
    const rows = await this.db.all(
      sql`select ${RESTRICTION_COLUMNS} from restrictions where until is null or until > ${now}`,
    );
    return rows.map(restriction);
  }

  /** Timed restrictions that ended at or before `now`, soonest first, at most `limit`. */
  async dueRestrictions(now: number, limit: number): Promise<TimedRestriction[]> {
    const rows = await this.db.all(
      sql`select ${RESTRICTION_COLUMNS} from restrictions where until is not null and until <= ${now} order by until limit ${limit}`,
    );
    return rows.map((r) => restriction(r) as TimedRestriction);
  }

  /** The soonest end of any timed restriction, or undefined when none is timed. */
  async nextRestrictionEnd(): Promise<number | undefined> {
    const row = await this.db.get(sql`select min(until) as "at" from restrictions`);
    return numOrNull(row?.at) ?? undefined;
  }

  /**
   * Deletes a lapsed restriction, but only while it still ends at `r.until`:
   * false when it was lifted or re-set (another end) meanwhile, or already
   * lapsed by another caller. Call it inside the lapse's write transaction.
   */
  async deleteLapsed(r: TimedRestriction): Promise<boolean> {
    const changed = await this.db.run(
      sql`delete from restrictions
          where tenant_id = ${r.tenantId} and room_id = ${r.roomId} and user_id = ${r.userId} and kind = ${r.kind} and until = ${r.until}`,
    );
    return changed > 0;
  }

  /** Stores a revocation; `expiresAt` (token revocations) allows pruning later. */
  async addRevocation(r: Revocation, expiresAt: number | null): Promise<void> {
    const tokenId = r.kind === "token" ? r.tokenId : null;
    const userId = r.kind === "user" || r.kind === "user_room" ? r.userId : null;
    const roomId = r.kind === "room" || r.kind === "user_room" ? r.roomId : null;
    await this.db.run(
      sql`insert into revocations (tenant_id, kind, token_id, user_id, room_id, at, expires_at)
          values (${r.tenantId}, ${r.kind}, ${tokenId}, ${userId}, ${roomId}, ${r.at}, ${expiresAt})`,
    );
  }

  /** Revocations that can still matter at `now` (token ones whose token has not expired), oldest first. */
  async liveRevocations(now: number): Promise<Revocation[]> {
    const rows = await this.db.all(
      sql`select kind as "kind", tenant_id as "tenantId", token_id as "tokenId", user_id as "userId", room_id as "roomId", at as "at"
          from revocations where expires_at is null or expires_at > ${now} order by id`,
    );
    return rows.map(revocation);
  }

  /** An issued room member token, or a live session's access tokens, of the tenant, for revoking by id. */
  async findGrant(
    tenantId: string,
    tokenId: string,
  ): Promise<{ userId: string; roomId: string; expiresAt: number } | undefined> {
    // A user access token's id is its session's (issue 19): Revoke ends the
    // session, kept in force until the session's idle bound has passed.
    const row = await this.db.get(
      sql`select user_id as "userId", room_id as "roomId", expires_at as "expiresAt" from grants where tenant_id = ${tenantId} and id = ${tokenId}
          union all
          select user_id, '', expires_at from user_sessions where tenant_id = ${tenantId} and id = ${tokenId} and ended_at is null
          limit 1`,
    );
    return row === undefined
      ? undefined
      : { userId: String(row.userId), roomId: String(row.roomId), expiresAt: num(row.expiresAt) };
  }

  /** True when the room exists for the tenant. */
  async roomExists(tenantId: string, roomId: string): Promise<boolean> {
    return (
      (await this.db.get(sql`select 1 as "one" from rooms where tenant_id = ${tenantId} and id = ${roomId}`)) !==
      undefined
    );
  }

  /**
   * True when the user belongs to the room: holds a token issued for it, a
   * room role, or a role in the room's space. One statement (one round
   * trip); UNION ALL with LIMIT stops at the first way in found.
   */
  async isMember(tenantId: string, roomId: string, userId: string): Promise<boolean> {
    const now = this.clock();
    const row = await this.db.get(
      sql`select 1 as "one" from grants where tenant_id = ${tenantId} and room_id = ${roomId} and user_id = ${userId}
          union all
          select 1 from room_members where tenant_id = ${tenantId} and room_id = ${roomId} and user_id = ${userId}
                                        and ${roleLive("expires_at", now)}
          union all
          select 1 from rooms r join space_members sm on sm.space_id = r.space_id and sm.user_id = ${userId}
                                                      and ${roleLive("sm.expires_at", now)}
          where r.tenant_id = ${tenantId} and r.id = ${roomId} and r.is_public = ${true}
          limit 1`,
    );
    return row !== undefined;
  }
}

function restriction(r: Row): Restriction {
  return {
    tenantId: String(r.tenantId),
    roomId: String(r.roomId),
    userId: String(r.userId),
    kind: restrictionKind(r.kind),
    until: numOrNull(r.until),
  };
}

function restrictionKind(v: unknown): RestrictionKind {
  // An unknown kind is a corrupt row: refuse it rather than guess.
  if (v === "chat_block" || v === "mute" || v === "room_block") return v;
  throw new Error("restrictions.kind: unknown value");
}

function revocation(r: Row): Revocation {
  const tenantId = String(r.tenantId);
  const at = num(r.at);
  switch (r.kind) {
    case "token":
      return { kind: "token", tenantId, tokenId: String(r.tokenId), at };
    case "user":
      return { kind: "user", tenantId, userId: String(r.userId), at };
    case "user_room":
      return { kind: "user_room", tenantId, userId: String(r.userId), roomId: String(r.roomId), at };
    case "room":
      return { kind: "room", tenantId, roomId: String(r.roomId), at };
    default:
      throw new Error("revocations.kind: unknown value");
  }
}
