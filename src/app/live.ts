import type { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { EventBus } from "../domain/events/event-bus.js";
import { applyEffects, isRemovalEvent, takesAccessAway, type LiveState } from "../domain/feed/apply.js";
import { AccessIndex, type AccessFactSource } from "../domain/access/access-index.js";
import { ChangeFeed, type FeedSource } from "../domain/feed/change-feed.js";
import type { RevokedApiKey } from "../domain/feed/effects.js";
import { RestrictionIndex, type Restriction } from "../domain/moderation/restrictions.js";
import { RevocationIndex, type Revocation } from "../domain/tokens/revocations.js";

/** Where the live state is loaded from at start. */
export interface LiveStateSource {
  readonly feed: FeedSource;
  /** The ways into rooms, for Check (src/store/access-facts-store.ts). */
  readonly access: AccessFactSource;
  liveRevocations(now: number): Promise<Revocation[]>;
  activeRestrictions(now: number): Promise<Restriction[]>;
}

/** One replica's live, in-memory state and the feed that keeps it current. */
export interface Live {
  readonly revocations: RevocationIndex;
  readonly restrictions: RestrictionIndex;
  readonly access: AccessIndex;
  /** Announces applied events in id order (Watch streams, lapse timers). */
  readonly bus: EventBus;
  readonly feed: ChangeFeed;
  /** The id of the last event applied here that took access away (0: none since start). */
  readonly lastRemovalId: () => number;
}

/**
 * Applied effects that features other than the live state act on (the API-key
 * cache and Watch streams, the keyring, the lease's report): each feature
 * module subscribes its own listener when it is built.
 */
export type LiveSignals = EventEmitter<{
  apiKeyRevoked: [key: RevokedApiKey];
  keyringChanged: [];
  removalApplied: [eventId: number];
}>;

/**
 * Loads the live state and starts the change feed after it. The feed's
 * position is read BEFORE the tables, so an event committed in between is
 * applied again on top of a load that already contains it — harmless, since
 * every effect is idempotent — and never missed.
 */
export async function startLiveState(
  source: LiveStateSource,
  opts: { pollMs: number; clock: () => number; log: Logger; signals: LiveSignals; bus: EventBus },
): Promise<Live> {
  const fromId = await source.feed.lastId();
  const revocations = new RevocationIndex();
  for (const r of await source.liveRevocations(opts.clock())) revocations.add(r);
  const restrictions = new RestrictionIndex();
  for (const r of await source.activeRestrictions(opts.clock())) restrictions.set(r);
  const access = new AccessIndex();
  await access.load(source.access, opts.clock());
  const { bus, signals } = opts;
  let lastRemovalId = 0;
  const state: LiveState = {
    revocations,
    restrictions,
    access,
    onApiKeyRevoked: (k) => signals.emit("apiKeyRevoked", k),
    onKeyringChanged: () => signals.emit("keyringChanged"),
  };
  const feed = new ChangeFeed({
    source: source.feed,
    apply: (effects, event) => {
      applyEffects(state, effects);
      if (takesAccessAway(effects)) lastRemovalId = event.id;
    },
    publish: (events) => {
      for (const e of events) if (e.id > lastRemovalId && isRemovalEvent(e.type)) lastRemovalId = e.id;
      bus.publish(events);
      // Once per batch: a writer on another server may be waiting for this replica.
      if (lastRemovalId >= events[0]!.id) signals.emit("removalApplied", lastRemovalId);
    },
    pollMs: opts.pollMs,
    log: opts.log,
  });
  feed.start(fromId);
  return { revocations, restrictions, access, bus, feed, lastRemovalId: () => lastRemovalId };
}
