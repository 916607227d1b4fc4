import { sql } from "drizzle-orm";
import type { JsonObject } from "@bufbuild/protobuf";
import { blob, index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

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

/** Rooms a tenant has named, by creation or by issuing a token for them. */
export const rooms = sqliteTable(
  "rooms",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
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
  (t) => [
    index("grants_tenant_room_idx").on(t.tenantId, t.roomId),
    index("grants_tenant_user_idx").on(t.tenantId, t.userId),
    index("grants_expires_idx").on(t.expiresAt),
  ],
);
