import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  CreateUserResponseSchema,
  VerifyAccessTokenResponseSchema,
  type VerifyAccessTokenRequest,
  type VerifyAccessTokenResponse,
  type CreateUserRequest,
  type CreateUserResponse,
  type Service,
} from "../../gen/room/users/private/v1/service_pb.js";
import type { SubjectTokens } from "../domain/auth/subject-tokens.js";
import { invalidArgument, TokenRejectedError } from "../domain/errors.js";
import type { Users } from "../domain/users/users.js";
import { requireApiKey } from "./context.js";
import { freshEnough, type Freshness } from "./freshness.js";

/**
 * room.users.private.v1.Service: seed 001's createUser for backends. The
 * tenant comes from the API key; all rules live in {@link Users}.
 */
export class UsersPrivateService implements ServiceImpl<typeof Service> {
  constructor(
    private readonly users: Users,
    private readonly userTokens: SubjectTokens,
    /** This replica's feed, for reads with a consistency token. */
    private readonly fresh: { readonly feed: Freshness; readonly waitMs: number },
  ) {}

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

  verifyAccessToken(req: VerifyAccessTokenRequest, ctx: HandlerContext): VerifyAccessTokenResponse | Promise<VerifyAccessTokenResponse> {
    const wait = freshEnough(this.fresh.feed, req.minEventId, this.fresh.waitMs);
    return wait ? wait.then(() => this.verifyNow(req, ctx)) : this.verifyNow(req, ctx);
  }

  private verifyNow(req: VerifyAccessTokenRequest, ctx: HandlerContext): VerifyAccessTokenResponse {
    const caller = requireApiKey(ctx);
    if (req.token === "") throw invalidArgument("token: must not be empty");
    const c = this.userTokens.verify(req.token);
    // Another tenant's token gets the same answer as a forged one.
    if (c.tenantId !== caller.tenantId) throw new TokenRejectedError("invalid");
    return create(VerifyAccessTokenResponseSchema, {
      tokenId: c.tokenId,
      userId: c.userId,
      roomId: c.roomId,
      issuedAt: timestampFromMs(c.issuedAt),
      expiresAt: timestampFromMs(c.expiresAt),
    });
  }
}
