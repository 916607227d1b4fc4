import { and, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Keyset } from "../domain/paging.js";
import { isRoleName, type RoleName } from "../domain/roles.js";
import type {
  AccessLinkRecord,
  InviteRecord,
  NewGuestUser,
  NewRoom,
  RoomRecord,
  SpaceRecord,
  SpaceStore,
} from "../domain/spaces/store.js";
import { writeTransaction, type Db } from "./db.js";
import { accessLinks, invites, rooms, spaceMembers, spaces, users } from "./schema.js";

/** Spaces, rooms, invites and access links in SQLite. */
export class SqliteSpaceStore implements SpaceStore {
  // The lookups every call makes are prepared once.
  private readonly userQuery;
  private readonly spaceQuery;
  private readonly spaceRoleQuery;
  private readonly roomQuery;

  constructor(private readonly db: Db) {
    this.userQuery = db
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.tenantId, sql.placeholder("tenantId")), eq(users.id, sql.placeholder("userId"))))
      .prepare();
    this.spaceQuery = db
      .select({ id: spaces.id, tenantId: spaces.tenantId, name: spaces.name, isPublic: spaces.isPublic, ownerUserId: spaces.ownerUserId })
      .from(spaces)
      .where(and(eq(spaces.tenantId, sql.placeholder("tenantId")), eq(spaces.id, sql.placeholder("spaceId"))))
      .prepare();
    this.spaceRoleQuery = db
      .select({ role: spaceMembers.role })
      .from(spaceMembers)
      .where(
        and(
          eq(spaceMembers.tenantId, sql.placeholder("tenantId")),
          eq(spaceMembers.spaceId, sql.placeholder("spaceId")),
          eq(spaceMembers.userId, sql.placeholder("userId")),
        ),
      )
      .prepare();
    this.roomQuery = db
      .select({
        tenantId: rooms.tenantId,
        id: rooms.id,
        spaceId: rooms.spaceId,
        name: rooms.name,
        isPublic: rooms.isPublic,
        creatorUserId: rooms.creatorUserId,
      })
      .from(rooms)
      .where(and(eq(rooms.tenantId, sql.placeholder("tenantId")), eq(rooms.id, sql.placeholder("roomId"))))
      .prepare();
  }

  atomically<T>(fn: () => T): T {
    // IMMEDIATE takes the write lock up front, so two processes cannot both
    // read "unused" and then deadlock upgrading; nested calls become savepoints.
    return writeTransaction(this.db, fn);
  }

  userExists(tenantId: string, userId: string): boolean {
    return this.userQuery.get({ tenantId, userId }) !== undefined;
  }

  findSpace(tenantId: string, spaceId: string): SpaceRecord | undefined {
    return this.spaceQuery.get({ tenantId, spaceId });
  }

  insertSpace(space: SpaceRecord, createdAt: number): void {
    this.atomically(() => {
      this.db.insert(spaces).values({ ...space, createdAt }).run();
      this.db
        .insert(spaceMembers)
        .values({ tenantId: space.tenantId, spaceId: space.id, userId: space.ownerUserId, role: "role_space_owner", createdAt })
        .run();
    });
  }

  spaceRoleOf(tenantId: string, spaceId: string, userId: string): RoleName | undefined {
    const role = this.spaceRoleQuery.get({ tenantId, spaceId, userId })?.role;
    return role !== undefined && isRoleName(role) ? role : undefined;
  }

  findRoom(tenantId: string, roomId: string): RoomRecord | undefined {
    return this.roomQuery.get({ tenantId, roomId });
  }

  insertRoom(room: NewRoom): void {
    this.db.insert(rooms).values(room).run();
  }

  insertInvite(invite: InviteRecord): void {
    this.db.insert(invites).values(invite).run();
  }

  findInvite(tenantId: string, inviteId: string): InviteRecord | undefined {
    return this.db
      .select()
      .from(invites)
      .where(and(eq(invites.tenantId, tenantId), eq(invites.id, inviteId)))
      .get();
  }

  claimInvite(tenantId: string, inviteId: string, userId: string, now: number): boolean {
    // Conditional: only an unused invite is claimed; 0 rows means someone was first.
    const res = this.db
      .update(invites)
      .set({ usedBy: userId, usedAt: now })
      .where(and(eq(invites.tenantId, tenantId), eq(invites.id, inviteId), isNull(invites.usedAt)))
      .run();
    return res.changes === 1;
  }

  insertAccessLink(link: AccessLinkRecord): void {
    this.db.insert(accessLinks).values(link).run();
  }

  findAccessLink(tenantId: string, linkId: string): AccessLinkRecord | undefined {
    return this.db
      .select()
      .from(accessLinks)
      .where(and(eq(accessLinks.tenantId, tenantId), eq(accessLinks.id, linkId)))
      .get();
  }

  claimAccessLink(tenantId: string, linkId: string, now: number): boolean {
    // A one-time link is claimed only while unused; a permanent one counts
    // every use and keeps the time of its first.
    const res = this.db
      .update(accessLinks)
      .set({ usedAt: sql`coalesce(${accessLinks.usedAt}, ${now})`, useCount: sql`${accessLinks.useCount} + 1` })
      .where(
        and(
          eq(accessLinks.tenantId, tenantId),
          eq(accessLinks.id, linkId),
          or(eq(accessLinks.isPermanent, true), isNull(accessLinks.usedAt)),
        ),
      )
      .run();
    return res.changes === 1;
  }

  setAccessLinkGuest(tenantId: string, linkId: string, guestUserId: string): boolean {
    const res = this.db
      .update(accessLinks)
      .set({ guestUserId })
      .where(and(eq(accessLinks.tenantId, tenantId), eq(accessLinks.id, linkId), isNull(accessLinks.guestUserId)))
      .run();
    return res.changes === 1;
  }

  listAccessLinks(tenantId: string, roomId: string, after: Keyset | undefined, limit: number): AccessLinkRecord[] {
    const position =
      after === undefined
        ? undefined
        : or(lt(accessLinks.createdAt, after.at), and(eq(accessLinks.createdAt, after.at), lt(accessLinks.id, after.id)));
    return this.db
      .select()
      .from(accessLinks)
      .where(and(eq(accessLinks.tenantId, tenantId), eq(accessLinks.roomId, roomId), position))
      .orderBy(desc(accessLinks.createdAt), desc(accessLinks.id))
      .limit(limit)
      .all();
  }

  revokeAccessLink(tenantId: string, linkId: string, now: number): boolean {
    const res = this.db
      .update(accessLinks)
      .set({ revokedAt: now })
      .where(and(eq(accessLinks.tenantId, tenantId), eq(accessLinks.id, linkId), isNull(accessLinks.revokedAt)))
      .run();
    return res.changes === 1;
  }

  insertGuestUser(guest: NewGuestUser): void {
    this.db
      .insert(users)
      .values({
        id: guest.id,
        tenantId: guest.tenantId,
        kind: "guest",
        username: guest.username,
        // "" is "not given": kept as NULL like other users without one.
        externalUserId: guest.externalUserId === "" ? null : guest.externalUserId,
        createdAt: guest.createdAt,
      })
      .run();
  }
}
