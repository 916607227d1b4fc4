import { sql } from "drizzle-orm";
import type { Builders, Referenced, TableDialect } from "./builders.js";

// Tenants and who acts in them: API keys, users, and the login rate limit.

/** A tenant is one company; every other row belongs to exactly one. */
export function tenantsTable<D extends TableDialect>(b: Builders<D>) {
  return b.table("tenants", {
    id: b.text("id").primaryKey(),
    name: b.text("name").notNull(),
    createdAt: b.ms("created_at").notNull(),
  });
}

/**
 * API keys: only a SHA-256 of the secret is kept. `id` is the public key id
 * that lists and revokes a key; lookups go by it, then compare the hash in
 * constant time.
 */
export function apiKeysTable<D extends TableDialect>(b: Builders<D>, tenants: Referenced) {
  return b.table(
    "api_keys",
    {
      id: b.text("id").primaryKey(),
      tenantId: b
        .text("tenant_id")
        .notNull()
        .references(() => tenants.id, { onDelete: "cascade" }),
      hash: b.bytes("hash").notNull(),
      label: b.text("label").notNull().default(""),
      createdAt: b.ms("created_at").notNull(),
      revokedAt: b.ms("revoked_at"),
    },
    (t) => [b.index("api_keys_tenant_idx").on(t.tenantId)],
  );
}

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
export function usersTable<D extends TableDialect>(b: Builders<D>, tenants: Referenced) {
  return b.table(
    "users",
    {
      id: b.text("id").primaryKey(),
      tenantId: b
        .text("tenant_id")
        .notNull()
        .references(() => tenants.id, { onDelete: "cascade" }),
      kind: b.text("kind", { enum: ["registered", "consumer", "guest", "deleted"] }).notNull(),
      username: b.text("username").notNull(),
      /** Case-insensitive key of `username`, set for registered users only (null for others). */
      usernameKey: b.text("username_key"),
      email: b.text("email"),
      /** scrypt: `scrypt$N$r$p$salt$hash` (base64url); null for users without a password. */
      passwordHash: b.text("password_hash"),
      phone: b.text("phone"),
      externalUserId: b.text("external_user_id"),
      uniqueUserIdentifier: b.text("unique_user_identifier"),
      profilePic: b.text("profile_pic"),
      meta: b.text("meta"),
      /** Moderates every room of the tenant (seed 003 moderator without a room). */
      tenantModerator: b.bool("tenant_moderator").notNull().default(false),
      /** When tenant-wide moderation stops by itself (seed 003 with an expiry); null while it lasts. */
      tenantModeratorExpiresAt: b.ms("tenant_moderator_expires_at"),
      createdAt: b.ms("created_at").notNull(),
    },
    // The predicates name no table, so they read the same in both dialects.
    (t) => [
      b.uniqueIndex("users_tenant_username_key_uq").on(t.tenantId, t.usernameKey).where(sql`kind = 'registered'`),
      b.uniqueIndex("users_tenant_email_uq").on(t.tenantId, t.email).where(sql`kind = 'registered'`),
      b.uniqueIndex("users_tenant_uui_uq").on(t.tenantId, t.uniqueUserIdentifier),
      // ListUsers pages a tenant's users newest first, and finds them by external id.
      b.index("users_tenant_created_idx").on(t.tenantId, t.createdAt, t.id),
      b.index("users_tenant_external_idx").on(t.tenantId, t.externalUserId),
      // Role expiry finds the soonest and the due tenant-wide moderators.
      b.index("users_tenant_moderator_expires_idx").on(t.tenantModeratorExpiresAt),
    ],
  );
}

/**
 * Shared rate limits that must hold across replicas (failed logins per
 * account): a token bucket per key, read and charged in one write
 * transaction. Tokens are kept in thousandths, as an integer.
 */
export function loginBucketsTable<D extends TableDialect>(b: Builders<D>) {
  return b.table("login_buckets", {
    key: b.text("key").primaryKey(),
    tokensMilli: b.ms("tokens_milli").notNull(),
    at: b.ms("at").notNull(),
  });
}

/**
 * End-user sessions (issue 19): one row per Login (or seed 003 CreateUser).
 * The id is the family of every token the session issues: its access tokens
 * carry it as their token id, so ending a session is one token revocation
 * by that id (through the change feed, like any revocation). `expires_at`
 * moves with each refresh (idle bound); `ended_at` is set when it ends.
 */
export function userSessionsTable<D extends TableDialect>(b: Builders<D>, tenants: Referenced) {
  return b.table(
    "user_sessions",
    {
      id: b.text("id").primaryKey(),
      tenantId: b
        .text("tenant_id")
        .notNull()
        .references(() => tenants.id, { onDelete: "cascade" }),
      userId: b.text("user_id").notNull(),
      createdAt: b.ms("created_at").notNull(),
      lastUsedAt: b.ms("last_used_at").notNull(),
      clientAddress: b.text("client_address").notNull().default(""),
      userAgent: b.text("user_agent").notNull().default(""),
      expiresAt: b.ms("expires_at").notNull(),
      endedAt: b.ms("ended_at"),
    },
    (t) => [b.index("user_sessions_user_idx").on(t.tenantId, t.userId)],
  );
}

/**
 * Refresh tokens: only a SHA-256 of each is kept. A row stays after use
 * (`used_at` set) so that presenting it again is recognised as reuse.
 */
export function refreshTokensTable<D extends TableDialect>(b: Builders<D>) {
  return b.table(
    "refresh_tokens",
    {
      hash: b.bytes("hash").primaryKey(),
      sessionId: b.text("session_id").notNull(),
      issuedAt: b.ms("issued_at").notNull(),
      usedAt: b.ms("used_at"),
    },
    (t) => [b.index("refresh_tokens_session_idx").on(t.sessionId)],
  );
}
