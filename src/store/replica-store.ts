import { sql, type SQL } from "drizzle-orm";
import type { ReplicaRegistry } from "../domain/feed/lease.js";
import { num, type Database } from "./database-port.js";

/**
 * {@link ReplicaRegistry} on the `replicas` table. Times are the store's
 * clock: PostgreSQL's `clock_timestamp()` (replicas on several machines
 * compare against one clock), SQLite's processes share one machine and so
 * Date.now. A renewal is its own short statement: on PostgreSQL outside the
 * write lock (a row per process, no other writer touches it), on SQLite in
 * a write of its own (one connection carries the process's transactions).
 * The applied id never moves back, whichever of a renewal and a report
 * lands last.
 */
export class SqlReplicaRegistry implements ReplicaRegistry {
  constructor(private readonly db: Database) {}

  async renew(id: string, serverId: string, appliedId: number, leaseMs: number): Promise<number> {
    const now = this.nowMs();
    await this.write(
      sql`insert into replicas (id, server_id, applied_id, renewed_at, lease_ms) values (${id}, ${serverId}, ${appliedId}, ${now}, ${leaseMs})
          on conflict (id) do update set renewed_at = excluded.renewed_at, lease_ms = excluded.lease_ms,
            applied_id = case when replicas.applied_id > excluded.applied_id then replicas.applied_id else excluded.applied_id end`,
    );
    const row = await this.db.get(
      sql`select count(*) as "n" from replicas where server_id <> ${serverId} and renewed_at + lease_ms + 1000 > ${this.nowMs()}`,
    );
    return num(row?.["n"] ?? 0);
  }

  async behind(serverId: string, eventId: number, marginMs: number): Promise<{ id: string; leaseMs: number }[]> {
    const rows = await this.db.all(
      sql`select id as "id", lease_ms as "leaseMs" from replicas
          where server_id <> ${serverId} and applied_id < ${eventId} and renewed_at + lease_ms + ${marginMs} > ${this.nowMs()}`,
    );
    return rows.map((r) => ({ id: String(r["id"]), leaseMs: num(r["leaseMs"]) }));
  }

  async report(id: string, appliedId: number): Promise<void> {
    await this.write(
      sql`update replicas set applied_id = ${appliedId}, renewed_at = ${this.nowMs()} where id = ${id} and applied_id < ${appliedId}`,
    );
  }

  async remove(id: string, olderThanMs: number): Promise<void> {
    await this.write(sql`delete from replicas where id = ${id} or renewed_at < ${this.nowMs()} - ${olderThanMs}`);
  }

  private nowMs(): SQL {
    return this.db.dialect === "postgres"
      ? sql`(extract(epoch from clock_timestamp()) * 1000)::bigint`
      : sql`${Date.now()}`;
  }

  private async write(q: SQL): Promise<void> {
    if (this.db.dialect === "postgres") await this.db.run(q);
    else await this.db.write(() => this.db.run(q));
  }
}
