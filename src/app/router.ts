import type { ConnectRouterOptions, Interceptor } from "@connectrpc/connect";
import { observabilityInterceptor } from "../observability/interceptor.js";
import type { ApiKeyGate } from "../server/api-key-auth.js";
import { endUserInterceptor } from "../server/end-user-auth.js";
import { freshnessInterceptor } from "../server/freshness.js";
import { apiKeyInterceptor, errorInterceptor, strictFieldsInterceptor } from "../server/interceptors.js";
import { pageTokenInterceptor } from "../server/page-tokens.js";
import { withStrictUtf8 } from "../server/strict-utf8.js";
import { PageTokenSeal } from "../domain/paging.js";
import { tenantOfCall } from "../services/context.js";
import type { Kernel } from "./kernel.js";
import type { ObservabilityModule } from "./modules/observability.js";
import type { TokensModule } from "./modules/tokens.js";

/** What the router's interceptors are built from. */
export interface RouterParts {
  readonly observer: ObservabilityModule["observer"];
  readonly apiKeyGate: ApiKeyGate;
  readonly tokens: Pick<TokensModule, "userTokens" | "roomTokens" | "codec">;
  /** Outermost of all (cluster workers: the debug call log). */
  readonly outer?: readonly Interceptor[];
  /** false: no observability interceptor (see AppOverrides.observeCalls). */
  readonly observeCalls?: boolean;
}

/** The RPC router's options: the interceptor chain, strict JSON, the size and time limits. */
export function routerOptions(k: Kernel, parts: RouterParts): ConnectRouterOptions {
  const interceptors: Interceptor[] = [
    ...(parts.outer ?? []),
    // Outermost of ours: sees every call's final code, refusals by the others included.
    ...(parts.observeCalls === false ? [] : [observabilityInterceptor(parts.observer, tenantOfCall)]),
    errorInterceptor(k.log),
    // Before any credential is resolved: the lease, and the caller's min_event_id.
    freshnessInterceptor(k.consistency.gate),
    apiKeyInterceptor(parts.apiKeyGate),
    endUserInterceptor(parts.tokens.userTokens, parts.tokens.roomTokens),
    strictFieldsInterceptor(),
    // Innermost, once the tenant is known: list page tokens sealed to tenant, call and filters.
    pageTokenInterceptor(new PageTokenSeal(() => parts.tokens.codec.keyring), tenantOfCall),
  ];
  return {
    interceptors,
    // Connect ignores unknown JSON fields and enum names by default; a
    // misspelled permission must be refused, not dropped.
    // Implicit defaults are written too: seed 002's flags are all present,
    // false ones included.
    // JSON bodies are decoded as strict UTF-8 (invalid_argument otherwise).
    jsonOptions: withStrictUtf8({ ignoreUnknownFields: false, alwaysEmitImplicit: true }),
    readMaxBytes: k.config.readMaxBytes,
    writeMaxBytes: k.config.readMaxBytes,
    maxTimeoutMs: k.config.maxTimeoutMs,
    // Only at the end of the shutdown grace: until then every call that reached the server is answered.
    shutdownSignal: k.cutoff.signal,
  };
}
