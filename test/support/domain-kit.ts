import { EventBus } from "../../src/domain/events/event-bus.js";
import type { JournalSink } from "../../src/domain/events/record.js";
import { ChangeFeed } from "../../src/domain/feed/change-feed.js";
import type { StoredEvent, Transact } from "../../src/domain/journal.js";
import type { Database } from "../../src/store/database-port.js";
import { SqlJournal } from "../../src/store/journal-store.js";

// The domain's write path over a real store, wired as a replica wires it
// (src/app.ts): one write transaction, the journal, the change feed that
// reads back what was committed and publishes it on the bus. Domain tests
// build their services on it instead of copying the wiring.

/** A logger that drops everything. */
export const silentLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The write path of one replica over a database. */
export interface DomainKit {
  readonly journal: SqlJournal;
  readonly bus: EventBus;
  readonly feed: ChangeFeed;
  /** What `journaled` records into and waits on. */
  readonly sink: JournalSink;
  /** One write transaction on the database. */
  readonly transact: Transact;
  /** Every event the feed published for `tenantId`, as it publishes them. */
  announced(tenantId: string): StoredEvent[];
}

/** Options of {@link wireDomain}. */
export interface DomainKitOptions {
  /** How often the feed polls the journal; default a minute (writers wake it themselves). */
  readonly pollMs?: number;
  /** The bus to publish on; default a new one. */
  readonly bus?: EventBus;
}

/**
 * Wires the journal, the bus and a started change feed (from event 0) over
 * `db`. The caller stops the feed (`kit.feed.stop()`) when done.
 */
export function wireDomain(db: Database, opts: DomainKitOptions = {}): DomainKit {
  const journal = new SqlJournal(db);
  const bus = opts.bus ?? new EventBus();
  const feed = new ChangeFeed({
    source: { eventsAfter: (a, n) => journal.feedEventsAfter(a, n), lastId: () => journal.lastEventId() },
    apply: () => undefined,
    publish: (events) => bus.publish(events),
    pollMs: opts.pollMs ?? 60_000,
    log: silentLog,
  });
  feed.start(0);
  return {
    journal,
    bus,
    feed,
    sink: { journal, feed },
    transact: (fn) => db.write(fn),
    announced(tenantId) {
      const out: StoredEvent[] = [];
      bus.subscribe(tenantId, (e) => out.push(e));
      return out;
    },
  };
}
