import { and, count, inArray, isNotNull, lt, lte, type SQL } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "./db.js";
import { auditLog, events, grants, revocations } from "./schema.js";

/**
 * One kind of row that maintenance deletes: counted once up front (for
 * progress), then deleted a bounded batch at a time.
 */
export interface PruneTarget {
  /** What the rows are, for progress lines ("grants", "audit entries", …). */
  readonly name: string;
  /** Rows that match now. */
  count(): number;
  /** Deletes at most `limit` matching rows in one transaction; returns how many went. */
  deleteBatch(limit: number): number;
}

/** Called after every batch with the running total and the expected total. */
export type PruneProgress = (done: number, total: number) => void;

/**
 * Deletes rows that no longer matter, in batches so that each write
 * transaction (and the lock a running server waits on) stays short:
 *
 * - grants whose token has expired (`expires_at <= now`: Verify refuses it
 *   from that millisecond on);
 * - token revocations whose token has expired — start-up no longer loads
 *   them either (see `liveRevocations`). User and room watermarks have no
 *   expiry and are kept;
 * - optionally audit entries and events older than a cutoff.
 */
export class SqliteMaintenanceStore {
  constructor(private readonly db: Db) {}

  /** Grants of tokens that stopped verifying at or before `now`. */
  expiredGrants(now: number): PruneTarget {
    return this.target("grants", grants, grants.id, lte(grants.expiresAt, now));
  }

  /** Token revocations whose token has expired by `now`. */
  expiredTokenRevocations(now: number): PruneTarget {
    return this.target("token revocations", revocations, revocations.id, and(isNotNull(revocations.expiresAt), lte(revocations.expiresAt, now))!);
  }

  /** Audit entries written before `cutoff`. */
  auditBefore(cutoff: number): PruneTarget {
    return this.target("audit entries", auditLog, auditLog.id, lt(auditLog.at, cutoff));
  }

  /** Events recorded before `cutoff` (watchers can no longer replay them). */
  eventsBefore(cutoff: number): PruneTarget {
    return this.target("events", events, events.id, lt(events.at, cutoff));
  }

  private target(name: string, table: SQLiteTable, key: SQLiteColumn, where: SQL): PruneTarget {
    const db = this.db;
    return {
      name,
      count: () => db.select({ n: count() }).from(table).where(where).get()?.n ?? 0,
      // DELETE … WHERE key IN (SELECT key … LIMIT n): SQLite's DELETE has no
      // LIMIT unless compiled with it; the subquery walks the expiry index
      // (grants, revocations) or the id order (audit, events).
      deleteBatch: (limit) =>
        db.transaction(() => db.delete(table).where(inArray(key, db.select({ key }).from(table).where(where).limit(limit))).run().changes),
    };
  }
}

/**
 * Deletes everything `target` matches, `batchSize` rows per transaction,
 * reporting after each batch. Stops at the first batch that comes back
 * short, so rows that start to match meanwhile may be left for next time.
 *
 * @returns Rows deleted.
 */
export function pruneInBatches(target: PruneTarget, batchSize: number, onBatch: PruneProgress = () => undefined): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  let total = target.count();
  let done = 0;
  for (;;) {
    const n = target.deleteBatch(batchSize);
    done += n;
    if (done > total) total = done;
    if (n > 0) onBatch(done, total);
    if (n < batchSize) return done;
  }
}
