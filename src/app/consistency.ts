import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { SiblingSync } from "../cluster/sibling-sync.js";
import { FeedLease } from "../domain/feed/lease.js";
import { RemovalBarrier } from "../domain/feed/removal-barrier.js";
import type { Database } from "../store/database-port.js";
import { SqlReplicaRegistry } from "../store/replica-store.js";
import { readGate, type ReadGate } from "../server/freshness.js";
import type { Live } from "./live.js";

/** How this process keeps the service one view (issue 16). */
export interface Consistency {
  /** This process's lease on its memory. */
  readonly lease: FeedLease;
  /** The gate in front of every call that answers from memory. */
  readonly gate: ReadGate;
  /**
   * What writers await after their commit instead of the bare feed
   * catch-up: this process applied everything committed; every sibling
   * worker did too; and when something taking access away was applied,
   * every live replica of the other servers did (or lost its lease).
   */
  readonly settle: () => Promise<number>;
  /** Stops renewing the lease and removes this process's replica row. */
  close(): Promise<void>;
}

/** Options of {@link startConsistency}. */
export interface ConsistencyOptions {
  readonly leaseMs: number;
  readonly waitMs: number;
  /** The worker's link to its siblings; undefined for a single process. */
  readonly siblings?: SiblingSync;
  readonly log: Logger;
}

/**
 * Registers this process as a replica, takes its first lease (a
 * confirmation of the feed) and wires the sibling sync, the removal barrier
 * and the read gate together.
 */
export async function startConsistency(db: Database, live: Live, opts: ConsistencyOptions): Promise<Consistency> {
  const { feed } = live;
  const registry = new SqlReplicaRegistry(db);
  const id = randomUUID();
  // Workers of one server share the primary's id; a single process is its own server.
  const serverId = process.env["ROOMGATE_SERVER_ID"] || id;
  const lease = new FeedLease({ feed, registry, id, serverId, leaseMs: opts.leaseMs, log: opts.log });
  const barrier = new RemovalBarrier({ registry, serverId, log: opts.log });
  const siblings = opts.siblings;
  if (siblings) {
    // A sibling's write seen before this app existed is applied before it answers.
    lease.require(siblings.startFloor);
    siblings.attach((upTo) => {
      lease.require(upTo);
      return feed.waitFor(upTo, opts.leaseMs).catch(() => undefined);
    });
  }
  live.hooks.onRemovalApplied = () => lease.report();
  await lease.start();
  return {
    lease,
    gate: readGate(lease, feed, opts.waitMs),
    async settle() {
      const applied = await feed.catchUp();
      const removal = live.lastRemovalId();
      await Promise.all([siblings?.sync(applied), removal > 0 ? barrier.waitApplied(removal) : undefined]);
      return applied;
    },
    close: () => lease.stop(),
  };
}
