import { sql } from "drizzle-orm";
import type { JsonObject } from "@bufbuild/protobuf";
import type { Builders, Referenced, TableDialect } from "./builders.js";

// What a member may do in a room right now: the tokens issued (grants), the
// tokens taken back (revocations) and the moderation that holds (restrictions).

/**
 * Grants: one row per issued room member token. The token itself is never
 * stored; its id, subject and expanded permissions are, for audit and
 * revocation.
 */
export function grantsTable<D extends TableDialect>(b: Builders<D>, tenants: Referenced) {
  return b.table(
    "grants",
    {
      id: b.text("id").primaryKey(),
      tenantId: b
        .text("tenant_id")
        .notNull()
        .references(() => tenants.id, { onDelete: "cascade" }),
      userId: b.text("user_id").notNull(),
      roomId: b.text("room_id").notNull(),
      /** Expanded permission numbers as a JSON array. */
      permissions: b.json("permissions").$type<number[]>().notNull(),
      /** Metadata JSON object given at issue time. */
      metadata: b.json("metadata").$type<JsonObject>().notNull().default(sql`'{}'`),
      issuedAt: b.ms("issued_at").notNull(),
      expiresAt: b.ms("expires_at").notNull(),
      /** The API key (public id) that issued the token. */
      issuedBy: b.text("issued_by").notNull(),
    },
    // Few indexes, on purpose: each one with random keys costs a page write per
    // row, and a 1,000-token Create must stay cheap as the table grows. Ids are
    // time-ordered, so the primary key and the expiry index only append. Each
    // has its queries (checked for issue 11): the member index serves
    // isMember, the member list and its facts (tenant, room[, user]) and the
    // tenant delete cascade; the expiry index the prune of expired grants.
    (t) => [
      b.index("grants_member_idx").on(t.tenantId, t.roomId, t.userId),
      b.index("grants_expires_idx").on(t.expiresAt),
    ],
  );
}

/** Live moderation restrictions (chat block, mute, room block) per member. */
export function restrictionsTable<D extends TableDialect>(b: Builders<D>) {
  return b.table(
    "restrictions",
    {
      tenantId: b.text("tenant_id").notNull(),
      roomId: b.text("room_id").notNull(),
      userId: b.text("user_id").notNull(),
      kind: b.text("kind", { enum: ["chat_block", "mute", "room_block"] }).notNull(),
      /** Lifts by itself at this time; null means until lifted. */
      until: b.ms("until"),
      createdBy: b.text("created_by").notNull(),
      createdAt: b.ms("created_at").notNull(),
    },
    (t) => [b.primaryKey({ columns: [t.tenantId, t.roomId, t.userId, t.kind] })],
  );
}

/**
 * Revocations: one token, all of a user's tokens (in a room), or all of a
 * room's, each up to `at`. Token revocations keep the token's expiry so they
 * can be pruned once the token could no longer verify anyway.
 */
export function revocationsTable<D extends TableDialect>(b: Builders<D>) {
  return b.table(
    "revocations",
    {
      id: b.rowId("id"),
      tenantId: b.text("tenant_id").notNull(),
      kind: b.text("kind", { enum: ["token", "user", "user_room", "room"] }).notNull(),
      tokenId: b.text("token_id"),
      userId: b.text("user_id"),
      roomId: b.text("room_id"),
      at: b.ms("at").notNull(),
      expiresAt: b.ms("expires_at"),
    },
    (t) => [b.index("revocations_expires_idx").on(t.expiresAt)],
  );
}
