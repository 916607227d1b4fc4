import { EFFECTS_ONLY } from "./pending-effects.js";
import type { StoredEvent } from "../journal.js";

/** Receives events of one tenant as they are committed. */
export type EventListener = (e: StoredEvent) => void;

/**
 * In-process fan-out of committed events to watchers. Publishing is
 * synchronous and cheap; each watcher buffers what it has not sent yet.
 */
export class EventBus {
  private readonly listeners = new Map<string, Set<EventListener>>();
  /** Server-side listeners of every tenant (the lapse scheduler); not watchers. */
  private readonly everyTenant = new Set<EventListener>();

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

  /**
   * Listens to every tenant's events, for the server's own bookkeeping (the
   * lapse scheduler learns of timed restrictions this way); returns the
   * function that stops it. Not counted in {@link size}.
   */
  subscribeAll(listener: EventListener): () => void {
    this.everyTenant.add(listener);
    return () => {
      this.everyTenant.delete(listener);
    };
  }

  /** Announces committed events, in order, to their tenant's listeners; effects-only events are nobody's news. */
  publish(events: readonly StoredEvent[]): void {
    for (const e of events) {
      if (e.type === EFFECTS_ONLY) continue;
      for (const l of this.everyTenant) l(e);
      const set = this.listeners.get(e.tenantId);
      if (set) for (const l of set) l(e);
    }
  }

  /** Number of live per-tenant listeners (watchers), all tenants together. */
  get size(): number {
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }
}
