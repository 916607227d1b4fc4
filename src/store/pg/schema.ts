import { sql } from "drizzle-orm";
import type { JsonObject } from "@bufbuild/protobuf";
import {
  bigint,
  boolean,
  customType,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from "drizzle-orm/pg-core";

/**
 * The PostgreSQL twin of src/store/schema.ts: the same tables, columns,
 * nullability, defaults, keys and indexes (test/store/schema-equivalence.test.ts
 * holds the two together). Only the column types differ, by one rule:
 *
 * - SQLite `text` → `text`; JSON kept in text stays `text` (see {@link jsonText}).
 * - Unix-ms timestamps and row ids → `bigint` in number mode: ms outgrow int4
 *   in 1970 + 24 days; ids and ms both stay far below 2^53 (see connect.ts).
 * - Small codes and counts (`events.type`, `access_links.use_count`) → `integer`.
 * - SQLite `integer(..., { mode: "boolean" })` → `boolean`.
 * - SQLite `blob` → `bytea` (see {@link bytea}).
 * - SQLite `INTEGER PRIMARY KEY` (rowid, with or without AUTOINCREMENT) →
 *   `bigint GENERATED ALWAYS AS IDENTITY` (see {@link rowId}).
 */

/** Unix milliseconds, stored as int8 and read as a JS number. */
const ms = (name: string) => bigint(name, { mode: "number" });

/**
 * An id the database assigns, like SQLite's `INTEGER PRIMARY KEY`. An identity
 * sequence never hands out a value twice, even after every row was deleted,
 * which is what `events` (AUTOINCREMENT in SQLite: watchers resume by id) needs;
 * `audit_log` and `revocations` get the same, since a reused id is never
 * wanted. ALWAYS, not BY DEFAULT: nothing may insert an id of its own and so
 * put the sequence behind. Unlike SQLite, ids may *commit* out of order under
 * concurrent writers (a sequence value is taken at insert, visible at commit).
 */
const rowId = (name: string) => bigint(name, { mode: "number" }).primaryKey().generatedAlwaysAsIdentity();

/** `bytea` as a Node Buffer, the twin of SQLite's `blob({ mode: "buffer" })`; drizzle 0.45 has no bytea builder. */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => "bytea",
});

/**
 * JSON kept in a `text` column, the twin of SQLite's `text({ mode: "json" })`:
 * written with JSON.stringify and parsed on read, so the repositories see the
 * same values on both stores. Not `jsonb`: the stored text (and so what the
 * audit log shows) stays byte-for-byte what SQLite stores, and nothing queries
 * inside these values.
 */
const jsonText = customType<{ data: unknown; driverData: string }>({
  dataType: () => "text",
  toDriver: (value) => JSON.stringify(value),
  fromDriver: (value) => JSON.parse(value) as unknown,
});

/** A tenant is one company; every other row belongs to exactly one. */
export const tenants = pgTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: ms("created_at").notNull(),
});

/** API keys: only a SHA-256 of the secret is kept (see src/store/schema.ts). */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    hash: bytea("hash").notNull(),
    label: text("label").notNull().default(""),
    createdAt: ms("created_at").notNull(),
    revokedAt: ms("revoked_at"),
  },
  (t) => [index("api_keys_tenant_idx").on(t.tenantId)],
);

/** Users of a tenant: registered, consumer, guest or deleted (see src/store/schema.ts). */
export const users = pgTable(
  "users",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["registered", "consumer", "guest", "deleted"] }).notNull(),
    username: text("username").notNull(),
    /** Case-insensitive key of `username`, set for registered users only (null for others). */
    usernameKey: text("username_key"),
    email: text("email"),
    /** scrypt: `scrypt$N$r$p$salt$hash` (base64url); null for users without a password. */
    passwordHash: text("password_hash"),
    phone: text("phone"),
    externalUserId: text("external_user_id"),
    uniqueUserIdentifier: text("unique_user_identifier"),
    profilePic: text("profile_pic"),
    meta: text("meta"),
    /** Moderates every room of the tenant (seed 003 moderator without a room). */
    tenantModerator: boolean("tenant_moderator").notNull().default(false),
    createdAt: ms("created_at").notNull(),
  },
  // The predicates are written without a table prefix, as in SQLite, so both
  // schemas carry the same text (the equivalence test compares it).
  (t) => [
    uniqueIndex("users_tenant_username_key_uq").on(t.tenantId, t.usernameKey).where(sql`kind = 'registered'`),
    uniqueIndex("users_tenant_email_uq").on(t.tenantId, t.email).where(sql`kind = 'registered'`),
    uniqueIndex("users_tenant_uui_uq").on(t.tenantId, t.uniqueUserIdentifier),
    // ListUsers pages a tenant's users newest first, and finds them by external id.
    index("users_tenant_created_idx").on(t.tenantId, t.createdAt, t.id),
    index("users_tenant_external_idx").on(t.tenantId, t.externalUserId),
  ],
);

/** Spaces group rooms; the owner invites members. */
export const spaces = pgTable(
  "spaces",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    isPublic: boolean("is_public").notNull().default(false),
    /** The owner (role_space_owner); null for a space made by an API key without one. */
    ownerUserId: text("owner_user_id").references(() => users.id),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [index("spaces_tenant_idx").on(t.tenantId)],
);

/** Rooms a tenant has named: created in a space, or first seen in a token Create. */
export const rooms = pgTable(
  "rooms",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    spaceId: text("space_id").references(() => spaces.id, { onDelete: "cascade" }),
    name: text("name").notNull().default(""),
    isPublic: boolean("is_public").notNull().default(false),
    creatorUserId: text("creator_user_id").references(() => users.id),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] }), index("rooms_space_idx").on(t.spaceId)],
);

/** A user's role in a space (owner, moderator, user). */
export const spaceMembers = pgTable(
  "space_members",
  {
    tenantId: text("tenant_id").notNull(),
    spaceId: text("space_id")
      .notNull()
      .references(() => spaces.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.spaceId, t.userId] }), index("space_members_user_idx").on(t.tenantId, t.userId)],
);

/** A user's role in a room (see src/domain/roles.ts for the names). */
export const roomMembers = pgTable(
  "room_members",
  {
    tenantId: text("tenant_id").notNull(),
    roomId: text("room_id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role").notNull(),
    /** Who granted it: a user id or an API key id. */
    grantedBy: text("granted_by").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.roomId, t.userId] }),
    index("room_members_user_idx").on(t.tenantId, t.userId),
  ],
);

/** Single-use invites to a space. */
export const invites = pgTable(
  "invites",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    spaceId: text("space_id")
      .notNull()
      .references(() => spaces.id, { onDelete: "cascade" }),
    role: text("role").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: ms("created_at").notNull(),
    usedBy: text("used_by"),
    usedAt: ms("used_at"),
    /** Set when the invite was revoked unused; a revoked invite never activates. */
    revokedAt: ms("revoked_at"),
  },
  (t) => [index("invites_space_idx").on(t.spaceId)],
);

/** Access links for unregistered users (seed 001 generateAccess). */
export const accessLinks = pgTable(
  "access_links",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    roomId: text("room_id").notNull(),
    username: text("username").notNull(),
    role: text("role", { enum: ["user", "moderator"] }).notNull(),
    externalUserId: text("external_user_id").notNull().default(""),
    isPermanent: boolean("is_permanent").notNull(),
    expiresAt: ms("expires_at").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: ms("created_at").notNull(),
    /** The guest user, created on first redemption. */
    guestUserId: text("guest_user_id"),
    usedAt: ms("used_at"),
    // A count of redemptions: int4 is plenty, and sum()/arithmetic on it stays
    // int4/int8 (a JS number) rather than numeric (a string in node-postgres).
    useCount: integer("use_count").notNull().default(0),
    /** Set when the link was revoked; a revoked link never redeems again. */
    revokedAt: ms("revoked_at"),
  },
  // ListAccessLinks pages a room's links newest first.
  (t) => [index("access_links_room_idx").on(t.tenantId, t.roomId, t.createdAt)],
);

/** Grants: one row per issued room member token (the token itself is never stored). */
export const grants = pgTable(
  "grants",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    roomId: text("room_id").notNull(),
    /** Expanded permission numbers as a JSON array. */
    permissions: jsonText("permissions").$type<number[]>().notNull(),
    /** Metadata JSON object given at issue time. */
    metadata: jsonText("metadata").$type<JsonObject>().notNull().default(sql`'{}'`),
    issuedAt: ms("issued_at").notNull(),
    expiresAt: ms("expires_at").notNull(),
    /** The API key (public id) that issued the token. */
    issuedBy: text("issued_by").notNull(),
  },
  // Few indexes, on purpose (see src/store/schema.ts): a 1,000-token Create must stay cheap.
  (t) => [index("grants_member_idx").on(t.tenantId, t.roomId, t.userId), index("grants_expires_idx").on(t.expiresAt)],
);

/** Live moderation restrictions (chat block, mute, room block) per member. */
export const restrictions = pgTable(
  "restrictions",
  {
    tenantId: text("tenant_id").notNull(),
    roomId: text("room_id").notNull(),
    userId: text("user_id").notNull(),
    kind: text("kind", { enum: ["chat_block", "mute", "room_block"] }).notNull(),
    /** Lifts by itself at this time; null means until lifted. */
    until: ms("until"),
    createdBy: text("created_by").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.roomId, t.userId, t.kind] })],
);

/** Revocations: one token, all of a user's tokens (in a room), or all of a room's, each up to `at`. */
export const revocations = pgTable(
  "revocations",
  {
    id: rowId("id"),
    tenantId: text("tenant_id").notNull(),
    kind: text("kind", { enum: ["token", "user", "user_room", "room"] }).notNull(),
    tokenId: text("token_id"),
    userId: text("user_id"),
    roomId: text("room_id"),
    at: ms("at").notNull(),
    expiresAt: ms("expires_at"),
  },
  (t) => [index("revocations_expires_idx").on(t.expiresAt)],
);

/** Stored events: the change log every replica tails, and watchers replay from. */
export const events = pgTable(
  "events",
  {
    // Watchers resume by id, so an id is never reused (SQLite: AUTOINCREMENT).
    id: rowId("id"),
    tenantId: text("tenant_id").notNull(),
    // The EventType enum number of the protocol: small, so int4.
    type: integer("type").notNull(),
    roomId: text("room_id").notNull().default(""),
    userId: text("user_id").notNull().default(""),
    actor: text("actor").notNull(),
    at: ms("at").notNull(),
    reason: text("reason").notNull().default(""),
    tokenId: text("token_id").notNull().default(""),
    messageId: text("message_id").notNull().default(""),
    role: text("role").notNull().default(""),
    until: ms("until"),
    spaceId: text("space_id").notNull().default(""),
    inviteId: text("invite_id").notNull().default(""),
    /**
     * The change this event makes to every replica's live state (JSON of
     * LiveEffects, src/domain/feed/effects.ts), applied by each replica's
     * change feed; null when it changes none.
     */
    effects: text("effects"),
  },
  (t) => [index("events_tenant_room_idx").on(t.tenantId, t.roomId, t.id)],
);

/** The audit log: every issue, grant, revocation and moderation action. */
export const auditLog = pgTable(
  "audit_log",
  {
    id: rowId("id"),
    tenantId: text("tenant_id").notNull(),
    at: ms("at").notNull(),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    roomId: text("room_id").notNull().default(""),
    targetUserId: text("target_user_id").notNull().default(""),
    target: text("target").notNull().default(""),
    reason: text("reason").notNull().default(""),
    detail: jsonText("detail").$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    /**
     * Every room and user of an entry that concerns several (a Create batch),
     * as "\n"-delimited lists with a delimiter at both ends ("" otherwise):
     * the room and user filters find the batch by any of them. Ids never hold
     * control characters (src/domain/ids.ts), so the delimiter is unambiguous.
     */
    roomIds: text("room_ids").notNull().default(""),
    targetUserIds: text("target_user_ids").notNull().default(""),
  },
  // One index, on purpose (see src/store/schema.ts).
  (t) => [index("audit_tenant_idx").on(t.tenantId, t.id)],
);

/**
 * Shared rate limits that must hold across replicas (failed logins per
 * account): a token bucket per key, read and charged in one write
 * transaction. Tokens are kept in thousandths, as an integer.
 */
export const loginBuckets = pgTable("login_buckets", {
  key: text("key").primaryKey(),
  tokensMilli: ms("tokens_milli").notNull(),
  at: ms("at").notNull(),
});

/** Webhook endpoints of a tenant (see src/store/schema.ts). */
export const webhookEndpoints = pgTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    eventTypes: text("event_types").notNull().default("[]"),
    roomId: text("room_id").notNull().default(""),
    description: text("description").notNull().default(""),
    secret: text("secret").notNull(),
    previousSecret: text("previous_secret"),
    previousSecretUntil: ms("previous_secret_until"),
    disabledAt: ms("disabled_at"),
    disabledReason: text("disabled_reason").notNull().default(""),
    cursor: ms("cursor").notNull().default(0),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [index("webhook_endpoints_tenant_idx").on(t.tenantId, t.createdAt, t.id)],
);

/** One event on its way to one endpoint (see src/store/schema.ts). */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    tenantId: text("tenant_id").notNull(),
    eventId: ms("event_id").notNull(),
    eventType: integer("event_type").notNull(),
    status: text("status", { enum: ["pending", "delivering", "succeeded", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: ms("next_attempt_at").notNull(),
    firstAttemptAt: ms("first_attempt_at"),
    leaseOwner: text("lease_owner"),
    leaseUntil: ms("lease_until"),
    lastStatusCode: integer("last_status_code").notNull().default(0),
    lastError: text("last_error").notNull().default(""),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_endpoint_event_uq").on(t.endpointId, t.eventId),
    index("webhook_deliveries_status_idx").on(t.status, t.nextAttemptAt),
    // An endpoint's queue: is there an unfinished delivery before this one?
    index("webhook_deliveries_queue_idx").on(t.endpointId, t.status, t.eventId),
  ],
);

/** The serving processes and how far each applied the feed (see src/store/schema.ts). */
export const replicas = pgTable("replicas", {
  id: text("id").primaryKey(),
  serverId: text("server_id").notNull(),
  appliedId: bigint("applied_id", { mode: "number" }).notNull(),
  renewedAt: ms("renewed_at").notNull(),
  leaseMs: bigint("lease_ms", { mode: "number" }).notNull(),
});
