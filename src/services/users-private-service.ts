import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  CreateUserResponseSchema,
  ListSessionsResponseSchema,
  RevokeSessionResponseSchema,
  SetPasswordResponseSchema,
  type SetPasswordRequest,
  type SetPasswordResponse,
  type ListSessionsRequest,
  type ListSessionsResponse,
  type RevokeSessionRequest,
  type RevokeSessionResponse,
  DeleteUserResponseSchema,
  GetUserResponseSchema,
  ListUsersResponseSchema,
  UpdateUserResponseSchema,
  VerifyAccessTokenResponseSchema,
  type DeleteUserRequest,
  type DeleteUserResponse,
  type GetUserRequest,
  type GetUserResponse,
  type ListUsersRequest,
  type ListUsersResponse,
  type UpdateUserRequest,
  type UpdateUserResponse,
  type VerifyAccessTokenRequest,
  type VerifyAccessTokenResponse,
  type CreateUserRequest,
  type CreateUserResponse,
  type Service,
} from "../../gen/room/users/private/v1/service_pb.js";
import type { SubjectTokens } from "../domain/auth/subject-tokens.js";
import { invalidArgument, TokenRejectedError } from "../domain/errors.js";
import type { Users } from "../domain/users/users.js";
import type { UserDirectory } from "../domain/users/directory.js";
import type { UserDeletion } from "../domain/users/deletion.js";
import type { PasswordChanges } from "../domain/users/password-change.js";
import type { Sessions } from "../domain/users/sessions.js";
import { checkId } from "../domain/ids.js";
import { kindFilter, sessionMessage, userMessage } from "./user-message.js";
import { requireApiKey } from "./context.js";
import { freshEnough, type Freshness } from "./freshness.js";

/**
 * room.users.private.v1.Service: seed 001's createUser for backends, and
 * reading back, updating and deleting users. The tenant comes from the API
 * key; the rules live in {@link Users}, {@link UserDirectory} and
 * {@link UserDeletion}.
 */
export class UsersPrivateService implements ServiceImpl<typeof Service> {
  constructor(
    private readonly users: Users,
    private readonly userTokens: SubjectTokens,
    /** This replica's feed, for reads with a consistency token. */
    private readonly fresh: { readonly feed: Freshness; readonly waitMs: number },
    /** Reading back and updating users. */
    private readonly directory: UserDirectory,
    /** Deleting users. */
    private readonly deletion: UserDeletion,
    /** End-user sessions. */
    private readonly sessions: Sessions,
    /** SetPassword. */
    private readonly passwords: PasswordChanges,
  ) {}

  async setPassword(req: SetPasswordRequest, ctx: HandlerContext): Promise<SetPasswordResponse> {
    const caller = requireApiKey(ctx);
    const eventId = await this.passwords.reset(caller.tenantId, `key:${caller.keyId}`, req.userId, req.password);
    return create(SetPasswordResponseSchema, { eventId: BigInt(eventId) });
  }

  async listSessions(req: ListSessionsRequest, ctx: HandlerContext): Promise<ListSessionsResponse> {
    const caller = requireApiKey(ctx);
    checkId("user_id", req.userId);
    const rows = await this.sessions.list(caller.tenantId, req.userId);
    return create(ListSessionsResponseSchema, { sessions: rows.map((s) => sessionMessage(s)) });
  }

  async revokeSession(req: RevokeSessionRequest, ctx: HandlerContext): Promise<RevokeSessionResponse> {
    const caller = requireApiKey(ctx);
    const event = await this.sessions.endOne(caller.tenantId, req.sessionId, `key:${caller.keyId}`, req.reason);
    return create(RevokeSessionResponseSchema, { eventId: BigInt(event.id) });
  }

  async getUser(req: GetUserRequest, ctx: HandlerContext): Promise<GetUserResponse> {
    const caller = requireApiKey(ctx);
    return create(GetUserResponseSchema, { user: userMessage(await this.directory.get(caller.tenantId, req.userId)) });
  }

  async listUsers(req: ListUsersRequest, ctx: HandlerContext): Promise<ListUsersResponse> {
    const caller = requireApiKey(ctx);
    const page = await this.directory.list(caller.tenantId, {
      pageSize: req.pageSize,
      pageToken: req.pageToken,
      externalUserId: req.externalUserId,
      username: req.username,
      kind: kindFilter(req.kind),
    });
    return create(ListUsersResponseSchema, { users: page.users.map(userMessage), nextPageToken: page.nextPageToken });
  }

  async updateUser(req: UpdateUserRequest, ctx: HandlerContext): Promise<UpdateUserResponse> {
    const caller = requireApiKey(ctx);
    // proto3 `optional`: undefined is "not set", so the field stays.
    const { user, event } = await this.directory.update(caller, req.userId, {
      username: req.username,
      email: req.email,
      phone: req.phone,
      externalUserId: req.externalUserId,
      meta: req.meta,
      profilePic: req.profilePic,
      password: req.password,
    });
    return create(UpdateUserResponseSchema, { user: userMessage(user), eventId: BigInt(event.id) });
  }

  async deleteUser(req: DeleteUserRequest, ctx: HandlerContext): Promise<DeleteUserResponse> {
    const caller = requireApiKey(ctx);
    const event = await this.deletion.delete(caller, req.userId, req.reason);
    return create(DeleteUserResponseSchema, { eventId: BigInt(event.id) });
  }

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

  verifyAccessToken(
    req: VerifyAccessTokenRequest,
    ctx: HandlerContext,
  ): VerifyAccessTokenResponse | Promise<VerifyAccessTokenResponse> {
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
