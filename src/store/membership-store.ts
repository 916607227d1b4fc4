import { noteEffects } from "../domain/events/pending-effects.js";
import { noteTenantModerator } from "./access-facts-store.js";
import { sql } from "drizzle-orm";
import type { MembershipStore, RoomRoles } from "../domain/membership.js";
import { isRoleName, type RoleName } from "../domain/roles.js";
import { bool, type Database } from "./database-port.js";

/** Room and space roles. */
export class SqlMembershipStore implements MembershipStore {
  /** `clock` decides which roles granted with an expiry still count. */
  constructor(
    private readonly db: Database,
    private readonly clock: () => number = Date.now,
  ) {}

  async roomRolesOf(tenantId: string, userId: string, roomId: string): Promise<RoomRoles> {
    // One query answers "which roles apply here" for every permission check.
    // A role past its expiry counts for nothing even before role expiry has
    // removed it and announced ROLE_EXPIRED: no window where it opens a room.
    const now = this.clock();
    const row = await this.db.get(
      sql`select rm.role as "roomRole", sm.role as "spaceRole", r.is_public as "roomIsPublic",
                 (u.tenant_moderator and (u.tenant_moderator_expires_at is null or u.tenant_moderator_expires_at > ${now})) as "tenantModerator"
          from users u
          left join room_members rm on rm.tenant_id = u.tenant_id and rm.user_id = u.id and rm.room_id = ${roomId}
                                   and (rm.expires_at is null or rm.expires_at > ${now})
          left join rooms r on r.tenant_id = u.tenant_id and r.id = ${roomId}
          left join space_members sm on sm.space_id = r.space_id and sm.user_id = u.id
                                    and (sm.expires_at is null or sm.expires_at > ${now})
          where u.id = ${userId} and u.tenant_id = ${tenantId}`,
    );
    return {
      roomRole: asRole(row?.roomRole),
      spaceRole: asRole(row?.spaceRole),
      tenantModerator: bool(row?.tenantModerator),
      roomIsPublic: bool(row?.roomIsPublic),
    };
  }

  async setRoomRole(
    tenantId: string,
    roomId: string,
    userId: string,
    role: RoleName,
    grantedBy: string,
    now: number,
    expiresAt: number | null = null,
  ): Promise<void> {
    // Granting again replaces the expiry too: extends, shortens or clears it.
    await this.db.run(
      sql`insert into room_members (tenant_id, room_id, user_id, role, granted_by, created_at, expires_at)
          values (${tenantId}, ${roomId}, ${userId}, ${role}, ${grantedBy}, ${now}, ${expiresAt})
          on conflict (tenant_id, room_id, user_id) do update set role = excluded.role, granted_by = excluded.granted_by,
                                                                 expires_at = excluded.expires_at`,
    );
    noteEffects(tenantId, { rolesSet: [{ tenantId, scope: "room", scopeId: roomId, userId, role, expiresAt }] });
  }

  async removeRoomRole(tenantId: string, roomId: string, userId: string): Promise<boolean> {
    const changed = await this.db.run(
      sql`delete from room_members where tenant_id = ${tenantId} and room_id = ${roomId} and user_id = ${userId}`,
    );
    if (changed > 0) noteEffects(tenantId, { rolesRemoved: [{ tenantId, scope: "room", scopeId: roomId, userId }] });
    return changed > 0;
  }

  async setSpaceRole(
    tenantId: string,
    spaceId: string,
    userId: string,
    role: RoleName,
    now: number,
    expiresAt: number | null = null,
  ): Promise<void> {
    await this.db.run(
      sql`insert into space_members (tenant_id, space_id, user_id, role, created_at, expires_at)
          values (${tenantId}, ${spaceId}, ${userId}, ${role}, ${now}, ${expiresAt})
          on conflict (space_id, user_id) do update set role = excluded.role, expires_at = excluded.expires_at`,
    );
    noteEffects(tenantId, { rolesSet: [{ tenantId, scope: "space", scopeId: spaceId, userId, role, expiresAt }] });
  }

  async setTenantModeratorExpiry(tenantId: string, userId: string, expiresAt: number | null): Promise<void> {
    await this.db.run(
      sql`update users set tenant_moderator_expires_at = ${expiresAt} where tenant_id = ${tenantId} and id = ${userId}`,
    );
    await noteTenantModerator(this.db, tenantId, userId);
  }

  async removeSpaceRole(tenantId: string, spaceId: string, userId: string): Promise<boolean> {
    const changed = await this.db.run(
      sql`delete from space_members where tenant_id = ${tenantId} and space_id = ${spaceId} and user_id = ${userId}`,
    );
    if (changed > 0) noteEffects(tenantId, { rolesRemoved: [{ tenantId, scope: "space", scopeId: spaceId, userId }] });
    return changed > 0;
  }
}

function asRole(v: unknown): RoleName | undefined {
  return typeof v === "string" && isRoleName(v) ? v : undefined;
}
