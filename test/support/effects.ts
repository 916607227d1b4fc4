import { collectingEffects, effectsQueue } from "../../src/domain/events/pending-effects.js";

/**
 * Runs store writes the way a store test needs them: outside the app, with
 * no change feed and no memory to keep current, so what the store notes for
 * every replica's memory (noteEffects) is collected and dropped. The app
 * never does this: its writes go through journaled().
 */
export function dropEffects<T>(fn: () => Promise<T>): Promise<T> {
  return collectingEffects(effectsQueue(), fn);
}

const WRITING = /^(set|remove|insert|ensure|record|delete|update|claim|add)/;

/** `store` with every writing method run under {@link dropEffects}. */
export function droppingEffects<T extends object>(store: T): T {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function" || typeof prop !== "string" || !WRITING.test(prop)) return v;
      return (...args: unknown[]) => dropEffects(() => v.apply(target, args));
    },
  });
}
