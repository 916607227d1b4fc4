import { sql } from "drizzle-orm";
import type { RoleFact, RoomFact, RoomSeen } from "../domain/access/facts.js";
import type { AccessFactSource, LiveToken } from "../domain/access/access-index.js";
import { noteEffects } from "../domain/events/pending-effects.js";
import { bool, num, numOrNull, type Database } from "./database-port.js";
import { roleLive } from "./role-expiry-sql.js";

/**
 * Notes (noteEffects) the user's tenant-wide moderation as stored now, read
 * back inside the write: the flag and its expiry are two columns that
 * different writes change one at a time, and the fact must be whole.
 */
export async function noteTenantModerator(db: Database, tenantId: string, userId: string): Promise<void> {
  const row = await db.get(
    sql`select tenant_moderator as "m", tenant_moderator_expires_at as "e", kind as "kind"
        from users where tenant_id = ${tenantId} and id = ${userId}`,
  );
  const scope = { tenantId, scope: "tenant" as const, scopeId: "", userId };
  if (row !== undefined && bool(row.m) && row.kind !== "deleted") {
    noteEffects(tenantId, { rolesSet: [{ ...scope, role: "consumer_tenant_moderator", expiresAt: numOrNull(row.e) }] });
  } else {
    noteEffects(tenantId, { rolesRemoved: [scope] });
  }
}

/**
 * What a replica's AccessIndex loads at start: every room, every role that
 * still counts and every token that has not expired (revoked ones too: the
 * revocation index refuses them, as Verify does).
 */
export class SqlAccessFacts implements AccessFactSource {
  constructor(private readonly db: Database) {}

  async rooms(): Promise<{ created: RoomFact[]; seen: RoomSeen[] }> {
    const rows = await this.db.all(
      sql`select tenant_id as "t", id as "id", space_id as "s", is_public as "p" from rooms`,
    );
    const created: RoomFact[] = [];
    const seen: RoomSeen[] = [];
    for (const r of rows) {
      const tenantId = String(r.t);
      const roomId = String(r.id);
      if (r.s === null || r.s === undefined) seen.push({ tenantId, roomId });
      else created.push({ tenantId, roomId, spaceId: String(r.s), isPublic: bool(r.p) });
    }
    return { created, seen };
  }

  async roles(now: number): Promise<RoleFact[]> {
    const rows = await this.db.all(
      sql`select 'room' as "scope", tenant_id as "t", room_id as "id", user_id as "u", role as "role", expires_at as "e"
            from room_members where ${roleLive("expires_at", now)}
          union all
          select 'space', tenant_id, space_id, user_id, role, expires_at
            from space_members where ${roleLive("expires_at", now)}
          union all
          select 'tenant', tenant_id, '', id, 'consumer_tenant_moderator', tenant_moderator_expires_at
            from users where tenant_moderator = ${true} and kind <> 'deleted' and ${roleLive("tenant_moderator_expires_at", now)}`,
    );
    return rows.map((r) => ({
      tenantId: String(r.t),
      scope: r.scope as RoleFact["scope"],
      scopeId: String(r.id),
      userId: String(r.u),
      role: String(r.role),
      expiresAt: numOrNull(r.e),
    }));
  }

  async tokens(now: number): Promise<LiveToken[]> {
    const rows = await this.db.all(
      sql`select id as "id", tenant_id as "t", user_id as "u", room_id as "r", permissions as "p",
                 issued_at as "i", expires_at as "e"
          from grants where expires_at > ${now}`,
    );
    return rows.map((r) => ({
      tenantId: String(r.t),
      tokenId: String(r.id),
      userId: String(r.u),
      roomId: String(r.r),
      permissions: (typeof r.p === "string" ? JSON.parse(r.p) : r.p) as number[],
      issuedAt: num(r.i),
      expiresAt: num(r.e),
    }));
  }
}
