import { and, eq, sql } from "drizzle-orm";
import type { MembershipStore, RoomRoles } from "../domain/membership.js";
import { isRoleName, type RoleName } from "../domain/roles.js";
import type { Db } from "./db.js";
import { roomMembers, rooms, spaceMembers, users } from "./schema.js";

/** Room and space roles in SQLite. */
export class SqliteMembershipStore implements MembershipStore {
  // One prepared query answers "which roles apply here" for permission checks.
  private readonly rolesQuery;

  constructor(private readonly db: Db) {
    this.rolesQuery = db
      .select({
        roomRole: roomMembers.role,
        spaceRole: spaceMembers.role,
        tenantModerator: users.tenantModerator,
        roomIsPublic: rooms.isPublic,
      })
      .from(users)
      .leftJoin(
        roomMembers,
        and(eq(roomMembers.tenantId, users.tenantId), eq(roomMembers.userId, users.id), eq(roomMembers.roomId, sql.placeholder("roomId"))),
      )
      .leftJoin(rooms, and(eq(rooms.tenantId, users.tenantId), eq(rooms.id, sql.placeholder("roomId"))))
      .leftJoin(spaceMembers, and(eq(spaceMembers.spaceId, rooms.spaceId), eq(spaceMembers.userId, users.id)))
      .where(and(eq(users.id, sql.placeholder("userId")), eq(users.tenantId, sql.placeholder("tenantId"))))
      .prepare();
  }

  roomRolesOf(tenantId: string, userId: string, roomId: string): RoomRoles {
    const row = this.rolesQuery.get({ tenantId, userId, roomId });
    return {
      roomRole: asRole(row?.roomRole),
      spaceRole: asRole(row?.spaceRole),
      tenantModerator: row?.tenantModerator ?? false,
      roomIsPublic: row?.roomIsPublic ?? false,
    };
  }

  setRoomRole(tenantId: string, roomId: string, userId: string, role: RoleName, grantedBy: string, now: number): void {
    this.db
      .insert(roomMembers)
      .values({ tenantId, roomId, userId, role, grantedBy, createdAt: now })
      .onConflictDoUpdate({ target: [roomMembers.tenantId, roomMembers.roomId, roomMembers.userId], set: { role, grantedBy } })
      .run();
  }

  removeRoomRole(tenantId: string, roomId: string, userId: string): boolean {
    const r = this.db
      .delete(roomMembers)
      .where(and(eq(roomMembers.tenantId, tenantId), eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
      .run();
    return r.changes > 0;
  }

  setSpaceRole(tenantId: string, spaceId: string, userId: string, role: RoleName, now: number): void {
    this.db
      .insert(spaceMembers)
      .values({ tenantId, spaceId, userId, role, createdAt: now })
      .onConflictDoUpdate({ target: [spaceMembers.spaceId, spaceMembers.userId], set: { role } })
      .run();
  }
}

function asRole(v: string | null | undefined): RoleName | undefined {
  return v && isRoleName(v) ? v : undefined;
}
