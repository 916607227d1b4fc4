import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import {
  GetRoomPermissionsResponseSchema,
  RoomPermissionFlagsSchema,
  RoomPermissionsSchema,
  type GetRoomPermissionsRequest,
  type GetRoomPermissionsResponse,
  type RoomPermissions,
  type Service,
  type WatchRequest,
  type WatchResponse,
} from "../../gen/room/permissions/v1/service_pb.js";
import type { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import {
  effectiveRoomPermissions,
  permissionOfFlag,
  ROOM_PERMISSION_FLAGS,
  roomPermissionFlags,
  checkRoomId,
  type RoomCaller,
  type RoomPermissionDeps,
} from "../domain/room-permissions.js";
import { requireEndUser } from "./context.js";
import { freshEnough, type Freshness } from "./freshness.js";
import { streamRoomPermissions, type PermissionStreams } from "./permissions-watch.js";

// The contract's flag fields and the domain's flag names must be the same
// 24 names; a drift would silently drop a flag, so refuse to start instead.
for (const f of RoomPermissionFlagsSchema.fields) {
  if (permissionOfFlag(f.localName) === undefined)
    throw new Error(`RoomPermissionFlags.${f.localName} has no catalog permission`);
}
if (RoomPermissionFlagsSchema.fields.length !== ROOM_PERMISSION_FLAGS.length) {
  throw new Error("RoomPermissionFlags and the permission catalog disagree on the number of flags");
}

/**
 * room.permissions.v1.Service: "my permissions in room X" (seed 002) for
 * the caller's user access token, room member token or session cookie.
 * The rules live in {@link effectiveRoomPermissions}.
 */
export class PermissionsService implements ServiceImpl<typeof Service> {
  constructor(
    private readonly deps: RoomPermissionDeps,
    /** This replica's feed, for reads with a consistency token. */
    private readonly fresh: { readonly feed: Freshness; readonly waitMs: number },
    /** Watch streams: limits, bus, shutdown. */
    private readonly streams: PermissionStreams,
  ) {}

  async getRoomPermissions(req: GetRoomPermissionsRequest, ctx: HandlerContext): Promise<GetRoomPermissionsResponse> {
    const caller = requireEndUser(ctx);
    await freshEnough(this.fresh.feed, req.minEventId, this.fresh.waitMs);
    return create(GetRoomPermissionsResponseSchema, {
      roomPermissions: await this.roomPermissionsOf(caller, req.roomId),
    });
  }

  /**
   * The caller's permissions now, then at every change (see
   * {@link watchRoomPermissions}). The request is checked before the
   * stream starts, so a bad call fails in the error interceptor like any
   * other.
   */
  watch(req: WatchRequest, ctx: HandlerContext): AsyncIterable<WatchResponse> {
    const caller = requireEndUser(ctx);
    checkRoomId(req.roomId);
    return streamRoomPermissions(
      this.streams,
      {
        caller,
        roomId: req.roomId,
        minEventId: req.minEventId,
        signal: AbortSignal.any([ctx.signal, this.streams.shutdown]),
      },
      answer,
    );
  }

  /** Watch streams open on this replica, every tenant together. */
  get openStreams(): number {
    return this.streams.limits.open;
  }

  /** The RPC's answer for an already resolved caller; the seed 002 REST route shares it. */
  async roomPermissionsOf(caller: RoomCaller, roomId: string): Promise<RoomPermissions> {
    return answer(await effectiveRoomPermissions(caller, roomId, this.deps), roomId);
  }
}

/** Effective permissions as the contract's RoomPermissions (flags and list). */
function answer(granted: Permission[], roomId: string): RoomPermissions {
  return create(RoomPermissionsSchema, {
    // The start-up check above makes the domain's keys exactly the fields.
    permissions: create(RoomPermissionFlagsSchema, roomPermissionFlags(granted)),
    roomId,
    granted,
  });
}
