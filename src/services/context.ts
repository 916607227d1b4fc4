import { Code, ConnectError, type ContextValues, createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { ApiKeyPrincipal } from "../domain/auth/api-keys.js";
import type { RoomCaller } from "../domain/room-permissions.js";

/** Set by the auth interceptor for calls made with a valid API key. */
export const apiKeyPrincipalKey = createContextKey<ApiKeyPrincipal | undefined>(undefined, {
  description: "API key principal",
});

/**
 * The API-key caller of a backend call. The interceptor has already refused
 * calls without one; this guards against a route registered without it.
 */
export function requireApiKey(ctx: HandlerContext): ApiKeyPrincipal {
  const p = ctx.values.get(apiKeyPrincipalKey);
  if (!p) throw new ConnectError("missing API key", Code.Unauthenticated);
  return p;
}

/**
 * An end user, resolved from a bearer token or the session cookie: a user
 * access token (kind "user") or a room member token (kind "member"). The
 * domain declares the shape, since it judges permissions by it.
 */
export type EndUserPrincipal = RoomCaller;

/** Set by the end-user interceptor when a valid user credential is present. */
export const endUserKey = createContextKey<EndUserPrincipal | undefined>(undefined, { description: "end user" });

/** The end user of the call, or unauthenticated. */
export function requireEndUser(ctx: HandlerContext): EndUserPrincipal {
  const p = ctx.values.get(endUserKey);
  if (!p)
    throw new ConnectError(
      "missing credential: send Authorization: Bearer <access token> or the session cookie",
      Code.Unauthenticated,
    );
  return p;
}

/** A registered/consumer/guest user with a user access token (not a room member token). */
export function requireUser(ctx: HandlerContext): Extract<EndUserPrincipal, { kind: "user" }> {
  const p = requireEndUser(ctx);
  if (p.kind !== "user")
    throw new ConnectError("this call needs a user access token, not a room member token", Code.Unauthenticated);
  return p;
}

/**
 * The tenant a call without a credential turned out to concern, set by its
 * service once the tenant is known to exist (Login: the tenant it names).
 */
export const callTenantKey = createContextKey<string | undefined>(undefined, { description: "tenant of the call" });

/** The tenant of the call, once an auth interceptor or the service resolved one (what observability labels a call with). */
export function tenantOfCall(values: ContextValues): string | undefined {
  return values.get(apiKeyPrincipalKey)?.tenantId ?? values.get(endUserKey)?.tenantId ?? values.get(callTenantKey);
}
