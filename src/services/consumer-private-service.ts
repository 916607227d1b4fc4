import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  CreateUserResponseSchema,
  type CreateUserRequest,
  type CreateUserResponse,
  type Service,
} from "../../gen/room/consumer/private/v1/service_pb.js";
import type { ConsumerUsers } from "../domain/users/consumer.js";
import { requireApiKey } from "./context.js";
import { expiryOf } from "./spaces-messages.js";

/**
 * room.consumer.private.v1.Service: seed 003's create user or moderator.
 * The same domain call backs the REST route /consumer/api/v1/user.
 */
export class ConsumerPrivateService implements ServiceImpl<typeof Service> {
  constructor(private readonly consumers: ConsumerUsers) {}

  async createUser(req: CreateUserRequest, ctx: HandlerContext): Promise<CreateUserResponse> {
    const caller = requireApiKey(ctx);
    const r = await this.consumers.createOrLogin(caller, {
      chatRoom: req.chatRoom,
      externalUserId: req.externalUserId,
      isModerator: req.isModerator,
      email: req.email,
      profilePic: req.profilePic,
      meta: req.meta,
      username: req.username,
      uniqueUserIdentifier: req.uniqueUserIdentifier,
      expiry: expiryOf(req),
    });
    return create(CreateUserResponseSchema, {
      accessToken: r.accessToken,
      username: r.username,
      userId: r.userId,
      isModerator: r.isModerator,
    });
  }
}
