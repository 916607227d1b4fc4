import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  LoginResponseSchema,
  type LoginRequest,
  type LoginResponse,
  type Service,
} from "../../gen/room/users/v1/service_pb.js";
import type { Users } from "../domain/users/users.js";
import { callTenantKey } from "./context.js";
import { SESSION_COOKIE } from "./session-cookie.js";
import { peerAddress } from "./peer-address.js";

/**
 * room.users.v1.Service: the end-user account surface. Login needs no
 * credential; it returns a user access token and sets the session cookie.
 */
export class UsersService implements ServiceImpl<typeof Service> {
  constructor(private readonly users: Users) {}

  async login(req: LoginRequest, ctx: HandlerContext): Promise<LoginResponse> {
    // The client address keys the login limits (see LoginGuard).
    // The tenant goes into the call's log line once it is known to exist, failed logins included.
    const known = (tenantId: string) => ctx.values.set(callTenantKey, tenantId);
    const r = await this.users.login(req.tenantId, req.username, req.password, peerAddress(ctx), known);
    ctx.responseHeader.append("set-cookie", sessionCookie(r.accessToken, r.ttlSeconds, ctx.url.startsWith("https:")));
    return create(LoginResponseSchema, {
      accessToken: r.accessToken,
      userId: r.userId,
      expiresAt: timestampFromMs(r.expiresAt),
    });
  }
}

/**
 * The session cookie: HttpOnly so page scripts cannot read the token,
 * SameSite=Lax against cross-site POSTs, Secure whenever the login itself
 * came over TLS (over cleartext a Secure cookie would simply be dropped).
 */
export function sessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`;
}
