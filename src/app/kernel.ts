import { EventEmitter, setMaxListeners } from "node:events";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Logger } from "pino";
import type { SiblingSync } from "../cluster/sibling-sync.js";
import type { Config } from "../config/config.js";
import { EventBus } from "../domain/events/event-bus.js";
import type { JournalSink } from "../domain/events/record.js";
import type { Transact } from "../domain/journal.js";
import { Metrics } from "../observability/metrics.js";
import { createTracing, type Tracing } from "../observability/tracing.js";
import type { Database } from "../store/database-port.js";
import { startConsistency, type Consistency } from "./consistency.js";
import { startLiveState, type Live, type LiveSignals } from "./live.js";
import { openStore } from "./open-store.js";
import { openRepositories, type Repositories } from "./repositories.js";

/**
 * What every feature module is built on: the store and its one write
 * transaction, the journal and the change feed that applies it, the clock,
 * the logger, the configuration, and the signals that begin and end a drain.
 */
export interface Kernel {
  readonly config: Config;
  readonly log: Logger;
  readonly clock: () => number;
  readonly db: Database;
  readonly stores: Repositories;
  /** The one write transaction, timed (and traced when tracing is on). */
  readonly transact: Transact;
  /** Where a change is written down, and what a writer awaits after its commit (see Consistency.settle). */
  readonly sink: JournalSink;
  /** This replica's live state and change feed. */
  readonly live: Live;
  /** Applied effects other features act on; each module subscribes its own listener. */
  readonly signals: LiveSignals;
  readonly consistency: Consistency;
  /** What a call that answers from memory waits on (a caller's min_event_id). */
  readonly fresh: { readonly feed: Live["feed"]; readonly waitMs: number };
  readonly metrics: Metrics;
  readonly tracing: Tracing | undefined;
  /** Aborted when draining begins: not ready any more, streams end with unavailable. */
  readonly shutdown: AbortController;
  /** Aborted when the drain is over: calls still running are cancelled. */
  readonly cutoff: AbortController;
  /** True while the store answers. */
  readonly storeAlive: () => Promise<boolean>;
  /** Stops the lease and the feed, closes the store and flushes traces. */
  close(): Promise<void>;
}

/** Test and cluster seams of {@link openKernel}. */
export interface KernelOptions {
  readonly clock?: () => number;
  /** Turns tracing on with this exporter (tests: an in-memory one), spans exported one by one. */
  readonly spanExporter?: SpanExporter;
  /** A cluster worker's link to its sibling workers (src/cluster/sibling-sync.ts). */
  readonly siblings?: SiblingSync;
}

/**
 * Opens the store (applying migrations), loads the live state and starts
 * the change feed and this replica's lease on it.
 */
export async function openKernel(config: Config, log: Logger, opts: KernelOptions = {}): Promise<Kernel> {
  const clock = opts.clock ?? Date.now;
  const metrics = new Metrics();
  const opened = await openStore(config, log, { onLockWait: (s) => metrics.observeLockWait(s) }).catch((err) => {
    metrics.stop();
    throw err;
  });
  const db = opened.db;
  const stores = openRepositories(db, clock);
  const tracing = createTracing(config, opts.spanExporter);
  const transact = timedTransact(db, metrics, tracing);
  await stores.users.backfillUsernameKeys();
  const signals: LiveSignals = new EventEmitter();
  const live = await loadLive(stores, signals, { pollMs: config.feedPollMs, clock, log });
  const stopListening = await opened.listen(() => live.feed.poke());
  // Writers answer only once the rest of the service applied their write (issue 16).
  const consistency = await startConsistency(stores.replicas, live, {
    leaseMs: config.replicaLeaseMs,
    waitMs: config.consistencyWaitMs,
    siblings: opts.siblings,
    log,
    signals,
  });
  const { shutdown, cutoff } = drainSignals();
  return {
    ...{ config, log, clock, db, stores, transact, live, signals, consistency, metrics, tracing, shutdown, cutoff },
    sink: { journal: stores.journal, feed: { catchUp: consistency.settle } },
    fresh: { feed: live.feed, waitMs: config.consistencyWaitMs },
    storeAlive: () => db.ping(),
    async close() {
      await consistency.close();
      live.feed.stop();
      await stopListening();
      await db.close();
      metrics.stop();
      await tracing?.shutdown();
    },
  };
}

/**
 * Every write, through every repository, is one Database.write: the lock
 * first. Each is timed, and traced as a child of its call when tracing is on.
 */
function timedTransact(db: Database, metrics: Metrics, tracing: Tracing | undefined): Transact {
  const timedWrite = <T>(fn: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    const done = () => metrics.observeTransaction((performance.now() - start) / 1000);
    return db.write(fn).finally(done);
  };
  return tracing ? (fn) => tracing.transaction(() => timedWrite(fn)) : timedWrite;
}

/**
 * Live state: loaded once here, then kept current by the change feed — this
 * replica's writes and every other replica's alike — so Verify and "my
 * permissions" never read the database.
 */
function loadLive(
  stores: Repositories,
  signals: LiveSignals,
  opts: { pollMs: number; clock: () => number; log: Logger },
): Promise<Live> {
  const { journal, moderation, accessFacts } = stores;
  return startLiveState(
    {
      feed: { eventsAfter: (a, n) => journal.feedEventsAfter(a, n), lastId: () => journal.lastEventId() },
      liveRevocations: (now) => moderation.liveRevocations(now),
      activeRestrictions: (now) => moderation.activeRestrictions(now),
      access: accessFacts,
    },
    { ...opts, signals, bus: new EventBus() },
  );
}

function drainSignals(): { shutdown: AbortController; cutoff: AbortController } {
  const shutdown = new AbortController();
  const cutoff = new AbortController();
  setMaxListeners(0, cutoff.signal);
  // connect links every in-flight call to this signal: more than 10
  // concurrent calls is normal, not a listener leak.
  setMaxListeners(0, shutdown.signal);
  return { shutdown, cutoff };
}
