import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  ChangePasswordResponseSchema,
  type ChangePasswordRequest,
  type ChangePasswordResponse,
  ListSessionsResponseSchema,
  LoginResponseSchema,
  LogoutResponseSchema,
  RefreshResponseSchema,
  RevokeSessionResponseSchema,
  type ListSessionsResponse,
  type LoginRequest,
  type LoginResponse,
  type LogoutResponse,
  type RefreshRequest,
  type RefreshResponse,
  type RevokeSessionRequest,
  type RevokeSessionResponse,
  type Service,
} from "../../gen/room/users/v1/service_pb.js";
import type { PasswordChanges } from "../domain/users/password-change.js";
import type { ClientInfo, Sessions } from "../domain/users/sessions.js";
import type { LoginResult, Users } from "../domain/users/users.js";
import { callTenantKey, requireUser } from "./context.js";
import { sessionMessage } from "./user-message.js";
import { cookieValue, REFRESH_COOKIE, refreshCookie, sessionCookie } from "./session-cookie.js";
import { peerAddress } from "./peer-address.js";

/**
 * room.users.v1.Service: the end-user account surface. Login and Refresh
 * need no credential; they return a session's tokens and set the session
 * and refresh cookies. The rest act on the caller's own sessions.
 */
export class UsersService implements ServiceImpl<typeof Service> {
  constructor(
    private readonly users: Users,
    private readonly sessions: Sessions,
    private readonly passwords: PasswordChanges,
  ) {}

  async changePassword(req: ChangePasswordRequest, ctx: HandlerContext): Promise<ChangePasswordResponse> {
    const caller = requireUser(ctx);
    const claims = { ...caller.credential, tenantId: caller.tenantId, userId: caller.userId };
    const eventId = await this.passwords.change(claims, req.oldPassword, req.newPassword, peerAddress(ctx));
    return create(ChangePasswordResponseSchema, { eventId: BigInt(eventId) });
  }

  async login(req: LoginRequest, ctx: HandlerContext): Promise<LoginResponse> {
    // The client address keys the login limits (see LoginGuard).
    // The tenant goes into the call's log line once it is known to exist, failed logins included.
    const known = (tenantId: string) => ctx.values.set(callTenantKey, tenantId);
    const r = await this.users.login(req.tenantId, req.username, req.password, clientOf(ctx), known);
    setCookies(ctx, r);
    return create(LoginResponseSchema, answer(r));
  }

  async refresh(req: RefreshRequest, ctx: HandlerContext): Promise<RefreshResponse> {
    // Browsers send the cookie; other clients the body.
    const token = req.refreshToken || (cookieValue(ctx.requestHeader.get("cookie"), REFRESH_COOKIE) ?? "");
    const r = await this.users.refresh(token, clientOf(ctx));
    setCookies(ctx, r);
    return create(RefreshResponseSchema, answer(r));
  }

  async logout(_req: unknown, ctx: HandlerContext): Promise<LogoutResponse> {
    const caller = requireUser(ctx);
    const c = caller.credential;
    const event = await this.sessions.logout({ ...c, tenantId: caller.tenantId, userId: caller.userId });
    const secure = ctx.url.startsWith("https:");
    ctx.responseHeader.append("set-cookie", sessionCookie("", 0, secure));
    ctx.responseHeader.append("set-cookie", refreshCookie("", 0, secure));
    return create(LogoutResponseSchema, { eventId: BigInt(event.id) });
  }

  async listSessions(_req: unknown, ctx: HandlerContext): Promise<ListSessionsResponse> {
    const caller = requireUser(ctx);
    const rows = await this.sessions.list(caller.tenantId, caller.userId);
    return create(ListSessionsResponseSchema, {
      sessions: rows.map((s) => sessionMessage(s, caller.credential.tokenId)),
    });
  }

  async revokeSession(req: RevokeSessionRequest, ctx: HandlerContext): Promise<RevokeSessionResponse> {
    const caller = requireUser(ctx);
    const actor = `user:${caller.userId}` as const;
    const event = await this.sessions.endOne(caller.tenantId, req.sessionId, actor, "", caller.userId);
    return create(RevokeSessionResponseSchema, { eventId: BigInt(event.id) });
  }
}

function clientOf(ctx: HandlerContext): ClientInfo {
  return { address: peerAddress(ctx), userAgent: ctx.requestHeader.get("user-agent") ?? "" };
}

function setCookies(ctx: HandlerContext, r: LoginResult): void {
  const secure = ctx.url.startsWith("https:");
  ctx.responseHeader.append("set-cookie", sessionCookie(r.accessToken, r.ttlSeconds, secure));
  ctx.responseHeader.append("set-cookie", refreshCookie(r.refreshToken, r.refreshTtlSeconds, secure));
}

function answer(r: LoginResult) {
  return {
    accessToken: r.accessToken,
    userId: r.userId,
    expiresAt: timestampFromMs(r.expiresAt),
    refreshToken: r.refreshToken,
    sessionId: r.sessionId,
  };
}
