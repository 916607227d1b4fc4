import { sql, type SQL } from "drizzle-orm";
import { noteEffects } from "../domain/events/pending-effects.js";
import { RoomgateError } from "../domain/errors.js";
import type { Keyset } from "../domain/paging.js";
import type {
  DeletedUser,
  RevokedLink,
  UserColumnsPatch,
  UserDirectoryStore,
  UserFilter,
  UserRecord,
} from "../domain/users/records.js";
import { MODERATING_ROOM_ROLES } from "../domain/roles.js";
import type { UserKind } from "../domain/users/users.js";
import { usernameKey } from "../domain/users/validation.js";
import { bool, num, type Database, type Row } from "./database-port.js";
import { roleLive } from "./role-expiry-sql.js";
import { isUniqueViolation } from "./sql-errors.js";

/** A user's columns; tenant-wide moderation reads as false once its expiry has come. */
function userColumns(now: number): SQL {
  return sql`id as "id", tenant_id as "tenantId", kind as "kind", username as "username", email as "email", phone as "phone",
  external_user_id as "externalUserId", unique_user_identifier as "uniqueUserIdentifier", profile_pic as "profilePic", meta as "meta",
  (case when ${roleLive("tenant_moderator_expires_at", now)} then tenant_moderator else ${false} end) as "tenantModerator",
  (password_hash is not null) as "hasPassword", created_at as "createdAt"`;
}

/** Live users only: a deleted row keeps its id and nothing else. */
const LIVE = sql`kind <> 'deleted'`;

/** The columns {@link UserColumnsPatch} may change. */
const PATCH_COLUMNS: { readonly [K in keyof Required<UserColumnsPatch>]: SQL } = {
  username: sql.raw("username"),
  usernameKey: sql.raw("username_key"),
  email: sql.raw("email"),
  phone: sql.raw("phone"),
  externalUserId: sql.raw("external_user_id"),
  meta: sql.raw("meta"),
  profilePic: sql.raw("profile_pic"),
  passwordHash: sql.raw("password_hash"),
};

/** Reading back, updating and (soft-)deleting users. */
export class SqlUserDirectoryStore implements UserDirectoryStore {
  constructor(
    private readonly db: Database,
    private readonly clock: () => number = Date.now,
  ) {}

  async findUser(tenantId: string, userId: string): Promise<UserRecord | undefined> {
    const row = await this.db.get(
      sql`select ${userColumns(this.clock())} from users where tenant_id = ${tenantId} and id = ${userId} and ${LIVE}`,
    );
    return row === undefined ? undefined : userRecord(row);
  }

  async listUsers(
    tenantId: string,
    filter: UserFilter,
    after: Keyset | undefined,
    limit: number,
  ): Promise<UserRecord[]> {
    const where: SQL[] = [sql`tenant_id = ${tenantId}`, LIVE];
    if (filter.externalUserId !== undefined) where.push(sql`external_user_id = ${filter.externalUserId}`);
    // Matches the partial unique index on (tenant_id, username_key).
    if (filter.usernameKey !== undefined) where.push(sql`kind = 'registered' and username_key = ${filter.usernameKey}`);
    if (filter.kind !== undefined) where.push(sql`kind = ${filter.kind}`);
    // Keyset paging, newest first: strictly after (at, id) in that order.
    if (after !== undefined)
      where.push(sql`(created_at < ${after.at} or (created_at = ${after.at} and id < ${after.id}))`);
    const rows = await this.db.all(
      sql`select ${userColumns(this.clock())} from users where ${sql.join(where, sql` and `)} order by created_at desc, id desc limit ${limit}`,
    );
    return rows.map(userRecord);
  }

  async moderatedRooms(tenantId: string, userIds: readonly string[], limit: number): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (userIds.length === 0) return out;
    const roles = sql.join(
      MODERATING_ROOM_ROLES.map((r) => sql`${r}`),
      sql`, `,
    );
    const ids = sql.join(
      userIds.map((id) => sql`${id}`),
      sql`, `,
    );
    // A window keeps at most `limit` rooms per user in one query for a whole page.
    const rows = await this.db.all(
      sql`select "userId", "roomId" from (
            select user_id as "userId", room_id as "roomId", row_number() over (partition by user_id order by room_id) as "n"
            from room_members where tenant_id = ${tenantId} and user_id in (${ids}) and role in (${roles})
                                and ${roleLive("expires_at", this.clock())}
          ) as m where "n" <= ${limit} order by "userId", "roomId"`,
    );
    for (const r of rows) {
      const list = out.get(String(r.userId)) ?? [];
      list.push(String(r.roomId));
      out.set(String(r.userId), list);
    }
    return out;
  }

  async registeredUsernameTakenByOther(tenantId: string, username: string, exceptUserId: string): Promise<boolean> {
    // Also by exact name for a legacy row without a key (see backfillUsernameKeys).
    const row = await this.db.get(
      sql`select id as "id" from users where tenant_id = ${tenantId} and kind = 'registered' and id <> ${exceptUserId}
          and (username_key = ${usernameKey(username)} or (username_key is null and username = ${username})) limit 1`,
    );
    return row !== undefined;
  }

  async registeredEmailTakenByOther(tenantId: string, email: string, exceptUserId: string): Promise<boolean> {
    const row = await this.db.get(
      sql`select id as "id" from users where tenant_id = ${tenantId} and kind = 'registered' and email = ${email} and id <> ${exceptUserId} limit 1`,
    );
    return row !== undefined;
  }

  async updateUser(tenantId: string, userId: string, patch: UserColumnsPatch): Promise<boolean> {
    const set: SQL[] = [];
    for (const field of Object.keys(PATCH_COLUMNS) as (keyof UserColumnsPatch)[]) {
      const value = patch[field];
      if (value !== undefined) set.push(sql`${PATCH_COLUMNS[field]} = ${value}`);
    }
    if (set.length === 0) return (await this.findUser(tenantId, userId)) !== undefined;
    try {
      const changed = await this.db.run(
        sql`update users set ${sql.join(set, sql`, `)} where tenant_id = ${tenantId} and id = ${userId} and ${LIVE}`,
      );
      return changed === 1;
    } catch (err) {
      // The checks in the transaction foresee these; the indexes decide.
      if (isUniqueViolation(err)) throw new RoomgateError("already_exists", "username or email already in use");
      throw err;
    }
  }

  deleteUser(tenantId: string, userId: string): Promise<DeletedUser | undefined> {
    return this.db.write(async () => {
      const user = await this.db.get(
        sql`select kind as "kind", tenant_moderator as "tenantModerator" from users where tenant_id = ${tenantId} and id = ${userId} and ${LIVE}`,
      );
      if (user === undefined) return undefined;
      const roomRoles = await this.db.all(
        sql`select room_id as "roomId", role as "role" from room_members where tenant_id = ${tenantId} and user_id = ${userId} order by room_id`,
      );
      const spaceRoles = await this.db.all(
        sql`select space_id as "spaceId", role as "role" from space_members where tenant_id = ${tenantId} and user_id = ${userId} order by space_id`,
      );
      await this.db.run(sql`delete from room_members where tenant_id = ${tenantId} and user_id = ${userId}`);
      await this.db.run(sql`delete from space_members where tenant_id = ${tenantId} and user_id = ${userId}`);
      // username is NOT NULL: "" is no one's name (creation refuses it).
      const changed = await this.db.run(
        sql`update users set kind = 'deleted', username = '', username_key = null, email = null, password_hash = null, phone = null,
                             external_user_id = null, unique_user_identifier = null, profile_pic = null, meta = null,
                             tenant_moderator = ${false}
            where tenant_id = ${tenantId} and id = ${userId} and ${LIVE}`,
      );
      if (changed !== 1) throw new Error("user changed during its deletion");
      noteEffects(tenantId, { usersRemoved: [{ tenantId, userId }] });
      return {
        kind: userKind(user.kind),
        tenantModerator: bool(user.tenantModerator),
        roomRoles: roomRoles.map((r) => ({ roomId: String(r.roomId), role: String(r.role) })),
        spaceRoles: spaceRoles.map((r) => ({ spaceId: String(r.spaceId), role: String(r.role) })),
      };
    });
  }

  revokeLinksOf(tenantId: string, userId: string, now: number): Promise<RevokedLink[]> {
    return this.db.write(async () => {
      const rows = await this.db.all(
        sql`update access_links set revoked_at = ${now}
            where tenant_id = ${tenantId} and (created_by = ${userId} or guest_user_id = ${userId}) and revoked_at is null
            returning id as "id", room_id as "roomId", role as "role", guest_user_id as "guestUserId"`,
      );
      return rows
        .map((r) => ({
          id: String(r.id),
          roomId: String(r.roomId),
          role: String(r.role),
          guestUserId: r.guestUserId == null ? null : String(r.guestUserId),
        }))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    });
  }
}

function userRecord(r: Row): UserRecord {
  return {
    id: String(r.id),
    tenantId: String(r.tenantId),
    kind: userKind(r.kind),
    username: String(r.username),
    email: strOrNull(r.email),
    phone: strOrNull(r.phone),
    externalUserId: strOrNull(r.externalUserId),
    uniqueUserIdentifier: strOrNull(r.uniqueUserIdentifier),
    profilePic: strOrNull(r.profilePic),
    meta: strOrNull(r.meta),
    tenantModerator: bool(r.tenantModerator),
    hasPassword: bool(r.hasPassword),
    createdAt: num(r.createdAt),
  };
}

function userKind(v: unknown): UserKind {
  // A kind outside the three is a corrupt row (deleted ones are filtered out): refuse it.
  if (v === "registered" || v === "consumer" || v === "guest") return v;
  throw new Error("users.kind: unexpected value");
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}
