import type { Permission } from "../../../gen/room/permissions/v1/permission_pb.js";
import type { EventListener } from "../events/event-bus.js";
import {
  checkRoomId,
  effectiveRoomPermissions,
  type RoomCaller,
  type RoomPermissionDeps,
} from "../room-permissions.js";
import { requireLiveCredential } from "./credential.js";
import { mayAffect } from "./relevance.js";

/** One answer of a permission watch. */
export interface PermissionSnapshot {
  /** Effective permissions, expanded and sorted (as GetRoomPermissions computes them). */
  readonly permissions: Permission[];
  /** The last event this replica had applied when the answer was computed. */
  readonly eventId: number;
}

/** Timer functions, injectable so tests can see what is pending. */
export interface WatchTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** What a permission watch reads and listens to; wired once in a feature module (src/app/modules/). */
export interface PermissionWatchDeps extends RoomPermissionDeps {
  /** The replica's event bus: every committed event, after its effects are applied. */
  readonly bus: { subscribe(tenantId: string, listener: EventListener): () => void };
  /** The id of the last event applied to the live state (the change feed's appliedId). */
  readonly appliedId: () => number;
  /** Default: Node's timers, unref'd. */
  readonly timers?: WatchTimers;
}

/** setTimeout's largest delay; a later expiry is reached in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

const nodeTimers: WatchTimers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * The caller's effective permissions in `roomId` now, then again after
 * every change that alters them, until `signal` aborts (then it returns).
 *
 * Driven by the replica's event bus, which announces every replica's
 * writes after the change feed applied their effects, so it works the same
 * on every replica. It subscribes before the first answer is computed, so
 * no change between the two is missed. Events that may concern the member
 * (see {@link mayAffect}) mark the answer stale; stale answers are computed
 * one at a time, events that arrive meanwhile are folded into the next
 * computation, and an answer equal to the last one sent is not sent again.
 *
 * Before each answer the credential is checked again, and the room access
 * rules run as for GetRoomPermissions: an expired or revoked credential
 * throws TokenRejectedError, a kick or room block RoomAccessDeniedError,
 * ending the watch with the error a new call would get. A timer at the
 * credential's expiry wakes the watch to end it then.
 */
export async function* watchRoomPermissions(
  caller: RoomCaller,
  roomId: string,
  deps: PermissionWatchDeps,
  signal: AbortSignal,
): AsyncGenerator<PermissionSnapshot, void, undefined> {
  checkRoomId(roomId);
  const timers = deps.timers ?? nodeTimers;
  let stale = true;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    stale = true;
    wake?.();
  };
  const unsubscribe = deps.bus.subscribe(caller.tenantId, (e) => {
    if (mayAffect(e, caller.userId, roomId)) poke();
  });
  signal.addEventListener("abort", poke);
  let timer: unknown;
  try {
    let last: string | undefined;
    while (!signal.aborted) {
      if (!stale) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          // Re-armed at every wait: the clock may have moved (and a far
          // expiry is reached in steps of setTimeout's largest delay).
          timers.clear(timer);
          timer = timers.set(poke, Math.min(Math.max(caller.credential.expiresAt - deps.clock(), 0), MAX_DELAY_MS));
        });
        wake = undefined;
        continue;
      }
      stale = false;
      // Read before computing: the answer reflects at least this event.
      const eventId = deps.appliedId();
      requireLiveCredential(caller, deps.revocations, deps.clock());
      const permissions = await effectiveRoomPermissions(caller, roomId, deps);
      if (signal.aborted) return;
      const key = permissions.join(",");
      if (key !== last) {
        last = key;
        yield { permissions, eventId };
      }
    }
  } finally {
    timers.clear(timer);
    unsubscribe();
    signal.removeEventListener("abort", poke);
  }
}
