import type { StoredEvent } from "../journal.js";
import type { LiveEffects } from "./effects.js";

/**
 * One stored event as the feed reads it, with its stored `effects` text
 * (null: the event changes no live state). The text is decoded by the feed,
 * not the store, so one malformed value costs that event's effects rather
 * than stalling every read that returns it.
 */
export type FeedEvent = Omit<StoredEvent, "effects"> & { readonly effects: string | null };

/**
 * The change log: the events table of all tenants. Implemented by the store
 * (both dialects); must read the primary, never a lagging standby.
 *
 * Why reading `id > last` skips nothing: writers are serialized (SQLite's
 * write lock; on PostgreSQL each write transaction takes one
 * `pg_advisory_xact_lock` before it draws an id), so ids become visible in
 * increasing order and every id below a visible one is either visible too
 * or was burned by a rollback. A burned PostgreSQL id leaves a gap that is
 * never filled, which the feed simply reads past.
 */
export interface FeedSource {
  /** Events of every tenant with an id above `afterId`, in id order, at most `limit`. */
  eventsAfter(afterId: number, limit: number): Promise<FeedEvent[]>;
  /** The highest stored event id, 0 when there is none. */
  lastId(): Promise<number>;
}

/** Where the feed reports trouble; a pino logger fits. */
export interface FeedLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Timer functions, injectable so tests can see what is pending. */
export interface FeedTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** Everything a ChangeFeed works with. */
export interface ChangeFeedDeps {
  readonly source: FeedSource;
  /** Applies one event's effects to the in-memory indexes; must be idempotent. */
  readonly apply: (effects: LiveEffects, event: StoredEvent) => void;
  /** Announces applied events, in id order (the EventBus). */
  readonly publish: (events: readonly StoredEvent[]) => void;
  /** Polling period: the fallback when no notification wakes the feed. */
  readonly pollMs: number;
  /** Events read per query; default {@link FEED_BATCH}. */
  readonly batchSize?: number;
  readonly log: FeedLog;
  /** Default: Node's timers, unref'd (a pending poll never keeps the process alive). */
  readonly timers?: FeedTimers;
  /** For spacing repeated failure logs; default Date.now. */
  readonly clock?: () => number;
}

/** Default events read per query. */
export const FEED_BATCH = 500;
