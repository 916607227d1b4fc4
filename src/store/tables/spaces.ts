import type { Builders, Referenced, TableDialect } from "./builders.js";

// Spaces and rooms, who belongs to them, and the ways in: invites and access links.

/** Spaces group rooms; the owner invites members. */
export function spacesTable<D extends TableDialect>(b: Builders<D>, tenants: Referenced, users: Referenced) {
  return b.table(
    "spaces",
    {
      id: b.text("id").primaryKey(),
      tenantId: b
        .text("tenant_id")
        .notNull()
        .references(() => tenants.id, { onDelete: "cascade" }),
      name: b.text("name").notNull(),
      isPublic: b.bool("is_public").notNull().default(false),
      /** The owner (role_space_owner); null for a space made by an API key without one. */
      ownerUserId: b.text("owner_user_id").references(() => users.id),
      createdAt: b.ms("created_at").notNull(),
    },
    (t) => [b.index("spaces_tenant_idx").on(t.tenantId)],
  );
}

/** The tables the rooms table points at. */
interface RoomRefs {
  readonly tenants: Referenced;
  readonly spaces: Referenced;
  readonly users: Referenced;
}

/**
 * Rooms a tenant has named: created in a space, or first seen in a token
 * Create (then without space, name or creator).
 */
export function roomsTable<D extends TableDialect>(b: Builders<D>, refs: RoomRefs) {
  return b.table(
    "rooms",
    {
      tenantId: b
        .text("tenant_id")
        .notNull()
        .references(() => refs.tenants.id, { onDelete: "cascade" }),
      id: b.text("id").notNull(),
      spaceId: b.text("space_id").references(() => refs.spaces.id, { onDelete: "cascade" }),
      name: b.text("name").notNull().default(""),
      isPublic: b.bool("is_public").notNull().default(false),
      creatorUserId: b.text("creator_user_id").references(() => refs.users.id),
      createdAt: b.ms("created_at").notNull(),
    },
    (t) => [b.primaryKey({ columns: [t.tenantId, t.id] }), b.index("rooms_space_idx").on(t.spaceId)],
  );
}

/** A user's role in a space (owner, moderator, user). */
export function spaceMembersTable<D extends TableDialect>(b: Builders<D>, spaces: Referenced, users: Referenced) {
  return b.table(
    "space_members",
    {
      tenantId: b.text("tenant_id").notNull(),
      spaceId: b
        .text("space_id")
        .notNull()
        .references(() => spaces.id, { onDelete: "cascade" }),
      userId: b
        .text("user_id")
        .notNull()
        .references(() => users.id, { onDelete: "cascade" }),
      role: b.text("role").notNull(),
      createdAt: b.ms("created_at").notNull(),
      /** When the role stops counting by itself (an invite with an expiry); null while it lasts. */
      expiresAt: b.ms("expires_at"),
    },
    (t) => [
      b.primaryKey({ columns: [t.spaceId, t.userId] }),
      b.index("space_members_user_idx").on(t.tenantId, t.userId),
      // Role expiry finds the soonest and the due ones.
      b.index("space_members_expires_idx").on(t.expiresAt),
    ],
  );
}

/** A user's role in a room (see src/domain/roles.ts for the names). */
export function roomMembersTable<D extends TableDialect>(b: Builders<D>, users: Referenced) {
  return b.table(
    "room_members",
    {
      tenantId: b.text("tenant_id").notNull(),
      roomId: b.text("room_id").notNull(),
      userId: b
        .text("user_id")
        .notNull()
        .references(() => users.id, { onDelete: "cascade" }),
      role: b.text("role").notNull(),
      /** Who granted it: a user id or an API key id. */
      grantedBy: b.text("granted_by").notNull(),
      createdAt: b.ms("created_at").notNull(),
      /** When the role stops counting by itself (GrantRole with an expiry); null while it lasts. */
      expiresAt: b.ms("expires_at"),
    },
    (t) => [
      b.primaryKey({ columns: [t.tenantId, t.roomId, t.userId] }),
      b.index("room_members_user_idx").on(t.tenantId, t.userId),
      // Role expiry finds the soonest and the due ones.
      b.index("room_members_expires_idx").on(t.expiresAt),
    ],
  );
}

/** Single-use invites to a space. */
export function invitesTable<D extends TableDialect>(b: Builders<D>, spaces: Referenced) {
  return b.table(
    "invites",
    {
      id: b.text("id").primaryKey(),
      tenantId: b.text("tenant_id").notNull(),
      spaceId: b
        .text("space_id")
        .notNull()
        .references(() => spaces.id, { onDelete: "cascade" }),
      role: b.text("role").notNull(),
      createdBy: b.text("created_by").notNull(),
      createdAt: b.ms("created_at").notNull(),
      usedBy: b.text("used_by"),
      usedAt: b.ms("used_at"),
      /** Set when the invite was revoked unused; a revoked invite never activates. */
      revokedAt: b.ms("revoked_at"),
      /** When the role the invite gives expires (the invite with it); null when it lasts. */
      roleExpiresAt: b.ms("role_expires_at"),
    },
    (t) => [b.index("invites_space_idx").on(t.spaceId)],
  );
}

/** Access links for unregistered users (seed 001 generateAccess). */
export function accessLinksTable<D extends TableDialect>(b: Builders<D>) {
  return b.table(
    "access_links",
    {
      id: b.text("id").primaryKey(),
      tenantId: b.text("tenant_id").notNull(),
      roomId: b.text("room_id").notNull(),
      username: b.text("username").notNull(),
      role: b.text("role", { enum: ["user", "moderator"] }).notNull(),
      externalUserId: b.text("external_user_id").notNull().default(""),
      isPermanent: b.bool("is_permanent").notNull(),
      expiresAt: b.ms("expires_at").notNull(),
      createdBy: b.text("created_by").notNull(),
      createdAt: b.ms("created_at").notNull(),
      /** The guest user, created on first redemption. */
      guestUserId: b.text("guest_user_id"),
      usedAt: b.ms("used_at"),
      // A count of redemptions: int4 on PostgreSQL is plenty, and sum() or
      // arithmetic on it stays a JS number there (numeric would be a string).
      useCount: b.int("use_count").notNull().default(0),
      /** Set when the link was revoked; a revoked link never redeems again. */
      revokedAt: b.ms("revoked_at"),
    },
    // ListAccessLinks pages a room's links newest first.
    (t) => [b.index("access_links_room_idx").on(t.tenantId, t.roomId, t.createdAt)],
  );
}
