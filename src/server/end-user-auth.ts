import type { Interceptor } from "@connectrpc/connect";
import type { SubjectTokens } from "../domain/auth/subject-tokens.js";
import { RoomgateError, TokenRejectedError } from "../domain/errors.js";
import type { RoomTokens } from "../domain/tokens/room-tokens.js";
import { endUserKey, type EndUserPrincipal } from "../services/context.js";
import { SESSION_COOKIE } from "../services/session-cookie.js";

/** Procedures that authenticate by their own arguments and ignore credentials. */
const CREDENTIAL_FREE = new Set([
  "room.users.v1.Service/Login",
  "room.users.v1.Service/Refresh",
  "room.access.v1.Service/Redeem",
]);

/** The credential of an end-user request: a bearer token, else the session cookie. */
export function endUserCredential(authorization: string | null, cookie: string | null): string | undefined {
  if (authorization !== null) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return m ? m[1] : undefined;
  }
  if (cookie !== null) {
    for (const part of cookie.split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
    }
  }
  return undefined;
}

/**
 * Resolves an end-user credential: a user access token first, then a room
 * member token. Throws unauthenticated when neither opens.
 */
export function resolveEndUser(token: string, userTokens: SubjectTokens, roomTokens: RoomTokens): EndUserPrincipal {
  // A room member token seen before skips the user-token attempt, which
  // would fail its tag check every time.
  if (!roomTokens.knows(token)) {
    try {
      const c = userTokens.verify(token);
      const credential = { tokenId: c.tokenId, roomId: c.roomId, issuedAt: c.issuedAt, expiresAt: c.expiresAt };
      return {
        kind: "user",
        tenantId: c.tenantId,
        userId: c.userId,
        roomScope: c.roomId === "" ? undefined : c.roomId,
        issuedAt: c.issuedAt,
        credential,
      };
    } catch (err) {
      if (!(err instanceof TokenRejectedError) || err.rejection !== "invalid") throw err;
    }
  }
  const m = roomTokens.verify(undefined, token);
  const credential = { tokenId: m.tokenId, roomId: m.roomId, issuedAt: m.issuedAt, expiresAt: m.expiresAt };
  return {
    kind: "member",
    tenantId: m.tenantId,
    userId: m.userId,
    roomId: m.roomId,
    permissions: m.permissions,
    credential,
  };
}

/**
 * The end user behind a request's credential, for every end-user path
 * (the interceptor and seed 002's REST route): undefined when the request
 * carries none; unauthenticated when the Authorization header is not a
 * bearer token or the credential does not open.
 */
export function authenticateEndUser(
  authorization: string | null,
  cookie: string | null,
  userTokens: SubjectTokens,
  roomTokens: RoomTokens,
): EndUserPrincipal | undefined {
  const token = endUserCredential(authorization, cookie);
  if (authorization !== null && token === undefined) {
    throw new RoomgateError("unauthenticated", "malformed Authorization header: expected Bearer <token>");
  }
  return token === undefined ? undefined : resolveEndUser(token, userTokens, roomTokens);
}

/** True for end-user surfaces (`room.<area>.v1.Service`). */
export function isEndUserService(typeName: string): boolean {
  return /^room\.[a-z_]+\.v1\.Service$/.test(typeName);
}

/**
 * For end-user surfaces (`room.<area>.v1.Service`): when a bearer token or
 * the session cookie is present it must verify, and the caller is put into
 * the call's context; services that need a caller call requireEndUser.
 * Calls without a credential pass through (Login and Redeem need none).
 * Other services (backend surfaces, grpc.health.v1) never look at an
 * end-user credential: a prober's or proxy's Authorization header must not
 * fail a health check.
 */
export function endUserInterceptor(userTokens: SubjectTokens, roomTokens: RoomTokens): Interceptor {
  // Nothing here is awaited (token checks are synchronous): no async frame;
  // a refusal is still a rejected promise, as from an async interceptor.
  return (next) => (req) => {
    // Calls that take no credential must work even with a stale cookie or
    // token attached (e.g. logging in again after a session expired).
    if (isEndUserService(req.service.typeName) && !CREDENTIAL_FREE.has(`${req.service.typeName}/${req.method.name}`)) {
      try {
        // Refusals are RoomgateErrors; the error interceptor gives them their code.
        const caller = authenticateEndUser(
          req.header.get("authorization"),
          req.header.get("cookie"),
          userTokens,
          roomTokens,
        );
        if (caller !== undefined) req.contextValues.set(endUserKey, caller);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return next(req);
  };
}
