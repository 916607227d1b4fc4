import type { LeaseLog, ReplicaRegistry } from "./lease.js";

/** Everything a {@link RemovalBarrier} works with. */
export interface RemovalBarrierDeps {
  readonly registry: ReplicaRegistry;
  /** This process's server: its sibling workers are synced over IPC, not waited for here. */
  readonly serverId: string;
  /** On top of a replica's lease: clocks need only tick at about the same rate. */
  readonly marginMs?: number;
  /** How often the replica rows are read while waiting. */
  readonly pollMs?: number;
  readonly log: LeaseLog;
  /** Monotonic milliseconds; default performance.now. */
  readonly now?: () => number;
}

/** Default margin on top of a lease. */
export const LEASE_MARGIN_MS = 100;
const POLL_MS = 3;

/**
 * What a write that takes access away awaits after its commit, before it
 * answers: every process of the other servers whose lease is live reports
 * the write applied — or has had its lease run out since the commit, so
 * that it refuses to answer from memory (see FeedLease). A process's lease
 * counts from before the feed read that missed the write, and that read
 * came before the commit; so the wait is at most one lease (plus margin)
 * from the commit, whatever the others do: paused, cut off or killed.
 */
export class RemovalBarrier {
  /** The highest removing event every live replica acknowledged. */
  private acked = 0;
  private readonly now: () => number;
  private readonly marginMs: number;
  private readonly pollMs: number;

  constructor(private readonly deps: RemovalBarrierDeps) {
    this.now = deps.now ?? (() => performance.now());
    this.marginMs = deps.marginMs ?? LEASE_MARGIN_MS;
    this.pollMs = deps.pollMs ?? POLL_MS;
  }

  /** Resolves once every live replica of another server applied `eventId`, or can no longer serve without it. */
  async waitApplied(eventId: number): Promise<void> {
    if (eventId <= this.acked) return;
    const { registry, serverId, log } = this.deps;
    const start = this.now();
    for (;;) {
      const behind = await registry.behind(serverId, eventId, this.marginMs);
      if (behind.length === 0) break;
      const bound = Math.max(...behind.map((r) => r.leaseMs)) + this.marginMs;
      if (this.now() - start >= bound) {
        // Not an error: their leases ran out, so they refuse until they catch up.
        log.warn(
          { eventId, replicas: behind.map((r) => r.id) },
          "replicas did not confirm a removing write within their lease; they stop serving until they catch up",
        );
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    }
    if (eventId > this.acked) this.acked = eventId;
  }
}
