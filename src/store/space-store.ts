import { sql, type SQL } from "drizzle-orm";
import { noteEffects } from "../domain/events/pending-effects.js";
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
import { bool, num, numOrNull, type Database, type Row } from "./database-port.js";

const ACCESS_LINK_COLUMNS = sql`id as "id", tenant_id as "tenantId", room_id as "roomId", username as "username", role as "role",
  external_user_id as "externalUserId", is_permanent as "isPermanent", expires_at as "expiresAt", created_by as "createdBy",
  created_at as "createdAt", guest_user_id as "guestUserId", use_count as "useCount", revoked_at as "revokedAt"`;

/** Spaces, rooms, invites and access links. */
export class SqlSpaceStore implements SpaceStore {
  /** `clock` decides whether a space role granted with an expiry still counts. */
  constructor(
    private readonly db: Database,
    private readonly clock: () => number = Date.now,
  ) {}

  async userExists(tenantId: string, userId: string): Promise<boolean> {
    // A deleted user (kept as a scrubbed row, see DeleteUser) no longer exists for any call.
    const row = await this.db.get(
      sql`select 1 as "one" from users where tenant_id = ${tenantId} and id = ${userId} and kind <> 'deleted'`,
    );
    return row !== undefined;
  }

  async findSpace(tenantId: string, spaceId: string): Promise<SpaceRecord | undefined> {
    const r = await this.db.get(
      sql`select id as "id", tenant_id as "tenantId", name as "name", is_public as "isPublic", owner_user_id as "ownerUserId"
          from spaces where tenant_id = ${tenantId} and id = ${spaceId}`,
    );
    if (r === undefined) return undefined;
    return {
      id: String(r.id),
      tenantId: String(r.tenantId),
      name: String(r.name),
      isPublic: bool(r.isPublic),
      ownerUserId: strOrNull(r.ownerUserId),
    };
  }

  insertSpace(space: SpaceRecord, createdAt: number): Promise<void> {
    // A space never exists without its owner's membership.
    return this.db.write(async () => {
      await this.db.run(
        sql`insert into spaces (id, tenant_id, name, is_public, owner_user_id, created_at)
            values (${space.id}, ${space.tenantId}, ${space.name}, ${space.isPublic}, ${space.ownerUserId}, ${createdAt})`,
      );
      // A space an API key made without an owner has no owner member.
      if (space.ownerUserId === null) return;
      await this.db.run(
        sql`insert into space_members (tenant_id, space_id, user_id, role, created_at)
            values (${space.tenantId}, ${space.id}, ${space.ownerUserId}, ${"role_space_owner"}, ${createdAt})`,
      );
      const { tenantId } = space;
      const owner = { scope: "space", scopeId: space.id, userId: space.ownerUserId, role: "role_space_owner" } as const;
      noteEffects(tenantId, { rolesSet: [{ tenantId, ...owner, expiresAt: null }] });
    });
  }

  async spaceRoleOf(tenantId: string, spaceId: string, userId: string): Promise<RoleName | undefined> {
    const row = await this.db.get(
      sql`select role as "role" from space_members where tenant_id = ${tenantId} and space_id = ${spaceId} and user_id = ${userId}
          and (expires_at is null or expires_at > ${this.clock()})`,
    );
    const role = row?.role;
    return typeof role === "string" && isRoleName(role) ? role : undefined;
  }

  async findRoom(tenantId: string, roomId: string): Promise<RoomRecord | undefined> {
    const r = await this.db.get(
      sql`select tenant_id as "tenantId", id as "id", space_id as "spaceId", name as "name", is_public as "isPublic", creator_user_id as "creatorUserId"
          from rooms where tenant_id = ${tenantId} and id = ${roomId}`,
    );
    if (r === undefined) return undefined;
    return {
      tenantId: String(r.tenantId),
      id: String(r.id),
      spaceId: strOrNull(r.spaceId),
      name: String(r.name),
      isPublic: bool(r.isPublic),
      creatorUserId: strOrNull(r.creatorUserId),
    };
  }

  async insertRoom(room: NewRoom): Promise<void> {
    await this.db.run(
      sql`insert into rooms (tenant_id, id, space_id, name, is_public, creator_user_id, created_at)
          values (${room.tenantId}, ${room.id}, ${room.spaceId}, ${room.name}, ${room.isPublic}, ${room.creatorUserId}, ${room.createdAt})`,
    );
    const { tenantId, spaceId, isPublic } = room;
    noteEffects(tenantId, { roomsCreated: [{ tenantId, roomId: room.id, spaceId, isPublic }] });
  }

  async insertInvite(invite: InviteRecord): Promise<void> {
    await this.db.run(
      sql`insert into invites (id, tenant_id, space_id, role, created_by, created_at, used_by, used_at, role_expires_at)
          values (${invite.id}, ${invite.tenantId}, ${invite.spaceId}, ${invite.role}, ${invite.createdBy}, ${invite.createdAt},
                  ${invite.usedBy}, ${invite.usedAt}, ${invite.roleExpiresAt ?? null})`,
    );
  }

  async findInvite(tenantId: string, inviteId: string): Promise<InviteRecord | undefined> {
    const r = await this.db.get(
      sql`select id as "id", tenant_id as "tenantId", space_id as "spaceId", role as "role", created_by as "createdBy",
                 created_at as "createdAt", used_by as "usedBy", used_at as "usedAt", revoked_at as "revokedAt",
                 role_expires_at as "roleExpiresAt"
          from invites where tenant_id = ${tenantId} and id = ${inviteId}`,
    );
    if (r === undefined) return undefined;
    return {
      id: String(r.id),
      tenantId: String(r.tenantId),
      spaceId: String(r.spaceId),
      role: String(r.role),
      createdBy: String(r.createdBy),
      createdAt: num(r.createdAt),
      usedBy: strOrNull(r.usedBy),
      usedAt: numOrNull(r.usedAt),
      revokedAt: numOrNull(r.revokedAt),
      // Only set when the invite has one (an invite without keeps its old shape).
      ...(r.roleExpiresAt === null || r.roleExpiresAt === undefined ? {} : { roleExpiresAt: num(r.roleExpiresAt) }),
    };
  }

  async claimInvite(tenantId: string, inviteId: string, userId: string, now: number): Promise<boolean> {
    // Conditional: only an unused, unrevoked invite is claimed; 0 rows
    // means someone (an activation or a revocation) was first.
    const changed = await this.db.run(
      sql`update invites set used_by = ${userId}, used_at = ${now}
          where tenant_id = ${tenantId} and id = ${inviteId} and used_at is null and revoked_at is null`,
    );
    return changed === 1;
  }

  async revokeInvite(tenantId: string, inviteId: string, now: number): Promise<boolean> {
    // The twin of claimInvite's condition: of a claim and a revocation, one wins.
    const changed = await this.db.run(
      sql`update invites set revoked_at = ${now} where tenant_id = ${tenantId} and id = ${inviteId} and used_at is null and revoked_at is null`,
    );
    return changed === 1;
  }

  async insertAccessLink(link: AccessLinkRecord): Promise<void> {
    await this.db.run(
      sql`insert into access_links (id, tenant_id, room_id, username, role, external_user_id, is_permanent, expires_at, created_by,
                                    created_at, guest_user_id, use_count, revoked_at)
          values (${link.id}, ${link.tenantId}, ${link.roomId}, ${link.username}, ${link.role}, ${link.externalUserId}, ${link.isPermanent},
                  ${link.expiresAt}, ${link.createdBy}, ${link.createdAt}, ${link.guestUserId}, ${link.useCount}, ${link.revokedAt})`,
    );
  }

  async findAccessLink(tenantId: string, linkId: string): Promise<AccessLinkRecord | undefined> {
    const r = await this.db.get(
      sql`select ${ACCESS_LINK_COLUMNS} from access_links where tenant_id = ${tenantId} and id = ${linkId}`,
    );
    return r === undefined ? undefined : accessLink(r);
  }

  async claimAccessLink(tenantId: string, linkId: string, now: number): Promise<boolean> {
    // A one-time link is claimed only while unused; a permanent one counts
    // every use and keeps the time of its first.
    const changed = await this.db.run(
      sql`update access_links set used_at = coalesce(used_at, ${now}), use_count = use_count + 1
          where tenant_id = ${tenantId} and id = ${linkId} and (is_permanent = ${true} or used_at is null)`,
    );
    return changed === 1;
  }

  async setAccessLinkGuest(tenantId: string, linkId: string, guestUserId: string): Promise<boolean> {
    const changed = await this.db.run(
      sql`update access_links set guest_user_id = ${guestUserId} where tenant_id = ${tenantId} and id = ${linkId} and guest_user_id is null`,
    );
    return changed === 1;
  }

  async listAccessLinks(
    tenantId: string,
    roomId: string,
    after: Keyset | undefined,
    limit: number,
  ): Promise<AccessLinkRecord[]> {
    // Keyset paging, newest first: strictly after (at, id) in that order.
    const position: SQL =
      after === undefined
        ? sql.empty()
        : sql` and (created_at < ${after.at} or (created_at = ${after.at} and id < ${after.id}))`;
    const rows = await this.db.all(
      sql`select ${ACCESS_LINK_COLUMNS} from access_links where tenant_id = ${tenantId} and room_id = ${roomId}${position}
          order by created_at desc, id desc limit ${limit}`,
    );
    return rows.map(accessLink);
  }

  async revokeAccessLink(tenantId: string, linkId: string, now: number): Promise<boolean> {
    const changed = await this.db.run(
      sql`update access_links set revoked_at = ${now} where tenant_id = ${tenantId} and id = ${linkId} and revoked_at is null`,
    );
    return changed === 1;
  }

  async insertGuestUser(guest: NewGuestUser): Promise<void> {
    // "" is "not given": kept as NULL like other users without one.
    const externalUserId = guest.externalUserId === "" ? null : guest.externalUserId;
    await this.db.run(
      sql`insert into users (id, tenant_id, kind, username, external_user_id, tenant_moderator, created_at)
          values (${guest.id}, ${guest.tenantId}, ${"guest"}, ${guest.username}, ${externalUserId}, ${false}, ${guest.createdAt})`,
    );
  }
}

function accessLink(r: Row): AccessLinkRecord {
  return {
    id: String(r.id),
    tenantId: String(r.tenantId),
    roomId: String(r.roomId),
    username: String(r.username),
    role: linkRole(r.role),
    externalUserId: String(r.externalUserId),
    isPermanent: bool(r.isPermanent),
    expiresAt: num(r.expiresAt),
    createdBy: String(r.createdBy),
    createdAt: num(r.createdAt),
    guestUserId: strOrNull(r.guestUserId),
    useCount: num(r.useCount),
    revokedAt: numOrNull(r.revokedAt),
  };
}

function linkRole(v: unknown): AccessLinkRecord["role"] {
  // A role outside the two is a corrupt row: refuse it rather than guess.
  if (v === "user" || v === "moderator") return v;
  throw new Error("access_links.role: unknown value");
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}
