import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import {
  Action,
  ActResponseSchema,
  DeleteMessageResponseSchema,
  type ActRequest,
  type ActResponse,
  type DeleteMessageRequest,
  type DeleteMessageResponse,
  type Service,
} from "../../gen/room/moderation/v1/service_pb.js";
import { invalidArgument } from "../domain/errors.js";
import type { Moderation, ModerationAction } from "../domain/moderation/moderation.js";
import { roomStanding, type RoomPermissionDeps } from "../domain/room-permissions.js";
import { requireEndUser } from "./context.js";

/**
 * The contract's actions → the domain's. Both moderation packages number
 * their `Action` enum identically (the private service checks this at load).
 */
export const ACTIONS: ReadonlyMap<number, ModerationAction> = new Map<Action, ModerationAction>([
  [Action.CHAT_BLOCK, "chat_block"],
  [Action.CHAT_UNBLOCK, "chat_unblock"],
  [Action.CHAT_MUTE, "chat_mute"],
  [Action.CHAT_UNMUTE, "chat_unmute"],
  [Action.CHAT_KICK, "chat_kick"],
  [Action.ROOM_BLOCK, "room_block"],
  [Action.ROOM_UNBLOCK, "room_unblock"],
  [Action.ROOM_KICK, "room_kick"],
]);

/** The domain action for a wire value; ACTION_UNSPECIFIED and unknown numbers are refused. */
export function moderationActionOf(action: number): ModerationAction {
  const a = ACTIONS.get(action);
  if (a === undefined) {
    throw invalidArgument(
      action === 0 ? "action: must be set (ACTION_UNSPECIFIED is not an action)" : `action: unknown action ${action}`,
    );
  }
  return a;
}

/**
 * room.moderation.v1.Service: moderation by an end user. The caller's
 * permissions are their effective permissions in the room (a room member
 * token counts only in its own room; a user access token gives the user's
 * roles there), live restrictions included. All rules live in
 * {@link Moderation}.
 */
export class ModerationService implements ServiceImpl<typeof Service> {
  constructor(
    private readonly moderation: Moderation,
    private readonly permissions: RoomPermissionDeps,
  ) {}

  async act(req: ActRequest, ctx: HandlerContext): Promise<ActResponse> {
    const caller = requireEndUser(ctx);
    const action = moderationActionOf(req.action);
    const e = await this.moderation.act({
      tenantId: caller.tenantId,
      actor: `user:${caller.userId}`,
      caller: await roomStanding(caller, req.roomId, this.permissions),
      action,
      roomId: req.roomId,
      targetUserId: req.targetUserId,
      durationSeconds: req.durationSeconds,
      reason: req.reason,
    });
    return create(ActResponseSchema, { eventId: BigInt(e.id) });
  }

  async deleteMessage(req: DeleteMessageRequest, ctx: HandlerContext): Promise<DeleteMessageResponse> {
    const caller = requireEndUser(ctx);
    const e = await this.moderation.deleteMessage({
      tenantId: caller.tenantId,
      actor: `user:${caller.userId}`,
      caller: await roomStanding(caller, req.roomId, this.permissions),
      roomId: req.roomId,
      messageId: req.messageId,
      reason: req.reason,
    });
    return create(DeleteMessageResponseSchema, { eventId: BigInt(e.id) });
  }
}
