import type { StoredEvent } from "../journal.js";

/** Receives events of one tenant as they are committed. */
export type EventListener = (e: StoredEvent) => void;

/**
 * In-process fan-out of committed events to watchers. Publishing is
 * synchronous and cheap; each watcher buffers what it has not sent yet.
 */
export class EventBus {
  private readonly listeners = new Map<string, Set<EventListener>>();

  /** Listens to a tenant's events; returns the function that stops it. */
  subscribe(tenantId: string, listener: EventListener): () => void {
    let set = this.listeners.get(tenantId);
    if (!set) {
      set = new Set();
      this.listeners.set(tenantId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(tenantId);
    };
  }

  /** Announces committed events, in order, to their tenant's listeners. */
  publish(events: readonly StoredEvent[]): void {
    for (const e of events) {
      const set = this.listeners.get(e.tenantId);
      if (set) for (const l of set) l(e);
    }
  }

  /** Number of live listeners (all tenants). */
  get size(): number {
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }
}
