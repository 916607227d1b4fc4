import type { StoredEvent } from "../journal.js";
import { decodeEffects, InvalidEffectsError } from "./effects.js";
import { type ChangeFeedDeps, FEED_BATCH, type FeedEvent, type FeedTimers } from "./ports.js";

export {
  type ChangeFeedDeps,
  FEED_BATCH,
  type FeedEvent,
  type FeedLog,
  type FeedSource,
  type FeedTimers,
} from "./ports.js";

/** While the source keeps failing, one log line per this many ms. */
const FAILURE_LOG_MS = 10_000;

/**
 * A waitFor that ran out of time before the feed applied the event (the
 * database is unreachable or far behind, or the id was never written).
 * The service answers `unavailable`: the caller may retry.
 */
export class FeedBehindError extends Error {
  constructor(
    readonly eventId: number,
    readonly appliedId: number,
  ) {
    super(`not yet up to date with event ${eventId} (at ${appliedId})`);
    this.name = "FeedBehindError";
  }
}

const nodeTimers: FeedTimers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface Waiter {
  readonly eventId: number;
  readonly resolve: () => void;
  readonly reject: (err: FeedBehindError) => void;
  timer?: unknown;
}

/**
 * Tails the stored events of all tenants and keeps this replica's live
 * state in step with them: for each event, in strict id order and exactly
 * once, it applies the event's effects, then publishes it. Every replica
 * runs one, so a write on any replica reaches every replica's indexes and
 * watchers in the same order.
 *
 * Runs are single-flight: at most one reads at a time, and at most one more
 * is queued behind it. A run first reads the highest stored id and then
 * applies batches until it has passed it, so a caller whose call came before
 * the run began (every caller of the queued run) returns only once every
 * event committed before its call is applied — however busy the log is.
 */
export class ChangeFeed {
  private applied = 0;
  private started = false;
  private stopped = false;
  /** The run reading now. */
  private running: Promise<number> | undefined;
  /** The run that begins when `running` ends; every new caller joins it. */
  private queued: Promise<number> | undefined;
  private pollTimer: unknown;
  private readonly waiters = new Set<Waiter>();
  private readonly timers: FeedTimers;
  private readonly batchSize: number;
  /** Failed runs in a row, and when the last failure was logged. */
  private failures = 0;
  private failureLoggedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: ChangeFeedDeps) {
    this.timers = deps.timers ?? nodeTimers;
    this.batchSize = deps.batchSize ?? FEED_BATCH;
    if (!(deps.pollMs > 0)) throw new RangeError("pollMs must be positive");
    if (!Number.isSafeInteger(this.batchSize) || this.batchSize < 1)
      throw new RangeError("batchSize must be a positive integer");
  }

  /**
   * Starts tailing after `fromId`, the event id the in-memory state was
   * loaded at. Read `fromId` before loading the tables (or in the same
   * snapshot): an event after it is then applied again, which is harmless
   * (effects are idempotent and applied in order), whereas reading it after
   * loading could skip one. Also arms the polling loop.
   */
  start(fromId: number): void {
    if (this.started) throw new Error("ChangeFeed already started");
    this.started = true;
    this.applied = fromId;
    this.schedulePoll();
  }

  /** The id of the last event applied and published. */
  get appliedId(): number {
    return this.applied;
  }

  /**
   * Applies and publishes every event committed before this call; resolves
   * with the applied id. Writers await it after their transaction commits,
   * before answering. Rejects with the source's error when it cannot read
   * (already logged; the polling loop retries).
   */
  catchUp(): Promise<number> {
    if (!this.started) return Promise.reject(new Error("ChangeFeed not started"));
    // The queued run has not read anything yet, so it covers this caller too.
    if (this.queued) return this.queued;
    const before = this.running;
    const run = (async () => {
      // Without a run in progress, wait one microtask anyway: callers in the
      // same tick then share this run instead of queueing another.
      await (before ? before.then(noop, noop) : Promise.resolve());
      // This run is the queued one (nothing replaces a queued run): it now runs.
      this.running = this.queued;
      this.queued = undefined;
      try {
        return await this.drain();
      } finally {
        this.running = undefined;
      }
    })();
    this.queued = run;
    return run;
  }

  /** Wakes the feed now (a PostgreSQL notification arrived); never throws. */
  poke(): void {
    if (!this.started || this.stopped) return;
    this.catchUp().catch(noop); // logged by the run
  }

  /**
   * Resolves once event `eventId` is applied here: at once when it already
   * is, else after catching up. Rejects with {@link FeedBehindError} after
   * `timeoutMs`, or at once when the feed is stopped. This is how a read
   * honours a consistency token written on another replica.
   */
  waitFor(eventId: number, timeoutMs: number): Promise<void> {
    if (eventId <= this.applied) return Promise.resolve();
    if (this.stopped) return Promise.reject(new FeedBehindError(eventId, this.applied));
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { eventId, resolve, reject };
      w.timer = this.timers.set(() => {
        this.waiters.delete(w);
        reject(new FeedBehindError(eventId, this.applied));
      }, timeoutMs);
      this.waiters.add(w);
      // A failed read is logged by the run; the poll retries until the timeout.
      this.catchUp().catch(noop);
    });
  }

  /**
   * Stops the polling loop and fails pending waitFor calls. A run in
   * progress finishes; catchUp still works (a writer finishing during
   * shutdown still sees its write applied).
   */
  stop(): void {
    this.stopped = true;
    if (this.pollTimer !== undefined) this.timers.clear(this.pollTimer);
    this.pollTimer = undefined;
    for (const w of this.waiters) {
      this.timers.clear(w.timer);
      w.reject(new FeedBehindError(w.eventId, this.applied));
    }
    this.waiters.clear();
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.pollTimer = this.timers.set(() => {
      this.pollTimer = undefined;
      // The next poll is armed when this one ends, so slow reads never pile up.
      this.catchUp()
        .catch(noop)
        .finally(() => this.schedulePoll());
    }, this.deps.pollMs);
  }

  /** One run: reads up to the highest id stored when it began. */
  private async drain(): Promise<number> {
    try {
      const target = await this.deps.source.lastId();
      while (this.applied < target) {
        const batch = await this.deps.source.eventsAfter(this.applied, this.batchSize);
        // Empty below the target: those events were pruned meanwhile.
        if (batch.length === 0) break;
        this.applyBatch(batch);
      }
    } catch (err) {
      this.failed(err);
      throw err;
    }
    if (this.failures > 0) {
      this.deps.log.info({ failures: this.failures, appliedId: this.applied }, "change feed reading again");
      this.failures = 0;
      this.failureLoggedAt = Number.NEGATIVE_INFINITY;
    }
    return this.applied;
  }

  /** Applies a batch in order, then publishes it, then releases its waiters. */
  private applyBatch(batch: readonly FeedEvent[]): void {
    const { apply, log } = this.deps;
    const fresh: StoredEvent[] = [];
    for (const e of batch) {
      if (e.id <= this.applied) {
        // Never apply or publish an event twice, whatever the source returns.
        log.warn(
          { eventId: e.id, appliedId: this.applied },
          "change feed source returned an event out of order; skipped",
        );
        continue;
      }
      if (e.effects !== null) {
        try {
          apply(decodeEffects(e.effects), withoutEffects(e));
        } catch (err) {
          // One bad event must not stop the replica from following the log:
          // its effects are skipped, the event itself is still published.
          if (err instanceof InvalidEffectsError) {
            log.error(
              { eventId: e.id, tenantId: e.tenantId, path: err.path, problem: err.message },
              "malformed stored effects; skipped",
            );
          } else {
            log.error({ eventId: e.id, tenantId: e.tenantId, err }, "applying effects failed; skipped");
          }
        }
      }
      this.applied = e.id;
      // Announced without the stored text: listeners see plain events.
      fresh.push(withoutEffects(e));
    }
    if (fresh.length > 0) {
      try {
        this.deps.publish(fresh);
      } catch (err) {
        log.error({ fromId: fresh[0]!.id, toId: this.applied, err }, "publishing events failed");
      }
    }
    for (const w of this.waiters) {
      if (w.eventId <= this.applied) {
        this.waiters.delete(w);
        this.timers.clear(w.timer);
        w.resolve();
      }
    }
  }

  /** Logs a failed read: the first of a streak, then one line per FAILURE_LOG_MS. */
  private failed(err: unknown): void {
    this.failures++;
    const now = (this.deps.clock ?? Date.now)();
    if (this.failures === 1 || now - this.failureLoggedAt >= FAILURE_LOG_MS) {
      this.failureLoggedAt = now;
      this.deps.log.error(
        { err, failures: this.failures, appliedId: this.applied },
        "change feed cannot read the events; retrying",
      );
    }
  }
}

function noop(): void {}

/** The event as announced: its effects are this replica's business, applied already. */
function withoutEffects(e: FeedEvent): StoredEvent {
  const { effects: _effects, ...event } = e;
  return event;
}
