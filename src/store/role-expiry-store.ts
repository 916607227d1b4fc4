import { sql } from "drizzle-orm";
import { noteEffects } from "../domain/events/pending-effects.js";
import type { ExpiringRole, ExpiringRoleKind, RoleExpiryStore } from "../domain/moderation/lapses-roles.js";
import { num, type Database } from "./database-port.js";

/**
 * Roles granted with an expiry, in the three places a role is held: room
 * roles (room_members), space roles (space_members) and seed 003's
 * tenant-wide moderation (users). Each is read by its expiry index.
 */
export class SqlRoleExpiryStore implements RoleExpiryStore {
  constructor(private readonly db: Database) {}

  async dueRoles(now: number, limit: number): Promise<ExpiringRole[]> {
    const rows = await this.db.all(
      sql`select * from (
            select 'room' as "kind", tenant_id as "tenantId", user_id as "userId", room_id as "roomId", '' as "spaceId",
                   role as "role", expires_at as "expiresAt"
            from room_members where expires_at is not null and expires_at <= ${now}
            union all
            select 'space', tenant_id, user_id, '', space_id, role, expires_at
            from space_members where expires_at is not null and expires_at <= ${now}
            union all
            select 'tenant_moderator', tenant_id, id, '', '', 'consumer_tenant_moderator', tenant_moderator_expires_at
            from users where tenant_moderator_expires_at is not null and tenant_moderator_expires_at <= ${now}
          ) due order by "expiresAt", "userId" limit ${limit}`,
    );
    return rows.map((r) => ({
      kind: String(r.kind) as ExpiringRoleKind,
      tenantId: String(r.tenantId),
      userId: String(r.userId),
      roomId: String(r.roomId),
      spaceId: String(r.spaceId),
      role: String(r.role),
      expiresAt: num(r.expiresAt),
    }));
  }

  async nextRoleExpiry(): Promise<number | undefined> {
    const row = await this.db.get(
      sql`select min(e) as "next" from (
            select min(expires_at) as e from room_members
            union all select min(expires_at) from space_members
            union all select min(tenant_moderator_expires_at) from users
          ) soonest`,
    );
    return row?.next === null || row?.next === undefined ? undefined : num(row.next);
  }

  async removeExpiredRole(r: ExpiringRole): Promise<boolean> {
    // Conditional on the role and expiry read: a re-grant, a revocation or
    // another replica's expiry meanwhile leaves 0 rows changed.
    let changed: number;
    if (r.kind === "room") {
      changed = await this.db.run(
        sql`delete from room_members where tenant_id = ${r.tenantId} and room_id = ${r.roomId} and user_id = ${r.userId}
            and role = ${r.role} and expires_at = ${r.expiresAt}`,
      );
    } else if (r.kind === "space") {
      changed = await this.db.run(
        sql`delete from space_members where tenant_id = ${r.tenantId} and space_id = ${r.spaceId} and user_id = ${r.userId}
            and role = ${r.role} and expires_at = ${r.expiresAt}`,
      );
    } else {
      changed = await this.db.run(
        sql`update users set tenant_moderator = ${false}, tenant_moderator_expires_at = null
            where tenant_id = ${r.tenantId} and id = ${r.userId} and tenant_moderator_expires_at = ${r.expiresAt}`,
      );
    }
    if (changed === 1) {
      const scope = r.kind === "tenant_moderator" ? "tenant" : r.kind;
      const scopeId = r.kind === "room" ? r.roomId : r.kind === "space" ? r.spaceId : "";
      noteEffects(r.tenantId, { rolesRemoved: [{ tenantId: r.tenantId, scope, scopeId, userId: r.userId }] });
    }
    return changed === 1;
  }
}
