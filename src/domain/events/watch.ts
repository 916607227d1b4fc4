import { RoomgateError } from "../errors.js";
import type { StoredEvent } from "../journal.js";
import type { EventListener } from "./event-bus.js";

/** Where a watch reads from: the live bus and the stored events. */
export interface WatchSource {
  /** Listens to a tenant's committed events; returns the function that stops it. */
  subscribe(tenantId: string, listener: EventListener): () => void;
  /** Stored events after `afterId` for a tenant (and room), oldest first. */
  eventsAfter(tenantId: string, roomId: string | undefined, afterId: number, limit: number): Promise<StoredEvent[]>;
}

/** What to watch and where to resume. */
export interface WatchOptions {
  readonly tenantId: string;
  /** Only this room's events; "" or undefined watches the whole tenant. */
  readonly roomId?: string;
  /** Replay stored events after this id first; 0 streams only new events. */
  readonly afterEventId: number;
  /** Ends the watch cleanly (client gone, server shutting down). */
  readonly signal: AbortSignal;
  /** Live events a watcher may have pending before it is cut off. */
  readonly maxBuffered?: number;
  /** Stored events read per replay query. */
  readonly pageSize?: number;
}

/** Default bound of a watcher's pending live events. */
export const DEFAULT_MAX_BUFFERED = 10_000;
/** Default replay page size. */
export const REPLAY_PAGE_SIZE = 500;

/** The failure of a watcher that fell too far behind. */
export function watcherTooSlow(): RoomgateError {
  return new RoomgateError("resource_exhausted", "watcher too slow; resume with after_event_id");
}

/**
 * Streams a tenant's (or one room's) events in id order, without gaps or
 * duplicates, across the switch from stored to live events.
 *
 * 1. Subscribe to the bus first: from here on every committed event is
 *    buffered (events are published right after their transaction commits,
 *    in the same synchronous step, so none can fall between a read and the
 *    subscription).
 * 2. With `afterEventId` > 0, replay stored events after it, page by page,
 *    until a page comes back short: everything committed later is already
 *    in the buffer.
 * 3. Stream the buffer, skipping what the replay already sent (id ≤ last sent).
 *
 * The buffer holds only live events not yet sent, at most `maxBuffered`.
 * During the replay an overflow costs nothing: every buffered event is also
 * stored, so the buffer is dropped and the replay simply reads on (it ends
 * only on a short page read after the last overflow). Once live, a watcher
 * that falls `maxBuffered` events behind fails with resource_exhausted; it
 * resumes with the last id it received. Aborting `signal` ends the stream
 * normally; the subscription is always released.
 */
export async function* watchEvents(
  source: WatchSource,
  opts: WatchOptions,
): AsyncGenerator<StoredEvent, void, undefined> {
  const { tenantId, signal } = opts;
  const roomId = opts.roomId || undefined;
  const pageSize = opts.pageSize ?? REPLAY_PAGE_SIZE;
  const box = new Mailbox(opts.maxBuffered ?? DEFAULT_MAX_BUFFERED);
  const stop = source.subscribe(tenantId, (e) => {
    if (roomId === undefined || e.roomId === roomId) box.push(e);
  });
  let subscribed = true;
  const unsubscribe = (): void => {
    if (subscribed) stop();
    subscribed = false;
  };
  // An aborted watch stops buffering at once, even if nobody pulls again.
  const onAbort = (): void => {
    unsubscribe();
    box.notify();
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    let last = opts.afterEventId;
    if (last > 0) {
      for (;;) {
        // Events dropped by an earlier overflow were committed before this
        // read, so it (or a later page) returns them.
        box.overflowed = false;
        const page = await source.eventsAfter(tenantId, roomId, last, pageSize);
        for (const e of page) {
          if (signal.aborted) return;
          yield e;
          last = e.id;
        }
        // What the replay has sent no longer counts against the buffer.
        box.dropThrough(last);
        // Short page and nothing dropped since it was read: the buffer holds the rest.
        if (page.length < pageSize && !box.overflowed) break;
      }
    }
    for (;;) {
      if (signal.aborted) return;
      if (box.overflowed) throw watcherTooSlow();
      const e = box.shift();
      if (e === undefined) {
        await box.wait();
        continue;
      }
      if (e.id <= last) continue;
      yield e;
      last = e.id;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    unsubscribe();
  }
}

/** A bounded FIFO of pending events with one waiting reader. */
class Mailbox {
  private items: StoredEvent[] = [];
  private head = 0;
  private waiter: (() => void) | undefined;
  /** Set once more than `max` events were pending; the buffer is then dropped. */
  overflowed = false;

  constructor(private readonly max: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  push(e: StoredEvent): void {
    if (this.overflowed) return;
    if (this.length >= this.max) {
      this.overflowed = true;
      this.items = [];
      this.head = 0;
    } else {
      this.items.push(e);
    }
    this.notify();
  }

  shift(): StoredEvent | undefined {
    if (this.head === this.items.length) return undefined;
    const e = this.items[this.head++]!;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1_024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return e;
  }

  /** Drops pending events with an id ≤ `id` (events arrive in id order). */
  dropThrough(id: number): void {
    while (this.head < this.items.length && this.items[this.head]!.id <= id) this.head++;
    if (this.head > 0) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Resolves on the next push or {@link notify}. */
  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  notify(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
