import type { CallOptions, Client } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { expect, vi } from "vitest";
import { DeliveryStatus, type Service as Webhooks } from "../../gen/room/webhooks/private/v1/service_pb.js";
import { num, type Database } from "../../src/store/database-port.js";
import type { PostgresDatabase } from "../../src/store/pg/postgres-database.js";
import type { SqliteDatabase } from "../../src/store/sqlite-database.js";

// Awaitable probes on real state, for tests to wait on instead of sleeping:
// each reads what the server itself holds (a lock queue, a gauge), so a
// test that waits on one proves the state it needs was reached.

/**
 * Writers waiting for the write lock of `db` behind the one holding it: the
 * write calls of this process queued for it; on PostgreSQL, plus the
 * sessions whose advisory lock (the write lock) is not granted yet (another
 * replica's writer, or this process's first in line behind one).
 */
export async function writersWaiting(db: Database): Promise<number> {
  if (db.dialect === "sqlite") return (db as SqliteDatabase).waitingWriters;
  const queued = (db as PostgresDatabase).waitingWriters;
  const row = await db.get(
    sql`SELECT count(*) AS "n" FROM pg_locks
        WHERE locktype = 'advisory' AND NOT granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return queued + num(row?.["n"]);
}

/** One sample of a Prometheus metric in `text`, or undefined when absent. */
export function metricSample(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

/** A server's `roomgate_open_watchers` gauge, read from its `/metrics` (works for a process of its own). */
export async function openWatchers(baseUrl: string): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`);
  return metricSample(await res.text(), "roomgate_open_watchers") ?? 0;
}

/**
 * Waits until an endpoint has `count` deliveries and every one succeeded:
 * none pending, none claimed by a worker (a request in flight holds its
 * claim), so no further request for them can go out.
 */
export async function deliveriesSettled(
  hooks: Client<typeof Webhooks>,
  endpointId: string,
  count: number,
  opts: CallOptions,
): Promise<void> {
  await vi.waitFor(
    async () => {
      const statuses: DeliveryStatus[] = [];
      let pageToken = "";
      do {
        const page = await hooks.listDeliveries({ endpointId, pageSize: 100, pageToken }, opts);
        statuses.push(...page.deliveries.map((d) => d.status));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      expect(statuses).toEqual(Array.from({ length: count }, () => DeliveryStatus.SUCCEEDED));
    },
    { timeout: 20_000, interval: 20 },
  );
}
