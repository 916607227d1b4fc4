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
} from "../../gen/room/moderation/private/v1/service_pb.js";
import { Action as EndUserAction } from "../../gen/room/moderation/v1/service_pb.js";
import type { Moderation } from "../domain/moderation/moderation.js";
import { requireApiKey } from "./context.js";
import { moderationActionOf } from "./moderation-service.js";

// Both contracts declare their own Action enum; the shared mapping is only
// right while they agree name for name and number for number.
{
  const a = Object.entries(Action).filter(([, v]) => typeof v === "number");
  const b = Object.entries(EndUserAction).filter(([, v]) => typeof v === "number");
  if (a.length !== b.length || a.some(([name, v]) => (EndUserAction as Record<string, unknown>)[name] !== v)) {
    throw new Error("room.moderation.private.v1.Action and room.moderation.v1.Action differ");
  }
}

/**
 * room.moderation.private.v1.Service: moderation by the tenant's backend.
 * The API key may take every action on any member of the tenant's rooms.
 * All rules live in {@link Moderation}.
 */
export class ModerationPrivateService implements ServiceImpl<typeof Service> {
  constructor(private readonly moderation: Moderation) {}

  async act(req: ActRequest, ctx: HandlerContext): Promise<ActResponse> {
    const caller = requireApiKey(ctx);
    const e = await this.moderation.act({
      tenantId: caller.tenantId,
      actor: `key:${caller.keyId}`,
      caller: "api_key",
      action: moderationActionOf(req.action),
      roomId: req.roomId,
      targetUserId: req.targetUserId,
      durationSeconds: req.durationSeconds,
      reason: req.reason,
    });
    return create(ActResponseSchema, { eventId: BigInt(e.id) });
  }

  async deleteMessage(req: DeleteMessageRequest, ctx: HandlerContext): Promise<DeleteMessageResponse> {
    const caller = requireApiKey(ctx);
    const e = await this.moderation.deleteMessage({
      tenantId: caller.tenantId,
      actor: `key:${caller.keyId}`,
      caller: "api_key",
      roomId: req.roomId,
      messageId: req.messageId,
      reason: req.reason,
    });
    return create(DeleteMessageResponseSchema, { eventId: BigInt(e.id) });
  }
}
