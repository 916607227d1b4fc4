import { Code, ConnectError } from "@connectrpc/connect";
import { invalidArgument } from "../domain/errors.js";
import { FeedBehindError } from "../domain/feed/change-feed.js";

/** This replica's change feed, as reads with a consistency token see it. */
export interface Freshness {
  /** The highest event id applied to this replica's live state. */
  readonly appliedId: number;
  /** Resolves once `eventId` is applied; rejects with FeedBehindError after `timeoutMs`. */
  waitFor(eventId: number, timeoutMs: number): Promise<void>;
}

/**
 * The wait a read with consistency token `minEventId` must make before it
 * answers, or undefined when this replica is already that fresh (the usual
 * case: no promise, no extra async step on the hot path). A replica that
 * stays behind for `timeoutMs` answers `unavailable`, so the caller retries
 * (perhaps elsewhere) instead of being served older state.
 */
export function freshEnough(feed: Freshness, minEventId: bigint, timeoutMs: number): Promise<void> | undefined {
  if (minEventId === 0n) return undefined;
  if (minEventId > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument("min_event_id: no such event id");
  const id = Number(minEventId);
  if (id <= feed.appliedId) return undefined;
  return feed.waitFor(id, timeoutMs).catch((err: unknown) => {
    if (err instanceof FeedBehindError) {
      throw new ConnectError(
        `this replica has not applied event ${id} within ${timeoutMs} ms; retry`,
        Code.Unavailable,
      );
    }
    throw err;
  });
}
