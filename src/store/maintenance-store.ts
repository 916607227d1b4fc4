import { sql, type SQL } from "drizzle-orm";
import { num, type Database } from "./database-port.js";

/**
 * One kind of row that maintenance deletes: counted once up front (for
 * progress), then deleted a bounded batch at a time.
 */
export interface PruneTarget {
  /** What the rows are, for progress lines ("grants", "audit entries", …). */
  readonly name: string;
  /** Rows that match now. */
  count(): Promise<number>;
  /** Deletes at most `limit` matching rows in one write transaction; returns how many went. */
  deleteBatch(limit: number): Promise<number>;
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
 * - optionally audit entries, events and finished webhook deliveries older
 *   than a cutoff.
 */
export class SqlMaintenanceStore {
  constructor(private readonly db: Database) {}

  /** Grants of tokens that stopped verifying at or before `now`. */
  expiredGrants(now: number): PruneTarget {
    return this.target("grants", sql.raw("grants"), sql`expires_at <= ${now}`);
  }

  /** Token revocations whose token has expired by `now`. */
  expiredTokenRevocations(now: number): PruneTarget {
    return this.target(
      "token revocations",
      sql.raw("revocations"),
      sql`expires_at is not null and expires_at <= ${now}`,
    );
  }

  /** Audit entries written before `cutoff`. */
  auditBefore(cutoff: number): PruneTarget {
    return this.target("audit entries", sql.raw("audit_log"), sql`at < ${cutoff}`);
  }

  /** Events recorded before `cutoff` (watchers can no longer replay them). */
  eventsBefore(cutoff: number): PruneTarget {
    return this.target("events", sql.raw("events"), sql`at < ${cutoff}`);
  }

  /**
   * Webhook deliveries finished (succeeded or given up) before `cutoff`;
   * pending ones are kept whatever their age — they are the endpoint's queue.
   */
  finishedDeliveriesBefore(cutoff: number): PruneTarget {
    return this.target(
      "webhook deliveries",
      sql.raw("webhook_deliveries"),
      sql`status in ('succeeded', 'failed') and updated_at < ${cutoff}`,
    );
  }

  /** `table` is one of the constants above, never caller input. */
  private target(name: string, table: SQL, where: SQL): PruneTarget {
    const db = this.db;
    return {
      name,
      count: async () => num((await db.get(sql`select count(*) as "n" from ${table} where ${where}`))?.n ?? 0),
      // DELETE … WHERE id IN (SELECT id … LIMIT n): neither SQLite (unless
      // compiled with it) nor PostgreSQL has DELETE … LIMIT; the subquery
      // walks the expiry index (grants, revocations) or the id order (audit,
      // events). Each batch is its own write transaction, so a live server's
      // writers get the lock between batches.
      deleteBatch: (limit) =>
        db.write(() =>
          db.run(sql`delete from ${table} where id in (select id from ${table} where ${where} limit ${limit})`),
        ),
    };
  }
}

/** Shortest pause between two prune batches, in ms. */
export const MIN_PAUSE_MS = 10;

/**
 * Waits after a batch that held the write lock for `batchMs`. SQLite's lock
 * is not fair: a server's writer waiting in its busy handler polls every few
 * ms (up to every 100 ms), and a loop that begins its next transaction at
 * once would take the lock again before that writer wakes, starving it past
 * its busy timeout on a large prune. Pausing at least as long as the batch
 * took leaves the lock free half the time.
 */
export type BatchPause = (batchMs: number) => Promise<void>;

/** The default {@link BatchPause}: as long as the batch took, at least {@link MIN_PAUSE_MS}. */
export const pauseAsLongAsTheBatch: BatchPause = (batchMs) =>
  new Promise((resolve) => setTimeout(resolve, Math.max(MIN_PAUSE_MS, Math.ceil(batchMs))));

/**
 * Deletes everything `target` matches, `batchSize` rows per transaction
 * (each its own short write transaction), reporting after each batch and
 * pausing between batches so a live server's writers get the lock (see
 * {@link BatchPause}). Stops at the first batch that comes back short, so
 * rows that start to match meanwhile may be left for next time.
 *
 * @returns Rows deleted.
 */
export async function pruneInBatches(
  target: PruneTarget,
  batchSize: number,
  onBatch: PruneProgress = () => undefined,
  pause: BatchPause = pauseAsLongAsTheBatch,
): Promise<number> {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  let total = await target.count();
  let done = 0;
  for (;;) {
    const started = performance.now();
    const n = await target.deleteBatch(batchSize);
    const batchMs = performance.now() - started;
    done += n;
    if (done > total) total = done;
    if (n > 0) onBatch(done, total);
    if (n < batchSize) return done;
    await pause(batchMs);
  }
}
