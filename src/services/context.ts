import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { ApiKeyPrincipal } from "../domain/auth/api-keys.js";

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
