import type { ConnectRouterOptions, Interceptor } from "@connectrpc/connect";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Logger } from "pino";
import type { SiblingSync } from "../cluster/sibling-sync.js";
import type { Config } from "../config/config.js";
import type { BootstrapResult } from "../domain/auth/tenants.js";
import type { TokenKey } from "../domain/tokens/keyring.js";
import type { Resolver } from "../domain/webhooks/address-policy.js";
import type { Metrics } from "../observability/metrics.js";
import type { CallObserver } from "../observability/calls.js";
import type { CompatRoute } from "../server/compat.js";
import type { Services } from "../server/routes.js";
import { openKernel, type Kernel } from "./kernel.js";
import type { FeatureModule } from "./module.js";
import { accessModule } from "./modules/access.js";
import { eventsModule, type EventsModule } from "./modules/events.js";
import { moderationModule, type ModerationModule } from "./modules/moderation.js";
import { observabilityModule } from "./modules/observability.js";
import { spacesModule } from "./modules/spaces.js";
import { tenantsModule, type TenantsModule } from "./modules/tenants.js";
import { loadTokenKeys, tokensModule, type TokensModule } from "./modules/tokens.js";
import { usersModule } from "./modules/users.js";
import { webhooksModule, type WebhooksModule } from "./modules/webhooks.js";
import { routerOptions } from "./router.js";

/** A built roomgate, ready to serve: what `serve` and the processes that run it use. */
export interface App {
  readonly config: Config;
  readonly log: Logger;
  readonly bootstrap: BootstrapResult;
  /** True when this start generated the token key file. */
  readonly keyFileCreated: boolean;
  readonly services: Services;
  /** The seeds' REST routes, served where no RPC path matches. */
  readonly compatRoutes: readonly CompatRoute[];
  readonly routerOptions: ConnectRouterOptions;
  /** Aborted when draining begins: not ready any more, streams end with unavailable. */
  readonly shutdown: AbortController;
  /** Prometheus metrics (its own registry), served on `/metrics`. */
  readonly metrics: Metrics;
  /** Counts, traces and logs each call (RPCs and REST routes). */
  readonly observer: CallObserver;
  /** Re-reads the token key file (SIGHUP); a file that fails to load keeps the current keyring. */
  reloadKeys(why: string): void;
  /** Stops every module's workers, the feed and the lease, and closes the store. */
  close(): Promise<void>;
}

/** Test and cluster seams. */
export interface AppOverrides {
  readonly clock?: () => number;
  readonly tokenKeys?: readonly TokenKey[];
  /**
   * Arm a real timer for restriction lapses. Default: only with the real
   * clock; with an injected clock the test calls `lapses.runDue()`.
   */
  readonly lapseTimer?: boolean;
  /** Turns tracing on with this exporter (tests: an in-memory one), spans exported one by one. */
  readonly spanExporter?: SpanExporter;
  /** Resolves webhook hosts instead of the system resolver. */
  readonly webhookResolver?: Resolver;
  /** A cluster worker's link to its sibling workers (src/cluster/sibling-sync.ts). */
  readonly siblings?: SiblingSync;
  /** Interceptors outside every other (a cluster worker's debug call log). */
  readonly outerInterceptors?: readonly Interceptor[];
  /**
   * false leaves the observability interceptor out (no call metrics, request
   * log lines, spans or x-request-id): bench/observability-price.ts measures what it costs.
   */
  readonly observeCalls?: boolean;
}

/** The kernel and the feature modules an app is made of (the test harness seeds through them). */
export interface AppParts {
  readonly kernel: Kernel;
  readonly tenants: TenantsModule;
  readonly tokens: TokensModule;
  readonly moderation: ModerationModule;
  readonly events: EventsModule;
  readonly webhooks: WebhooksModule;
}

/**
 * Loads the keyring, opens the kernel (store, live state, change feed) and
 * builds every feature module on it. No socket is opened here.
 */
export async function createApp(config: Config, log: Logger, overrides: AppOverrides = {}): Promise<App> {
  return (await assembleApp(config, log, overrides)).app;
}

/** {@link createApp}, also returning the parts it was built from. */
export async function assembleApp(
  config: Config,
  log: Logger,
  overrides: AppOverrides = {},
): Promise<{ app: App; parts: AppParts }> {
  const keys = loadTokenKeys(config, overrides.tokenKeys, (overrides.clock ?? Date.now)());
  const k = await openKernel(config, log, overrides);
  const tenants = await tenantsModule(k);
  const tokens = tokensModule(k, keys);
  const spaces = spacesModule(k, tokens);
  const users = usersModule(k, tokens, tenants.apiKeyGate);
  const lapseTimer = overrides.lapseTimer ?? overrides.clock === undefined;
  const moderation = await moderationModule(k, tokens, { lapseTimer });
  const events = eventsModule(k);
  const webhooks = await webhooksModule(k, tokens, overrides.webhookResolver);
  const observability = observabilityModule(k, { events, moderation });
  const access = accessModule(k);
  // The order they were built in; closed in reverse.
  const modules: FeatureModule[] = [
    tenants,
    tokens,
    spaces,
    users,
    moderation,
    events,
    webhooks,
    observability,
    access,
  ];
  const services: Services = {
    ...{ tokensPrivate: tokens.tokensPrivate, spaces: spaces.spaces, spacesPrivate: spaces.spacesPrivate },
    ...{ access: spaces.access, usersPrivate: users.usersPrivate, users: users.users },
    ...{ consumerPrivate: users.consumerPrivate, permissions: moderation.permissions },
    ...{ moderation: moderation.moderation, moderationPrivate: moderation.moderationPrivate },
    ...{ eventsPrivate: events.eventsPrivate, auditPrivate: events.auditPrivate },
    ...{ webhooksPrivate: webhooks.webhooksPrivate, accessPrivate: access.accessPrivate },
    ...{ health: observability.health, reflection: observability.reflection },
  };
  const router = routerOptions(k, {
    observer: observability.observer,
    apiKeyGate: tenants.apiKeyGate,
    tokens,
    outer: overrides.outerInterceptors,
    observeCalls: overrides.observeCalls,
  });
  const app: App = {
    ...{ config, log, bootstrap: tenants.bootstrap, keyFileCreated: keys.created, services },
    compatRoutes: modules.flatMap((m) => m.routes ?? []),
    routerOptions: router,
    ...{ shutdown: k.shutdown, metrics: k.metrics, observer: observability.observer },
    reloadKeys: tokens.reloadKeys,
    close: closer(k, modules),
  };
  return { app, parts: { kernel: k, tenants, tokens, moderation, events, webhooks } };
}

/** Closes once: ends the drain, stops the modules (last built first), then the kernel. */
function closer(k: Kernel, modules: readonly FeatureModule[]): () => Promise<void> {
  let closed: Promise<void> | undefined;
  return () =>
    (closed ??= (async () => {
      k.shutdown.abort();
      k.cutoff.abort();
      for (const m of [...modules].reverse()) await m.close?.();
      await k.close();
    })());
}
