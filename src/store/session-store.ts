import { sql } from "drizzle-orm";
import type { NewSession, RefreshUse, SessionRecord, SessionStore } from "../domain/users/sessions.js";
import { num, numOrNull, type Database, type Row } from "./database-port.js";

/** End-user sessions and their refresh tokens (tables user_sessions, refresh_tokens). */
export class SqlSessionStore implements SessionStore {
  constructor(private readonly db: Database) {}

  async insertSession(s: NewSession): Promise<void> {
    await this.db.run(
      sql`insert into user_sessions (id, tenant_id, user_id, created_at, last_used_at, client_address, user_agent, expires_at)
          values (${s.id}, ${s.tenantId}, ${s.userId}, ${s.createdAt}, ${s.createdAt}, ${s.clientAddress}, ${s.userAgent}, ${s.expiresAt})`,
    );
  }

  async touchSession(id: string, at: number, expiresAt: number, clientAddress: string, userAgent: string) {
    await this.db.run(
      sql`update user_sessions set last_used_at = ${at}, expires_at = ${expiresAt},
          client_address = ${clientAddress}, user_agent = ${userAgent} where id = ${id}`,
    );
  }

  async findSession(id: string): Promise<SessionRecord | undefined> {
    const row = await this.db.get(sql`${SELECT} where id = ${id}`);
    return row === undefined ? undefined : session(row);
  }

  async liveSessions(tenantId: string, userId: string, now: number): Promise<SessionRecord[]> {
    const rows = await this.db.all(
      sql`${SELECT} where tenant_id = ${tenantId} and user_id = ${userId} and ended_at is null and expires_at > ${now}
          order by created_at desc, id limit 1000`,
    );
    return rows.map(session);
  }

  /**
   * Marks sessions ended and forgets their refresh tokens: an ended
   * session refuses every one of them anyway, so there is no reuse left to
   * detect.
   */
  async endSessions(ids: readonly string[], at: number): Promise<void> {
    for (const id of ids) {
      await this.db.run(sql`update user_sessions set ended_at = ${at} where id = ${id} and ended_at is null`);
      await this.db.run(sql`delete from refresh_tokens where session_id = ${id}`);
    }
  }

  async insertRefresh(hash: Buffer, sessionId: string, issuedAt: number): Promise<void> {
    await this.db.run(
      sql`insert into refresh_tokens (hash, session_id, issued_at) values (${hash}, ${sessionId}, ${issuedAt})`,
    );
  }

  /**
   * Marks a refresh token used. The conditional update is what decides
   * between two uses at once: only one finds `used_at` still null.
   */
  async useRefresh(hash: Buffer, at: number): Promise<RefreshUse | undefined> {
    const row = await this.db.get(
      sql`select session_id as "sessionId", issued_at as "issuedAt", used_at as "usedAt" from refresh_tokens where hash = ${hash}`,
    );
    if (row === undefined) return undefined;
    const base = { sessionId: String(row.sessionId), issuedAt: num(row.issuedAt) };
    if (numOrNull(row.usedAt) !== null) return { ...base, alreadyUsed: true };
    const changed = await this.db.run(
      sql`update refresh_tokens set used_at = ${at} where hash = ${hash} and used_at is null`,
    );
    return { ...base, alreadyUsed: changed === 0 };
  }

  async userActive(tenantId: string, userId: string): Promise<boolean> {
    const row = await this.db.get(
      sql`select 1 as "one" from users where tenant_id = ${tenantId} and id = ${userId} and kind <> 'deleted'`,
    );
    return row !== undefined;
  }
}

const SELECT = sql`select id as "id", tenant_id as "tenantId", user_id as "userId", created_at as "createdAt",
  last_used_at as "lastUsedAt", client_address as "clientAddress", user_agent as "userAgent",
  expires_at as "expiresAt", ended_at as "endedAt" from user_sessions`;

function session(r: Row): SessionRecord {
  return {
    id: String(r.id),
    tenantId: String(r.tenantId),
    userId: String(r.userId),
    createdAt: num(r.createdAt),
    lastUsedAt: num(r.lastUsedAt),
    clientAddress: String(r.clientAddress),
    userAgent: String(r.userAgent),
    expiresAt: num(r.expiresAt),
    endedAt: numOrNull(r.endedAt),
  };
}
