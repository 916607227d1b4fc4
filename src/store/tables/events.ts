import { sql } from "drizzle-orm";
import type { Builders, TableDialect } from "./builders.js";

// What happened: the events every replica's change feed applies and watchers
// replay, the audit log, and how far each serving process has applied the feed.

/** Stored events: the change log every replica tails, and watchers replay from. */
export function eventsTable<D extends TableDialect>(b: Builders<D>) {
  return b.table(
    "events",
    {
      // Watchers resume by id, so an id must never be reused, not even after
      // every event has been pruned.
      id: b.rowId("id", { neverReused: true }),
      tenantId: b.text("tenant_id").notNull(),
      // The EventType enum number of the protocol: small.
      type: b.int("type").notNull(),
      roomId: b.text("room_id").notNull().default(""),
      userId: b.text("user_id").notNull().default(""),
      actor: b.text("actor").notNull(),
      at: b.ms("at").notNull(),
      reason: b.text("reason").notNull().default(""),
      tokenId: b.text("token_id").notNull().default(""),
      messageId: b.text("message_id").notNull().default(""),
      role: b.text("role").notNull().default(""),
      until: b.ms("until"),
      spaceId: b.text("space_id").notNull().default(""),
      inviteId: b.text("invite_id").notNull().default(""),
      /**
       * The change this event makes to every replica's live state (JSON of
       * LiveEffects, src/domain/feed/effects.ts), applied by each replica's
       * change feed; null when it changes none.
       */
      effects: b.text("effects"),
    },
    (t) => [b.index("events_tenant_room_idx").on(t.tenantId, t.roomId, t.id)],
  );
}

/** The audit log: every issue, grant, revocation and moderation action. */
export function auditLogTable<D extends TableDialect>(b: Builders<D>) {
  return b.table(
    "audit_log",
    {
      // Ids only grow, since only the oldest rows are pruned: no need for
      // never-reused ids (in SQLite, AUTOINCREMENT would write
      // sqlite_sequence on every insert).
      id: b.rowId("id"),
      tenantId: b.text("tenant_id").notNull(),
      at: b.ms("at").notNull(),
      actor: b.text("actor").notNull(),
      action: b.text("action").notNull(),
      roomId: b.text("room_id").notNull().default(""),
      targetUserId: b.text("target_user_id").notNull().default(""),
      target: b.text("target").notNull().default(""),
      reason: b.text("reason").notNull().default(""),
      detail: b.json("detail").$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
      /**
       * Every room and user of an entry that concerns several (a Create batch),
       * as "\n"-delimited lists with a delimiter at both ends ("" otherwise):
       * the room and user filters find the batch by any of them. Ids never hold
       * control characters (src/domain/ids.ts), so the delimiter is unambiguous.
       */
      roomIds: b.text("room_ids").notNull().default(""),
      targetUserIds: b.text("target_user_ids").notNull().default(""),
    },
    // One index (List reads a tenant's entries newest first): every Create
    // writes a row, so filters on room, user and action scan the tenant's
    // newest entries instead of paying an index each.
    (t) => [b.index("audit_tenant_idx").on(t.tenantId, t.id)],
  );
}

/**
 * The serving processes (every worker of every replica) and how far each
 * has applied the change feed: a removing write waits until every process
 * whose lease is live reports its event applied (src/domain/feed/lease.ts).
 * `renewed_at` is written before each confirmation's feed read, so a
 * process serving on a confirmation that predates an event always shows
 * a live row to that event's writer. Rows of processes gone for long are
 * pruned by the processes that remain.
 */
export function replicasTable<D extends TableDialect>(b: Builders<D>) {
  return b.table("replicas", {
    id: b.text("id").primaryKey(),
    /** The server (one primary and its workers) the process belongs to. */
    serverId: b.text("server_id").notNull(),
    // An event id and a duration in ms: `ms` is the kind of integers that outgrow int4.
    appliedId: b.ms("applied_id").notNull(),
    renewedAt: b.ms("renewed_at").notNull(),
    leaseMs: b.ms("lease_ms").notNull(),
  });
}
