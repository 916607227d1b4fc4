import { and, desc, eq, gt, gte, lt, sql, asc, type SQL } from "drizzle-orm";
import type { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import type { Actor, AuditEntry, AuditInit, EventInit, Journal, StoredEvent } from "../domain/journal.js";
import type { Db } from "./db.js";
import { fastStatement } from "./fast-insert.js";
import { auditLog, events } from "./schema.js";

/** Filters for listing the audit log; `beforeId` is the page cursor. */
export interface AuditQuery {
  readonly tenantId: string;
  readonly roomId?: string;
  readonly userId?: string;
  readonly action?: string;
  readonly since?: number;
  readonly until?: number;
  readonly beforeId?: number;
  readonly limit: number;
}

/** Audit log and events in SQLite. */
export class SqliteJournal implements Journal {
  private readonly insertAudit: (values: Readonly<Record<string, unknown>>) => void;
  private readonly insertEvent;

  constructor(private readonly db: Db) {
    this.insertAudit = fastStatement(
      db,
      db
      .insert(auditLog)
      .values({
        tenantId: sql.placeholder("tenantId"),
        at: sql.placeholder("at"),
        actor: sql.placeholder("actor"),
        action: sql.placeholder("action"),
        roomId: sql.placeholder("roomId"),
        targetUserId: sql.placeholder("targetUserId"),
        target: sql.placeholder("target"),
        reason: sql.placeholder("reason"),
        detail: sql.placeholder("detail"),
      }),
    );
    this.insertEvent = db
      .insert(events)
      .values({
        tenantId: sql.placeholder("tenantId"),
        type: sql.placeholder("type"),
        roomId: sql.placeholder("roomId"),
        userId: sql.placeholder("userId"),
        actor: sql.placeholder("actor"),
        at: sql.placeholder("at"),
        reason: sql.placeholder("reason"),
        tokenId: sql.placeholder("tokenId"),
        messageId: sql.placeholder("messageId"),
        role: sql.placeholder("role"),
        until: sql.placeholder("until"),
      })
      .returning({ id: events.id })
      .prepare();
  }

  record(audit: readonly AuditInit[], evs: readonly EventInit[]): StoredEvent[] {
    for (const a of audit) {
      this.insertAudit({
        tenantId: a.tenantId,
        at: a.at,
        actor: a.actor,
        action: a.action,
        roomId: a.roomId ?? "",
        targetUserId: a.targetUserId ?? "",
        target: a.target ?? "",
        reason: a.reason ?? "",
        detail: JSON.stringify(a.detail ?? {}),
      });
    }
    return evs.map((e) => {
      const row = this.insertEvent.get({
        tenantId: e.tenantId,
        type: e.type,
        roomId: e.roomId ?? "",
        userId: e.userId ?? "",
        actor: e.actor,
        at: e.at,
        reason: e.reason ?? "",
        tokenId: e.tokenId ?? "",
        messageId: e.messageId ?? "",
        role: e.role ?? "",
        until: e.until ?? null,
      });
      return { ...e, id: row!.id };
    });
  }

  /** Events after `afterId` for a tenant (and room), oldest first. */
  eventsAfter(tenantId: string, roomId: string | undefined, afterId: number, limit: number): StoredEvent[] {
    const where = [eq(events.tenantId, tenantId), gt(events.id, afterId)];
    if (roomId) where.push(eq(events.roomId, roomId));
    return this.db
      .select()
      .from(events)
      .where(and(...where))
      .orderBy(asc(events.id))
      .limit(limit)
      .all()
      .map((r) => ({ ...r, type: r.type as EventType, actor: r.actor as Actor }));
  }

  /** One page of the audit log, newest first. */
  listAudit(q: AuditQuery): AuditEntry[] {
    const where: SQL[] = [eq(auditLog.tenantId, q.tenantId)];
    if (q.roomId) where.push(eq(auditLog.roomId, q.roomId));
    if (q.userId) where.push(eq(auditLog.targetUserId, q.userId));
    if (q.action) where.push(eq(auditLog.action, q.action));
    if (q.since !== undefined) where.push(gte(auditLog.at, q.since));
    if (q.until !== undefined) where.push(lt(auditLog.at, q.until));
    if (q.beforeId !== undefined) where.push(lt(auditLog.id, q.beforeId));
    return this.db
      .select()
      .from(auditLog)
      .where(and(...where))
      .orderBy(desc(auditLog.id))
      .limit(q.limit)
      .all()
      .map((r) => ({ ...r, actor: r.actor as Actor }));
  }
}
