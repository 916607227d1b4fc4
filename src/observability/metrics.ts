import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { CallMetrics } from "./call-metrics.js";
import { EventLoopDelayMetric } from "./event-loop-delay.js";

/** The wire protocol of a call, as a metric label. */
export type Protocol = "connect" | "grpc" | "grpc-web" | "rest";

/** Live state the gauges read when scraped (set once the app is wired). */
export interface LiveSources {
  /** Revoked token ids held in memory. */
  revokedTokens(): number;
  /** Open Watch streams on this replica. */
  openWatchers(): number;
  /** Open permission Watch streams (room.permissions.v1) on this replica. */
  openPermissionStreams(): number;
  /** Events committed but not yet applied by this replica's change feed. */
  feedLag(): Promise<number>;
}

/**
 * The process's Prometheus metrics, on a registry of its own (not
 * prom-client's global one), so several apps in one process never clash.
 * Labels hold only fixed sets (protocol, code) and registered procedure
 * names — never user input.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly calls: CallMetrics;
  /** Lookups since the last scrape (see the counter's collect). */
  private readonly verifyLookups = { hit: 0, miss: 0 };
  private readonly transactions: Histogram;
  private readonly lockWait: Histogram;
  private readonly eventLoopDelay: EventLoopDelayMetric;
  private live: LiveSources | undefined;
  private renderer: (() => Promise<{ body: string; contentType: string }>) | undefined;

  constructor() {
    const registers = [this.registry];
    this.calls = new CallMetrics(this.registry);
    const lookups = this.verifyLookups;
    new Counter({
      name: "roomgate_verify_cache_lookups_total",
      help: "Room token verifications by whether the opened token was cached (hit) or decrypted (miss)",
      labelNames: ["result"],
      registers,
      // Counted in plain numbers on the hot path (a labelled inc() hashes its labels), added here when scraped.
      collect() {
        for (const result of ["hit", "miss"] as const) {
          const n = lookups[result];
          if (n > 0) this.inc({ result }, n);
          lookups[result] = 0;
        }
      },
    });
    this.transactions = new Histogram({
      name: "roomgate_db_transaction_duration_seconds",
      help: "Write transactions, lock wait included",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.lockWait = new Histogram({
      name: "roomgate_db_write_lock_wait_seconds",
      help: "Time a write waited for the write lock: from the call to its transaction holding the lock (SQLite BEGIN IMMEDIATE done, PostgreSQL advisory lock granted)",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.eventLoopDelay = new EventLoopDelayMetric(this.registry);
    // Gauges read the live state only when scraped: nothing on the hot path.
    const self = this;
    new Gauge({
      name: "roomgate_revoked_tokens",
      help: "Revoked token ids held in the in-memory revocation index",
      registers,
      // Every worker holds the same index: across a cluster, one copy's size.
      aggregator: "max",
      collect() {
        if (self.live) this.set(self.live.revokedTokens());
      },
    });
    new Gauge({
      name: "roomgate_open_watchers",
      help: "Open WatchEvents streams on this replica",
      registers,
      collect() {
        if (self.live) this.set(self.live.openWatchers());
      },
    });
    new Gauge({
      name: "roomgate_open_permission_streams",
      help: "Open room.permissions.v1 Watch streams on this replica",
      registers,
      collect() {
        if (self.live) this.set(self.live.openPermissionStreams());
      },
    });
    new Gauge({
      name: "roomgate_feed_lag_events",
      help: "Events committed to the store but not yet applied by this replica's change feed",
      registers,
      // Across a cluster: the worker furthest behind.
      aggregator: "max",
      async collect() {
        if (self.live) this.set(Math.max(0, await self.live.feedLag()));
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Connects the gauges to the running app's live state. */
  watch(live: LiveSources): void {
    this.live = live;
  }

  /** Counts one answered call and its latency. */
  observeCall(procedure: string, protocol: Protocol, code: string, seconds: number): void {
    this.calls.observe(procedure, protocol, code, seconds);
  }

  /** Counts one verify-cache lookup. */
  observeVerifyCache(hit: boolean): void {
    this.verifyLookups[hit ? "hit" : "miss"]++;
  }

  /** Records one write transaction's duration. */
  observeTransaction(seconds: number): void {
    this.transactions.observe(seconds);
  }

  /** Records how long one write waited for the write lock. */
  observeLockWait(seconds: number): void {
    this.lockWait.observe(seconds);
  }

  /** Stops the event-loop delay monitor (the app is closing). */
  stop(): void {
    this.eventLoopDelay.stop();
  }

  /**
   * Renders through `fn` from now on: a cluster worker answers a scrape
   * with the whole cluster's numbers (see cluster/metrics.ts).
   */
  renderWith(fn: () => Promise<{ body: string; contentType: string }>): void {
    this.renderer = fn;
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ body: string; contentType: string }> {
    if (this.renderer) return await this.renderer();
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
