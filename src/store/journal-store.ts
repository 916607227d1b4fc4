import { sql, type SQL } from "drizzle-orm";
import type { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import type { Actor, AuditEntry, AuditInit, AuditQuery, EventInit, Journal, StoredEvent } from "../domain/journal.js";
import { EFFECTS_ONLY } from "../domain/events/pending-effects.js";
import { encodeEffects } from "../domain/feed/effects.js";
import type { FeedEvent } from "../domain/feed/ports.js";
import { insertChunks, valuesList } from "./batch-insert.js";
import { num, numOrNull, type Database, type Row } from "./database-port.js";

export type { AuditQuery } from "../domain/journal.js";

const AUDIT_COLUMNS = 11;

/** Audit log and events. */
export class SqlJournal implements Journal {
  constructor(private readonly db: Database) {}

  /**
   * Appends audit entries and events in one write transaction (the caller's,
   * when there is one). Audit rows go in multi-row INSERTs (a Create batch
   * writes a thousand); events one INSERT each with RETURNING id, since a
   * multi-row RETURNING need not come back in VALUES order on PostgreSQL
   * and each event must get its own id, in the order given.
   */
  record(audit: readonly AuditInit[], evs: readonly EventInit[]): Promise<StoredEvent[]> {
    if (audit.length === 0 && evs.length === 0) return Promise.resolve([]);
    return this.db.write(async () => {
      for (const chunk of insertChunks(audit, AUDIT_COLUMNS)) {
        await this.db.run(
          sql`insert into audit_log (tenant_id, at, actor, action, room_id, target_user_id, target, reason, detail, room_ids, target_user_ids) values ${valuesList(
            chunk,
            (a) =>
              sql`(${a.tenantId}, ${a.at}, ${a.actor}, ${a.action}, ${a.roomId ?? ""}, ${a.targetUserId ?? ""}, ${a.target ?? ""}, ${a.reason ?? ""}, ${JSON.stringify(a.detail ?? {})}, ${idList(a.roomIds)}, ${idList(a.targetUserIds)})`,
          )}`,
        );
      }
      const stored: StoredEvent[] = [];
      for (const e of evs) {
        const row = await this.db.get(
          sql`insert into events (tenant_id, type, room_id, user_id, actor, at, reason, token_id, message_id, role, until, space_id, invite_id, effects)
              values (${e.tenantId}, ${e.type}, ${e.roomId ?? ""}, ${e.userId ?? ""}, ${e.actor}, ${e.at}, ${e.reason ?? ""},
                      ${e.tokenId ?? ""}, ${e.messageId ?? ""}, ${e.role ?? ""}, ${e.until ?? null}, ${e.spaceId ?? ""}, ${e.inviteId ?? ""},
                      ${encodeEffects(e.effects)})
              returning id as "id"`,
        );
        if (row === undefined) throw new Error("events insert returned no id");
        stored.push({ ...e, id: num(row.id) });
      }
      return stored;
    });
  }

  /** Events after `afterId` for a tenant (and room), oldest first; effects-only events are not announced. */
  async eventsAfter(
    tenantId: string,
    roomId: string | undefined,
    afterId: number,
    limit: number,
  ): Promise<StoredEvent[]> {
    const room = roomId ? sql` and room_id = ${roomId}` : sql.empty();
    const rows = await this.db.all(
      sql`select id as "id", tenant_id as "tenantId", type as "type", room_id as "roomId", user_id as "userId", actor as "actor",
                 at as "at", reason as "reason", token_id as "tokenId", message_id as "messageId", role as "role", until as "until",
                 space_id as "spaceId", invite_id as "inviteId"
          from events where tenant_id = ${tenantId} and id > ${afterId}${room} and type <> ${EFFECTS_ONLY}
          order by id limit ${limit}`,
    );
    return rows.map(event);
  }

  /**
   * The change log as the feed reads it: events of every tenant after
   * `afterId`, in id order, with their stored effects text (decoded by the
   * feed). See FeedSource for why `id > afterId` skips nothing.
   */
  async feedEventsAfter(afterId: number, limit: number): Promise<FeedEvent[]> {
    const rows = await this.db.all(
      sql`select id as "id", tenant_id as "tenantId", type as "type", room_id as "roomId", user_id as "userId", actor as "actor",
                 at as "at", reason as "reason", token_id as "tokenId", message_id as "messageId", role as "role", until as "until",
                 space_id as "spaceId", invite_id as "inviteId", effects as "effects"
          from events where id > ${afterId} order by id limit ${limit}`,
    );
    return rows.map((r) => ({
      ...event(r),
      effects: r.effects === null || r.effects === undefined ? null : String(r.effects),
    }));
  }

  /** The highest event id stored, 0 when there is none. */
  async lastEventId(): Promise<number> {
    const row = await this.db.get(sql`select max(id) as "id" from events`);
    return row?.id === null || row?.id === undefined ? 0 : num(row.id);
  }

  /** One page of the audit log, newest first. */
  async listAudit(q: AuditQuery): Promise<AuditEntry[]> {
    const where: SQL[] = [sql`tenant_id = ${q.tenantId}`];
    if (q.roomId) where.push(oneOf(sql`room_id`, sql`room_ids`, q.roomId));
    if (q.userId) where.push(oneOf(sql`target_user_id`, sql`target_user_ids`, q.userId));
    if (q.action) where.push(sql`action = ${q.action}`);
    if (q.since !== undefined) where.push(sql`at >= ${q.since}`);
    if (q.until !== undefined) where.push(sql`at < ${q.until}`);
    if (q.beforeId !== undefined) where.push(sql`id < ${q.beforeId}`);
    const rows = await this.db.all(
      sql`select id as "id", tenant_id as "tenantId", at as "at", actor as "actor", action as "action", room_id as "roomId",
                 target_user_id as "targetUserId", target as "target", reason as "reason", detail as "detail"
          from audit_log where ${sql.join(where, sql` and `)} order by id desc limit ${q.limit}`,
    );
    return rows.map(
      (r): AuditEntry => ({
        id: num(r.id),
        tenantId: String(r.tenantId),
        at: num(r.at),
        actor: String(r.actor) as Actor,
        action: String(r.action),
        roomId: String(r.roomId),
        targetUserId: String(r.targetUserId),
        target: String(r.target),
        reason: String(r.reason),
        detail: JSON.parse(String(r.detail)) as Record<string, unknown>,
      }),
    );
  }
}

/** An entry's list of several rooms or users as stored: "\n"-delimited, a delimiter at both ends; "" for none. */
function idList(ids: readonly string[] | undefined): string {
  return ids === undefined || ids.length === 0 ? "" : `\n${ids.join("\n")}\n`;
}

/**
 * `column` is `id`, or `list` (see {@link idList}) names it. replace() is in
 * both dialects and, unlike SQLite's LIKE, case-sensitive in both.
 */
function oneOf(column: SQL, list: SQL, id: string): SQL {
  return sql`(${column} = ${id} or (${list} <> '' and length(replace(${list}, ${`\n${id}\n`}, '')) < length(${list})))`;
}

function event(r: Row): StoredEvent {
  return {
    id: num(r.id),
    tenantId: String(r.tenantId),
    type: num(r.type) as EventType,
    roomId: String(r.roomId),
    userId: String(r.userId),
    actor: String(r.actor) as Actor,
    at: num(r.at),
    reason: String(r.reason),
    tokenId: String(r.tokenId),
    messageId: String(r.messageId),
    role: String(r.role),
    until: numOrNull(r.until),
    spaceId: String(r.spaceId ?? ""),
    inviteId: String(r.inviteId ?? ""),
  };
}
