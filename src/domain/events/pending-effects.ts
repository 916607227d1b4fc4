import { AsyncLocalStorage } from "node:async_hooks";
import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import type { LiveEffects } from "../feed/effects.js";
import type { EventInit } from "../journal.js";

/**
 * The type of an event stored only to carry live effects that no other
 * event of its write carried (a token Create, a room created). It is
 * applied by every replica's feed like any other, and is never announced:
 * Watch, webhooks and the bus skip it.
 */
export const EFFECTS_ONLY = EventType.UNSPECIFIED;

/** One change a store method wrote, waiting for an event to carry it. */
interface Noted {
  readonly tenantId: string;
  readonly effects: LiveEffects;
}

const pending = new AsyncLocalStorage<Noted[]>();

/**
 * Notes what a store write changed in every replica's memory (a role set, a
 * room created, tokens issued). The one write path ({@link journaled}) stores
 * it with the next event the write records, or on an {@link EFFECTS_ONLY}
 * event at its end. Outside that path it throws: a change that would never
 * reach memory is a bug, not something to drop quietly.
 */
export function noteEffects(tenantId: string, effects: LiveEffects): void {
  const queue = pending.getStore();
  if (queue === undefined) throw new Error("a store change with live effects ran outside journaled()");
  queue.push({ tenantId, effects });
}

/** Runs `fn` with a fresh queue of noted effects (one per journaled write). */
export function collectingEffects<T>(queue: Noted[], fn: () => Promise<T>): Promise<T> {
  return pending.run(queue, fn);
}

/** A new, empty queue for {@link collectingEffects}. */
export function effectsQueue(): Noted[] {
  return [];
}

/**
 * `events` with the queued effects merged into the last one (the queue is
 * emptied), or `events` unchanged when there are none to carry them.
 */
export function carryPending(queue: Noted[], events: readonly EventInit[]): readonly EventInit[] {
  if (queue.length === 0 || events.length === 0) return events;
  const last = events[events.length - 1]!;
  const effects = mergeEffects([...(last.effects ? [last.effects] : []), ...queue.splice(0).map((n) => n.effects)]);
  return [...events.slice(0, -1), { ...last, effects }];
}

/** The {@link EFFECTS_ONLY} event carrying what is left in the queue (emptied), or none. */
export function effectsOnlyEvents(queue: Noted[]): EventInit[] {
  if (queue.length === 0) return [];
  const tenantId = queue[0]!.tenantId;
  const effects = mergeEffects(queue.splice(0).map((n) => n.effects));
  return [{ tenantId, type: EFFECTS_ONLY, actor: "system", at: Date.now(), effects }];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Effects of several changes as one value, in order (lists concatenated). */
export function mergeEffects(all: readonly LiveEffects[]): LiveEffects {
  const out: Record<string, unknown> = {};
  for (const e of all) {
    for (const [k, v] of Object.entries(e)) {
      if (Array.isArray(v)) out[k] = [...((out[k] as unknown[] | undefined) ?? []), ...v];
      else if (v !== undefined) out[k] = v;
    }
  }
  return out as Mutable<LiveEffects>;
}
