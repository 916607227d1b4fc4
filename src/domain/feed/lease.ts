/**
 * What makes an acknowledged removing write hold on every process of the
 * service (issue 16): each serving process holds a lease on its in-memory
 * state, which it renews by confirming its change feed, and serves from
 * memory only while that lease runs; a removing write waits until every
 * process with a live lease has applied it, or until those that have not
 * can no longer serve (their lease, counted from before the feed read that
 * missed the write, has run out).
 *
 * Written by hand: the rule ties our change feed, our replica rows and our
 * monotonic clock together; no library models it.
 */

/** The store's record of the serving processes (table `replicas`). */
export interface ReplicaRegistry {
  /**
   * Upserts this process's row: `renewed_at` = the store's clock now,
   * `applied_id` = `appliedId`. Written BEFORE the feed read of a
   * confirmation, so any confirmation this process serves on shows a live
   * row to a writer that commits after that read. Resolves with the number
   * of live processes of other servers.
   */
  renew(id: string, serverId: string, appliedId: number, leaseMs: number): Promise<number>;
  /**
   * The processes of other servers whose lease is live (renewed within
   * their lease plus `marginMs`, on the store's clock) and that report an
   * applied id below `eventId`.
   */
  behind(serverId: string, eventId: number, marginMs: number): Promise<{ id: string; leaseMs: number }[]>;
  /** Records `appliedId` in this process's row at once (renewed_at moves up too: a later renewal only ever widens a writer's wait). */
  report(id: string, appliedId: number): Promise<void>;
  /** Removes this process's row (a clean stop); rows gone for `olderThanMs` are pruned too. */
  remove(id: string, olderThanMs: number): Promise<void>;
}

/** The part of the change feed a lease confirms. */
export interface LeasedFeed {
  readonly appliedId: number;
  catchUp(): Promise<number>;
  waitFor(eventId: number, timeoutMs: number): Promise<void>;
}

/** Where the lease reports trouble; a pino logger fits. */
export interface LeaseLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Everything a {@link FeedLease} works with. */
export interface FeedLeaseDeps {
  readonly feed: LeasedFeed;
  readonly registry: ReplicaRegistry;
  /** This process's row id, and its server's (workers of one server share it). */
  readonly id: string;
  readonly serverId: string;
  /** How long a confirmation lets this process serve from memory (ROOMGATE_REPLICA_LEASE_MS). */
  readonly leaseMs: number;
  readonly log: LeaseLog;
  /** Monotonic milliseconds; default performance.now (keeps ticking through SIGSTOP). */
  readonly now?: () => number;
}

/**
 * The refusal of a process that cannot show its memory is current: its
 * lease ran out and it could not confirm the feed in time. Answered as
 * `unavailable`: the caller retries, here or on another replica.
 */
export class StaleReplicaError extends Error {
  constructor(readonly reason: string) {
    super(`this replica cannot confirm it is up to date (${reason}); retry`);
    this.name = "StaleReplicaError";
  }
}

/** Renewals per lease: a renewal late by up to three quarters of a lease costs nothing. */
const RENEWALS_PER_LEASE = 4;

/**
 * One process's lease on its in-memory state. {@link check} is the gate in
 * front of every call that answers from memory: a comparison or two when
 * the lease runs (the usual case), else a confirmation first.
 */
export class FeedLease {
  /** Monotonic time at which the last completed confirmation began (its row renewal). */
  private confirmedAt = Number.NEGATIVE_INFINITY;
  /** Events this process must have applied before it answers (a sibling's write, see {@link require}). */
  private required = 0;
  private confirming: Promise<void> | undefined;
  private reporting: Promise<void> | undefined;
  private reportAgain = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Whether another server's process held a live lease at the last renewal. */
  private othersLive = true;
  private readonly now: () => number;

  constructor(private readonly deps: FeedLeaseDeps) {
    if (!(deps.leaseMs > 0)) throw new RangeError("leaseMs must be positive");
    this.now = deps.now ?? (() => performance.now());
  }

  /** Confirms once (the first lease), then renews it every quarter lease. */
  async start(): Promise<void> {
    await this.confirm();
    this.schedule();
  }

  /** Stops renewing and removes this process's row; the lease then simply runs out. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.confirming?.catch(() => undefined);
    await this.deps.registry.remove(this.deps.id, 3_600_000).catch(() => undefined);
  }

  /** Requires event `eventId` applied before the next answer (a sibling worker wrote it). */
  require(eventId: number): void {
    if (eventId > this.required) this.required = eventId;
  }

  /**
   * Undefined when this process may answer from memory now; otherwise a
   * wait that resolves once it may, or rejects with {@link StaleReplicaError}
   * after `waitMs`.
   */
  check(waitMs: number): Promise<void> | undefined {
    const { feed, leaseMs } = this.deps;
    if (feed.appliedId >= this.required && this.now() - this.confirmedAt < leaseMs) return undefined;
    return this.refresh(waitMs);
  }

  /**
   * Renews the row, then catches the feed up: from then on this process may
   * serve for one lease counted from before the renewal. Single-flight.
   */
  confirm(): Promise<void> {
    this.confirming ??= (async () => {
      const { feed, registry, id, serverId, leaseMs } = this.deps;
      const began = this.now();
      try {
        this.othersLive = (await registry.renew(id, serverId, feed.appliedId, leaseMs)) > 0;
        await feed.catchUp();
        if (began > this.confirmedAt) this.confirmedAt = began;
      } finally {
        this.confirming = undefined;
      }
    })();
    return this.confirming;
  }

  /**
   * Reports this process's applied id now (it applied a removing event a
   * writer elsewhere may be waiting on). Only writers of other servers read
   * it (a sibling worker is told over IPC), so with none live at the last
   * renewal it waits for the next one. Single-flight, with at most one more
   * queued: a report asked for during one in flight runs again after it, so
   * the row always ends at the latest applied id.
   */
  report(): void {
    if (this.stopped || !this.othersLive) return;
    if (this.reporting) {
      this.reportAgain = true;
      return;
    }
    const { registry, id, feed, log } = this.deps;
    this.reporting = registry
      .report(id, feed.appliedId)
      .catch((err: unknown) => log.warn({ err }, "replica lease: reporting the applied event failed"))
      .finally(() => {
        this.reporting = undefined;
        if (this.reportAgain) {
          this.reportAgain = false;
          this.report();
        }
      });
  }

  private async refresh(waitMs: number): Promise<void> {
    const deadline = this.now() + waitMs;
    const { feed } = this.deps;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StaleReplicaError(`no feed confirmation within ${waitMs} ms`)), waitMs);
    });
    try {
      // A confirmation already under way may have begun before a pause
      // (SIGSTOP, a long GC): it then leaves the lease run out, and another
      // one, begun now, is needed.
      while (this.now() - this.confirmedAt >= this.deps.leaseMs) await Promise.race([this.confirm(), timeout]);
      if (feed.appliedId < this.required)
        await Promise.race([feed.waitFor(this.required, Math.max(1, deadline - this.now())), timeout]);
    } catch (err) {
      if (err instanceof StaleReplicaError) throw err;
      throw new StaleReplicaError(err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.confirm()
        .catch((err: unknown) => this.deps.log.warn({ err }, "replica lease: renewal failed; retrying"))
        .finally(() => this.schedule());
    }, this.deps.leaseMs / RENEWALS_PER_LEASE);
    this.timer.unref();
  }
}
