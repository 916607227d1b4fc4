import { sql } from "drizzle-orm";
import type { JsonObject } from "@bufbuild/protobuf";
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Unix milliseconds, stored as an integer. */
const ms = (name: string) => integer(name, { mode: "number" });

/** A tenant is one company; every other row belongs to exactly one. */
export const tenants = sqliteTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: ms("created_at").notNull(),
});

/**
 * API keys: only a SHA-256 of the secret is kept. `id` is the public key id
 * that lists and revokes a key; lookups go by it, then compare the hash in
 * constant time.
 */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    hash: blob("hash", { mode: "buffer" }).notNull(),
    label: text("label").notNull().default(""),
    createdAt: ms("created_at").notNull(),
    revokedAt: ms("revoked_at"),
  },
  (t) => [index("api_keys_tenant_idx").on(t.tenantId)],
);

/**
 * Users of a tenant. `kind` tells how they came to be: registered (seed 001,
 * with a password), consumer (seed 003, created by a backend) or guest (an
 * access link). Usernames are unique among registered users only: guests and
 * consumer users carry display names. Uniqueness and login go by
 * `username_key`, the case-insensitive key of the username (see usernameKey
 * in src/domain/users/validation.ts); emails are stored lower-cased.
 * DeleteUser keeps the row, since rooms and spaces name their creator and
 * owner by it, but as kind `deleted` with every personal field cleared.
 */
export const users = sqliteTable(
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
    tenantModerator: integer("tenant_moderator", { mode: "boolean" }).notNull().default(false),
    createdAt: ms("created_at").notNull(),
  },
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
export const spaces = sqliteTable(
  "spaces",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    isPublic: integer("is_public", { mode: "boolean" }).notNull().default(false),
    /** The owner (role_space_owner); null for a space made by an API key without one. */
    ownerUserId: text("owner_user_id").references(() => users.id),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [index("spaces_tenant_idx").on(t.tenantId)],
);

/**
 * Rooms a tenant has named: created in a space, or first seen in a token
 * Create (then without space, name or creator).
 */
export const rooms = sqliteTable(
  "rooms",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    spaceId: text("space_id").references(() => spaces.id, { onDelete: "cascade" }),
    name: text("name").notNull().default(""),
    isPublic: integer("is_public", { mode: "boolean" }).notNull().default(false),
    creatorUserId: text("creator_user_id").references(() => users.id),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] }), index("rooms_space_idx").on(t.spaceId)],
);

/** A user's role in a space (owner, moderator, user). */
export const spaceMembers = sqliteTable(
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
export const roomMembers = sqliteTable(
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
export const invites = sqliteTable(
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
export const accessLinks = sqliteTable(
  "access_links",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    roomId: text("room_id").notNull(),
    username: text("username").notNull(),
    role: text("role", { enum: ["user", "moderator"] }).notNull(),
    externalUserId: text("external_user_id").notNull().default(""),
    isPermanent: integer("is_permanent", { mode: "boolean" }).notNull(),
    expiresAt: ms("expires_at").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: ms("created_at").notNull(),
    /** The guest user, created on first redemption. */
    guestUserId: text("guest_user_id"),
    usedAt: ms("used_at"),
    useCount: integer("use_count").notNull().default(0),
    /** Set when the link was revoked; a revoked link never redeems again. */
    revokedAt: ms("revoked_at"),
  },
  // ListAccessLinks pages a room's links newest first.
  (t) => [index("access_links_room_idx").on(t.tenantId, t.roomId, t.createdAt)],
);

/**
 * Grants: one row per issued room member token. The token itself is never
 * stored; its id, subject and expanded permissions are, for audit and
 * revocation.
 */
export const grants = sqliteTable(
  "grants",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    roomId: text("room_id").notNull(),
    /** Expanded permission numbers as a JSON array. */
    permissions: text("permissions", { mode: "json" }).$type<number[]>().notNull(),
    /** Metadata JSON object given at issue time. */
    metadata: text("metadata", { mode: "json" }).$type<JsonObject>().notNull().default(sql`'{}'`),
    issuedAt: ms("issued_at").notNull(),
    expiresAt: ms("expires_at").notNull(),
    /** The API key (public id) that issued the token. */
    issuedBy: text("issued_by").notNull(),
  },
  // Few indexes, on purpose: each one with random keys costs a page write per
  // row, and a 1,000-token Create must stay cheap as the table grows. Ids are
  // time-ordered, so the primary key and the expiry index only append. Each
  // has its queries (checked for issue 11): the member index serves
  // isMember, the member list and its facts (tenant, room[, user]) and the
  // tenant delete cascade; the expiry index the prune of expired grants.
  (t) => [index("grants_member_idx").on(t.tenantId, t.roomId, t.userId), index("grants_expires_idx").on(t.expiresAt)],
);

/** Live moderation restrictions (chat block, mute, room block) per member. */
export const restrictions = sqliteTable(
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

/**
 * Revocations: one token, all of a user's tokens (in a room), or all of a
 * room's, each up to `at`. Token revocations keep the token's expiry so they
 * can be pruned once the token could no longer verify anyway.
 */
export const revocations = sqliteTable(
  "revocations",
  {
    id: integer("id").primaryKey(),
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

/** Stored events: watchers replay from here after reconnecting. */
export const events = sqliteTable(
  "events",
  {
    // AUTOINCREMENT: watchers resume by id, so an id must never be reused,
    // not even after every event has been pruned.
    id: integer("id").primaryKey({ autoIncrement: true }),
    tenantId: text("tenant_id").notNull(),
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
export const auditLog = sqliteTable(
  "audit_log",
  {
    // Plain rowid, not AUTOINCREMENT: that updates sqlite_sequence on every
    // insert. Ids still only grow, since only the oldest rows are pruned.
    id: integer("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    at: ms("at").notNull(),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    roomId: text("room_id").notNull().default(""),
    targetUserId: text("target_user_id").notNull().default(""),
    target: text("target").notNull().default(""),
    reason: text("reason").notNull().default(""),
    detail: text("detail", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    /**
     * Every room and user of an entry that concerns several (a Create batch),
     * as "\n"-delimited lists with a delimiter at both ends ("" otherwise):
     * the room and user filters find the batch by any of them. Ids never hold
     * control characters (src/domain/ids.ts), so the delimiter is unambiguous.
     */
    roomIds: text("room_ids").notNull().default(""),
    targetUserIds: text("target_user_ids").notNull().default(""),
  },
  // One index (List reads a tenant's entries newest first): every Create
  // writes a row, so filters on room, user and action scan the tenant's
  // newest entries instead of paying an index each.
  (t) => [index("audit_tenant_idx").on(t.tenantId, t.id)],
);

/**
 * Shared rate limits that must hold across replicas (failed logins per
 * account): a token bucket per key, read and charged in one write
 * transaction. Tokens are kept in thousandths, as an integer.
 */
export const loginBuckets = sqliteTable("login_buckets", {
  key: text("key").primaryKey(),
  tokensMilli: ms("tokens_milli").notNull(),
  at: ms("at").notNull(),
});

/**
 * Webhook endpoints of a tenant. The signing secrets are sealed (AES-256-GCM,
 * src/domain/webhooks/secret-box.ts), never stored in clear; during a
 * rotation's grace period the previous secret signs too. `cursor` is the id
 * of the last event the endpoint's deliveries were enqueued up to.
 */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    /** JSON array of event type names; [] sends every type. */
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

/**
 * One event on its way to one endpoint. Sent in event order per endpoint:
 * only the endpoint's lowest unfinished delivery is ever claimed. A worker
 * claims it by setting `lease_owner`/`lease_until` in one write; an expired
 * lease (its worker stopped) makes it claimable again.
 */
export const webhookDeliveries = sqliteTable(
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

/**
 * The serving processes (every worker of every replica) and how far each
 * has applied the change feed: a removing write waits until every process
 * whose lease is live reports its event applied (src/domain/feed/lease.ts).
 * `renewed_at` is written before each confirmation's feed read, so a
 * process serving on a confirmation that predates an event always shows
 * a live row to that event's writer. Rows of processes gone for long are
 * pruned by the processes that remain.
 */
export const replicas = sqliteTable("replicas", {
  id: text("id").primaryKey(),
  /** The server (one primary and its workers) the process belongs to. */
  serverId: text("server_id").notNull(),
  appliedId: integer("applied_id", { mode: "number" }).notNull(),
  renewedAt: ms("renewed_at").notNull(),
  leaseMs: integer("lease_ms", { mode: "number" }).notNull(),
});
