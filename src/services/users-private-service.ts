import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  CreateUserResponseSchema,
  type CreateUserRequest,
  type CreateUserResponse,
  type Service,
} from "../../gen/room/users/private/v1/service_pb.js";
import type { Users } from "../domain/users/users.js";
import { requireApiKey } from "./context.js";

/**
 * room.users.private.v1.Service: seed 001's createUser for backends. The
 * tenant comes from the API key; all rules live in {@link Users}.
 */
export class UsersPrivateService implements ServiceImpl<typeof Service> {
  constructor(private readonly users: Users) {}

  async createUser(req: CreateUserRequest, ctx: HandlerContext): Promise<CreateUserResponse> {
    const caller = requireApiKey(ctx);
    // captcha_token is accepted for seed 001 clients and deliberately unused.
    const { id } = await this.users.register(caller.tenantId, {
      email: req.email,
      username: req.username,
      password: req.password,
      phone: req.phone,
    });
    return create(CreateUserResponseSchema, { id });
  }
}
