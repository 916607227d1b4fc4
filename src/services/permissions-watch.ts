import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  WatchResponseSchema,
  type RoomPermissions,
  type WatchResponse,
} from "../../gen/room/permissions/v1/service_pb.js";
import type { StreamLimits } from "../domain/stream-limits.js";
import { watchRoomPermissions, type PermissionWatchDeps } from "../domain/permission-watch/watch.js";
import type { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import type { RoomCaller } from "../domain/room-permissions.js";
import { freshEnough, type Freshness } from "./freshness.js";

/** What {@link streamRoomPermissions} works with; wired once in a feature module (src/app/modules/). */
export interface PermissionStreams {
  readonly deps: PermissionWatchDeps;
  readonly limits: StreamLimits;
  /** Aborted when the server stops: open streams end with unavailable. */
  readonly shutdown: AbortSignal;
  readonly fresh: { readonly feed: Freshness; readonly waitMs: number };
}

/** One open stream's request, checked by the service. */
export interface WatchCall {
  readonly caller: RoomCaller;
  readonly roomId: string;
  readonly minEventId: bigint;
  /** The call's signal (client gone, deadline, shutdown). */
  readonly signal: AbortSignal;
}

/**
 * The Watch stream: takes a slot (per user and tenant), waits for the
 * consistency token, then translates each snapshot of
 * {@link watchRoomPermissions}. Errors raised mid-stream do not pass the
 * error interceptor, so they are normalised here.
 */
export async function* streamRoomPermissions(
  s: PermissionStreams,
  req: WatchCall,
  answer: (permissions: Permission[], roomId: string) => RoomPermissions,
): AsyncGenerator<WatchResponse> {
  let release: (() => void) | undefined;
  try {
    // Taken when the stream starts and given back however it ends.
    release = s.limits.acquire(req.caller.tenantId, req.caller.userId);
    await freshEnough(s.fresh.feed, req.minEventId, s.fresh.waitMs);
    for await (const snap of watchRoomPermissions(req.caller, req.roomId, s.deps, req.signal)) {
      yield create(WatchResponseSchema, {
        roomPermissions: answer(snap.permissions, req.roomId),
        eventId: BigInt(snap.eventId),
      });
    }
    if (s.shutdown.aborted) throw new ConnectError("the server is shutting down: reconnect", Code.Unavailable);
  } finally {
    release?.();
  }
}
