import { sql } from "drizzle-orm";
import type { MembershipStore, RoomRoles } from "../domain/membership.js";
import { isRoleName, type RoleName } from "../domain/roles.js";
import { bool, type Database } from "./database-port.js";

/** Room and space roles. */
export class SqlMembershipStore implements MembershipStore {
  constructor(private readonly db: Database) {}

  async roomRolesOf(tenantId: string, userId: string, roomId: string): Promise<RoomRoles> {
    // One query answers "which roles apply here" for every permission check.
    const row = await this.db.get(
      sql`select rm.role as "roomRole", sm.role as "spaceRole", u.tenant_moderator as "tenantModerator", r.is_public as "roomIsPublic"
          from users u
          left join room_members rm on rm.tenant_id = u.tenant_id and rm.user_id = u.id and rm.room_id = ${roomId}
          left join rooms r on r.tenant_id = u.tenant_id and r.id = ${roomId}
          left join space_members sm on sm.space_id = r.space_id and sm.user_id = u.id
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
  ): Promise<void> {
    await this.db.run(
      sql`insert into room_members (tenant_id, room_id, user_id, role, granted_by, created_at)
          values (${tenantId}, ${roomId}, ${userId}, ${role}, ${grantedBy}, ${now})
          on conflict (tenant_id, room_id, user_id) do update set role = excluded.role, granted_by = excluded.granted_by`,
    );
  }

  async removeRoomRole(tenantId: string, roomId: string, userId: string): Promise<boolean> {
    const changed = await this.db.run(
      sql`delete from room_members where tenant_id = ${tenantId} and room_id = ${roomId} and user_id = ${userId}`,
    );
    return changed > 0;
  }

  async setSpaceRole(tenantId: string, spaceId: string, userId: string, role: RoleName, now: number): Promise<void> {
    await this.db.run(
      sql`insert into space_members (tenant_id, space_id, user_id, role, created_at)
          values (${tenantId}, ${spaceId}, ${userId}, ${role}, ${now})
          on conflict (space_id, user_id) do update set role = excluded.role`,
    );
  }

  async removeSpaceRole(tenantId: string, spaceId: string, userId: string): Promise<boolean> {
    const changed = await this.db.run(
      sql`delete from space_members where tenant_id = ${tenantId} and space_id = ${spaceId} and user_id = ${userId}`,
    );
    return changed > 0;
  }
}

function asRole(v: unknown): RoleName | undefined {
  return typeof v === "string" && isRoleName(v) ? v : undefined;
}
