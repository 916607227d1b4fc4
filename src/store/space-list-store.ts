import { sql, type SQL } from "drizzle-orm";
import { isRoleName, type RoleName } from "../domain/roles.js";
import type {
  MemberFacts,
  MemberRoom,
  Position,
  RoomListing,
  RoomViewer,
  SpaceListing,
  SpaceListStore,
} from "../domain/spaces/list-store.js";
import type { InviteRecord } from "../domain/spaces/store.js";
import { bool, num, numOrNull, type Database, type Row } from "./database-port.js";
import { roleLive } from "./role-expiry-sql.js";

/** Keyset condition for (created_at desc, id desc) order, on columns prefixed by `t`. */
function newestFirstAfter(t: string, after: Position | undefined): SQL {
  if (after === undefined) return sql.empty();
  const at = sql.raw(`${t}.created_at`);
  const id = sql.raw(`${t}.id`);
  return sql` and (${at} < ${after.at} or (${at} = ${after.at} and ${id} < ${after.id}))`;
}

/** `in (…)` of the given values (callers pass at least one). */
function inList(values: readonly string[]): SQL {
  return sql`(${sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  )})`;
}

const SPACE_COLUMNS = sql`s.id as "id", s.name as "name", s.is_public as "isPublic", s.owner_user_id as "ownerUserId", s.created_at as "createdAt"`;
const ROOM_COLUMNS = sql`r.id as "id", r.space_id as "spaceId", r.name as "name", r.is_public as "isPublic",
  r.creator_user_id as "creatorUserId", r.created_at as "createdAt"`;

/** The reads behind ListSpaces, ListRooms, ListMembers and ListInvites, in SQL both stores accept. */
export class SqlSpaceListStore implements SpaceListStore {
  constructor(
    private readonly db: Database,
    private readonly clock: () => number = Date.now,
  ) {}

  async tenantSpaces(tenantId: string, after: Position | undefined, limit: number): Promise<SpaceListing[]> {
    const rows = await this.db.all(
      sql`select ${SPACE_COLUMNS} from spaces s where s.tenant_id = ${tenantId}${newestFirstAfter("s", after)}
          order by s.created_at desc, s.id desc limit ${limit}`,
    );
    return rows.map((r) => space(r, undefined));
  }

  async userSpaces(
    tenantId: string,
    userId: string,
    after: Position | undefined,
    limit: number,
  ): Promise<SpaceListing[]> {
    const rows = await this.db.all(
      sql`select ${SPACE_COLUMNS}, sm.role as "role" from spaces s
          join space_members sm on sm.space_id = s.id and sm.user_id = ${userId} and ${roleLive("sm.expires_at", this.clock())}
          where s.tenant_id = ${tenantId}${newestFirstAfter("s", after)}
          order by s.created_at desc, s.id desc limit ${limit}`,
    );
    return rows.map((r) => space(r, asRole(r.role)));
  }

  async spaceRooms(
    tenantId: string,
    spaceId: string | null,
    after: Position | undefined,
    limit: number,
  ): Promise<RoomListing[]> {
    const inSpace = spaceId === null ? sql`r.space_id is null` : sql`r.space_id = ${spaceId}`;
    const rows = await this.db.all(
      sql`select ${ROOM_COLUMNS} from rooms r where r.tenant_id = ${tenantId} and ${inSpace}${newestFirstAfter("r", after)}
          order by r.created_at desc, r.id desc limit ${limit}`,
    );
    return rows.map((r) => room(r, undefined));
  }

  async openRooms(
    tenantId: string,
    spaceId: string,
    viewer: RoomViewer,
    after: Position | undefined,
    limit: number,
  ): Promise<RoomListing[]> {
    // The ways in by role (applicableRoles): a room role; a space role, in
    // public rooms; tenant-wide moderation, everywhere.
    const open: SQL = viewer.tenantModerator
      ? sql.empty()
      : viewer.spaceMember
        ? sql` and (rm.user_id is not null or r.is_public = ${true})`
        : sql` and rm.user_id is not null`;
    const rows = await this.db.all(
      sql`select ${ROOM_COLUMNS}, rm.role as "role" from rooms r
          left join room_members rm on rm.tenant_id = r.tenant_id and rm.room_id = r.id and rm.user_id = ${viewer.userId}
                                    and ${roleLive("rm.expires_at", this.clock())}
          where r.tenant_id = ${tenantId} and r.space_id = ${spaceId}${open}${newestFirstAfter("r", after)}
          order by r.created_at desc, r.id desc limit ${limit}`,
    );
    return rows.map((r) => room(r, asRole(r.role)));
  }

  async belongsToSpace(tenantId: string, spaceId: string, userId: string): Promise<boolean> {
    const now = this.clock();
    const row = await this.db.get(
      sql`select 1 as "one" from space_members where tenant_id = ${tenantId} and space_id = ${spaceId} and user_id = ${userId}
                                                  and ${roleLive("expires_at", now)}
          union all
          select 1 as "one" from room_members rm join rooms r on r.tenant_id = rm.tenant_id and r.id = rm.room_id
          where rm.tenant_id = ${tenantId} and rm.user_id = ${userId} and r.space_id = ${spaceId} and ${roleLive("rm.expires_at", now)}
          limit 1`,
    );
    return row !== undefined;
  }

  async isTenantModerator(tenantId: string, userId: string): Promise<boolean> {
    const row = await this.db.get(
      sql`select tenant_moderator as "m" from users where tenant_id = ${tenantId} and id = ${userId}
          and ${roleLive("tenant_moderator_expires_at", this.clock())}`,
    );
    return bool(row?.m);
  }

  async memberIds(room: MemberRoom, now: number, after: Position | undefined, limit: number): Promise<string[]> {
    const { tenantId, roomId } = room;
    // Space roles reach public rooms only.
    const spaceMembers =
      room.spaceId !== null && room.isPublic
        ? sql` union select user_id from space_members where tenant_id = ${tenantId} and space_id = ${room.spaceId} and ${roleLive("expires_at", now)}`
        : sql.empty();
    const position = after === undefined ? sql.empty() : sql` where m.user_id > ${after.id}`;
    // UNION (not UNION ALL): a member with several ways in is one row.
    const rows = await this.db.all(
      sql`select m.user_id as "userId" from (
            select user_id from room_members where tenant_id = ${tenantId} and room_id = ${roomId} and ${roleLive("expires_at", now)}
            ${spaceMembers}
            union select id as user_id from users where tenant_id = ${tenantId} and tenant_moderator = ${true}
                                                    and ${roleLive("tenant_moderator_expires_at", now)}
            union select user_id from grants where tenant_id = ${tenantId} and room_id = ${roomId} and expires_at > ${now}
          ) m${position}
          order by m.user_id limit ${limit}`,
    );
    return rows.map((r) => String(r.userId));
  }

  async memberFacts(room: MemberRoom, userIds: readonly string[], now: number): Promise<MemberFacts[]> {
    if (userIds.length === 0) return [];
    const { tenantId, roomId } = room;
    const ids = inList(userIds);
    const [users, roomRoles, spaceRoles, links, tokens] = await Promise.all([
      this.db.all(
        sql`select id as "id", username as "username", tenant_moderator as "tenantModerator", tenant_moderator_expires_at as "expiresAt"
            from users where tenant_id = ${tenantId} and id in ${ids}`,
      ),
      this.db.all(
        sql`select user_id as "userId", role as "role", expires_at as "expiresAt" from room_members
            where tenant_id = ${tenantId} and room_id = ${roomId} and user_id in ${ids} and ${roleLive("expires_at", now)}`,
      ),
      room.spaceId === null
        ? Promise.resolve([] as Row[])
        : this.db.all(
            sql`select user_id as "userId", role as "role", expires_at as "expiresAt" from space_members
                where tenant_id = ${tenantId} and space_id = ${room.spaceId} and user_id in ${ids} and ${roleLive("expires_at", now)}`,
          ),
      this.db.all(
        sql`select guest_user_id as "userId", id as "id" from access_links where tenant_id = ${tenantId} and room_id = ${roomId} and guest_user_id in ${ids}`,
      ),
      this.db.all(
        sql`select user_id as "userId", max(issued_at) as "issuedAt" from grants
            where tenant_id = ${tenantId} and room_id = ${roomId} and expires_at > ${now} and user_id in ${ids} group by user_id`,
      ),
    ]);
    const byUser = <T>(rows: Row[], value: (r: Row) => T) =>
      new Map(rows.map((r) => [String(r.userId ?? r.id), value(r)]));
    const user = byUser(users, (r) => {
      const expiresAt = numOrNull(r.expiresAt);
      // Past its expiry, tenant-wide moderation counts for nothing, swept or not.
      const tenantModerator = bool(r.tenantModerator) && (expiresAt === null || expiresAt > now);
      return { username: String(r.username), tenantModerator, expiresAt: tenantModerator ? expiresAt : null };
    });
    const roomRole = byUser(roomRoles, (r) => ({ role: asRole(r.role), expiresAt: numOrNull(r.expiresAt) }));
    const spaceRole = byUser(spaceRoles, (r) => ({ role: asRole(r.role), expiresAt: numOrNull(r.expiresAt) }));
    const link = byUser(links, (r) => String(r.id));
    const token = byUser(tokens, (r) => num(r.issuedAt));
    return userIds.map((userId) => ({
      userId,
      username: user.get(userId)?.username ?? "",
      roomRole: roomRole.get(userId)?.role,
      roomRoleExpiresAt: roomRole.get(userId)?.expiresAt ?? null,
      spaceRole: spaceRole.get(userId)?.role,
      spaceRoleExpiresAt: spaceRole.get(userId)?.expiresAt ?? null,
      tenantModerator: user.get(userId)?.tenantModerator ?? false,
      tenantModeratorExpiresAt: user.get(userId)?.expiresAt ?? null,
      accessLinkId: link.get(userId),
      newestTokenIssuedAt: token.get(userId),
    }));
  }

  async spaceInvites(
    tenantId: string,
    spaceId: string,
    after: Position | undefined,
    limit: number,
  ): Promise<InviteRecord[]> {
    const rows = await this.db.all(
      sql`select i.id as "id", i.tenant_id as "tenantId", i.space_id as "spaceId", i.role as "role", i.created_by as "createdBy",
                 i.created_at as "createdAt", i.used_by as "usedBy", i.used_at as "usedAt", i.revoked_at as "revokedAt",
                 i.role_expires_at as "roleExpiresAt"
          from invites i where i.tenant_id = ${tenantId} and i.space_id = ${spaceId}${newestFirstAfter("i", after)}
          order by i.created_at desc, i.id desc limit ${limit}`,
    );
    return rows.map((r) => ({
      id: String(r.id),
      tenantId: String(r.tenantId),
      spaceId: String(r.spaceId),
      role: String(r.role),
      createdBy: String(r.createdBy),
      createdAt: num(r.createdAt),
      usedBy: strOrNull(r.usedBy),
      usedAt: numOrNull(r.usedAt),
      revokedAt: numOrNull(r.revokedAt),
      ...(r.roleExpiresAt === null || r.roleExpiresAt === undefined ? {} : { roleExpiresAt: num(r.roleExpiresAt) }),
    }));
  }
}

function space(r: Row, role: RoleName | undefined): SpaceListing {
  return {
    id: String(r.id),
    name: String(r.name),
    isPublic: bool(r.isPublic),
    ownerUserId: strOrNull(r.ownerUserId),
    createdAt: num(r.createdAt),
    role,
  };
}

function room(r: Row, role: RoleName | undefined): RoomListing {
  return {
    id: String(r.id),
    spaceId: strOrNull(r.spaceId),
    name: String(r.name),
    isPublic: bool(r.isPublic),
    creatorUserId: strOrNull(r.creatorUserId),
    createdAt: num(r.createdAt),
    role,
  };
}

function asRole(v: unknown): RoleName | undefined {
  return typeof v === "string" && isRoleName(v) ? v : undefined;
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}
