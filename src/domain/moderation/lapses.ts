import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import type { EventBus } from "../events/event-bus.js";
import { journaled, type JournalSink, type Recorded } from "../events/record.js";
import type { StoredEvent, Transact } from "../journal.js";
import type { Restriction, RestrictionKind } from "./restrictions.js";

/** A restriction with an end time. */
export type TimedRestriction = Restriction & { readonly until: number };

/** The persistence lapses need; implemented in src/store (moderation store). */
export interface LapseStore {
  /** Timed restrictions that ended at or before `now`, soonest first, at most `limit`. */
  dueRestrictions(now: number, limit: number): Promise<TimedRestriction[]>;
  /** The soonest end of any timed restriction, or undefined. */
  nextRestrictionEnd(): Promise<number | undefined>;
  /** Deletes the restriction only if it still ends at `r.until`; false otherwise. */
  deleteLapsed(r: TimedRestriction): Promise<boolean>;
}

/**
 * Another kind of thing that lapses at a time (roles granted with an
 * expiry: ./lapses-roles.ts), run by the same timer and with the same
 * exactly-once rule as timed restrictions.
 */
export interface LapseSource<T = unknown> {
  /** Items due at or before `now`, soonest first, at most `limit`. */
  due(now: number, limit: number): Promise<readonly T[]>;
  /** The soonest end of any item, or undefined. */
  nextEnd(): Promise<number | undefined>;
  /**
   * In the write transaction: removes `item` only if it is unchanged since
   * it was read, and returns what to record; undefined when nothing lapsed
   * (changed meanwhile, or lapsed by another caller).
   */
  lapse(item: T): Promise<Recorded | undefined>;
}

/** Everything lapses work with, wired once in a feature module (src/app/modules/). */
export interface LapseDeps {
  readonly store: LapseStore;
  /** What else lapses on the same timer (role expiry). */
  readonly sources?: readonly LapseSource[];
  /** The one write transaction (the lock is taken up front). */
  readonly transact: Transact;
  /** Journal and change feed: a lapse reaches live state through the feed. */
  readonly sink: JournalSink;
  /** Where new timed restrictions are heard of (from any replica), to arm the timer. */
  readonly bus: EventBus;
  readonly clock: () => number;
  /** Told about a failed timer run (which is retried later); never thrown. */
  readonly onError?: (err: unknown) => void;
}

/** The actor of a lapse in the audit log and the event. */
export const LAPSE_ACTOR = "system";
/** The reason a lapse is recorded with. */
export const LAPSE_REASON = "lapsed";

/**
 * A lapse is recorded as the lifting action a moderator would have taken,
 * by actor "system" with reason "lapsed": watchers that already handle
 * UNMUTED / CHAT_UNBLOCKED / ROOM_UNBLOCKED need nothing new.
 */
const LIFTED: Readonly<Record<RestrictionKind, { event: EventType; action: string }>> = {
  mute: { event: EventType.UNMUTED, action: "moderation.chat_unmute" },
  chat_block: { event: EventType.CHAT_UNBLOCKED, action: "moderation.chat_unblock" },
  room_block: { event: EventType.ROOM_UNBLOCKED, action: "moderation.room_unblock" },
};

/** Due restrictions read per query. */
const BATCH = 500;
/** setTimeout's longest delay; a later end is reached in several waits. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Wait before retrying after a failed run; doubles per failure in a row, up to a minute. */
const RETRY_MS = 1_000;
const MAX_RETRY_MS = 60_000;

/**
 * Announces timed blocks and mutes when they lapse. Verify stops applying a
 * restriction at its end time on its own (the in-memory index compares
 * `until` with the clock); this writes the change down and tells watchers.
 *
 * Each lapse is one state change like any other: in one write transaction
 * the restriction row is deleted — only if it still ends at the time that
 * lapsed, so a restriction lifted or re-set meanwhile, or lapsed already by
 * another caller, produces nothing — and the audit entry and event are
 * written; then the index is updated and the event published. That makes
 * {@link runDue} exactly-once however often, and from however many
 * connections, it runs.
 *
 * The timer is one `setTimeout` to the soonest end, armed at start (after
 * sending the lapses that fell due while the server was down) and moved
 * earlier whenever an event announces a restriction ending sooner; a
 * restriction lifted or extended just makes it fire early and find nothing.
 */
export class RestrictionLapses {
  private timer: NodeJS.Timeout | undefined;
  /** The end time the timer is armed for. */
  private armedAt: number | undefined;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  /** Failed timer runs in a row, for the retry backoff. */
  private failures = 0;

  /** Every kind of lapse: timed restrictions first, then the deps' other sources. */
  private readonly sources: readonly LapseSource[];

  constructor(private readonly deps: LapseDeps) {
    this.sources = [restrictionSource(deps.store), ...(deps.sources ?? [])];
  }

  /**
   * Lapses every timed restriction ended at or before `now`; returns the
   * events written and published, soonest end first. Tests call it with a
   * fake clock's time instead of waiting for the timer.
   */
  async runDue(now: number = this.deps.clock()): Promise<StoredEvent[]> {
    const sent: StoredEvent[] = [];
    for (const source of this.sources) {
      for (;;) {
        const due = await source.due(now, BATCH);
        for (const item of due) sent.push(...(await this.lapse(source, item)));
        // Each row read was deleted (here or by another caller) or changed
        // its end, so the next read moves on.
        if (due.length < BATCH) break;
      }
    }
    return sent;
  }

  /** The soonest end of anything that lapses, or undefined. */
  private async nextEnd(): Promise<number | undefined> {
    const ends = (await Promise.all(this.sources.map((s) => s.nextEnd()))).filter((e) => e !== undefined);
    return ends.length === 0 ? undefined : Math.min(...ends);
  }

  /**
   * Sends the lapses already due, then (with `timer`) keeps a timer armed
   * until `signal` aborts. Without the timer, whoever drives the clock calls
   * {@link runDue}: a real timer cannot know when a fake clock moves.
   */
  async start(signal: AbortSignal, opts: { readonly timer: boolean }): Promise<void> {
    if (signal.aborted) return;
    await this.runDue();
    if (!opts.timer) return;
    this.unsubscribe = this.deps.bus.subscribeAll((e) => {
      // MUTED, CHAT_BLOCKED and ROOM_BLOCKED carry the end of what they set,
      // ROLE_GRANTED and MEMBER_JOINED the expiry of the role they gave.
      if (e.until !== undefined && e.until !== null) this.arm(e.until);
    });
    signal.addEventListener("abort", () => this.stop(), { once: true });
    this.arm(await this.nextEnd());
  }

  /** Clears the timer and stops listening; idempotent. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** The end time the timer is armed for, if it is armed. */
  get nextWake(): number | undefined {
    return this.armedAt;
  }

  /** One lapse in one write transaction; its events, or none when it lapsed elsewhere or changed. */
  private async lapse(source: LapseSource, item: unknown): Promise<StoredEvent[]> {
    const { events } = await journaled(
      this.deps.transact,
      this.deps.sink,
      async (record) => {
        const rec = await source.lapse(item);
        if (rec) await record(rec);
      },
      { withEvents: true },
    );
    return events;
  }
  /** Arms the timer for `at` unless it is already armed for that time or sooner. */
  private arm(at: number | undefined): void {
    if (at === undefined || this.stopped) return;
    if (this.timer !== undefined && this.armedAt !== undefined && this.armedAt <= at) return;
    clearTimeout(this.timer);
    this.armedAt = at;
    const delay = Math.min(Math.max(0, at - this.deps.clock()), MAX_TIMER_MS);
    // unref: a pending lapse must not keep the process alive.
    this.timer = setTimeout(() => void this.fire(), delay).unref();
  }

  private async fire(): Promise<void> {
    this.timer = undefined;
    this.armedAt = undefined;
    if (this.stopped) return;
    const now = this.deps.clock();
    try {
      await this.runDue(now);
      const next = await this.nextEnd();
      this.failures = 0;
      // Anything still due here failed to lapse: retry later, not in a loop.
      this.arm(next !== undefined && next <= now ? now + RETRY_MS : next);
    } catch (err) {
      this.deps.onError?.(err);
      this.failures++;
      this.arm(now + Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** Math.min(this.failures - 1, 6)));
    }
  }
}

/**
 * Timed blocks and mutes as a lapse source: the row is deleted only while it
 * still ends at `until` (not lifted, not re-set, not lapsed by another
 * replica meanwhile), and the lapse is recorded as the lift, at `until`
 * (even when written later, the server having been down).
 */
function restrictionSource(store: LapseStore): LapseSource<TimedRestriction> {
  return {
    due: (now, limit) => store.dueRestrictions(now, limit),
    nextEnd: () => store.nextRestrictionEnd(),
    async lapse(r) {
      if (!(await store.deleteLapsed(r))) return undefined;
      const lifted = LIFTED[r.kind];
      return {
        audit: [
          {
            tenantId: r.tenantId,
            at: r.until,
            actor: LAPSE_ACTOR,
            action: lifted.action,
            roomId: r.roomId,
            targetUserId: r.userId,
            reason: LAPSE_REASON,
            detail: { lapsed: true, until: r.until },
          },
        ],
        events: [
          {
            tenantId: r.tenantId,
            type: lifted.event,
            roomId: r.roomId,
            userId: r.userId,
            actor: LAPSE_ACTOR,
            at: r.until,
            reason: LAPSE_REASON,
            effects: {
              restrictionsLifted: [{ tenantId: r.tenantId, roomId: r.roomId, userId: r.userId, kind: r.kind }],
            },
          },
        ],
      };
    },
  };
}
