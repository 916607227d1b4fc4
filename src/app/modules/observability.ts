import { CallObserver } from "../../observability/calls.js";
import { healthRoute, readyRoute } from "../../server/compat/health-route.js";
import { HealthService } from "../../services/health-service.js";
import { ReflectionService } from "../../services/reflection-service.js";
import { SERVED_SERVICES } from "../../server/routes.js";
import type { Kernel } from "../kernel.js";
import type { FeatureModule } from "../module.js";
import type { EventsModule } from "./events.js";
import type { ModerationModule } from "./moderation.js";

/** Health and readiness, server reflection, and the metrics and traces of every call. */
export interface ObservabilityModule extends FeatureModule {
  readonly health: HealthService;
  readonly reflection: ReflectionService;
  /** Counts, traces and logs each call (RPCs and REST routes). */
  readonly observer: CallObserver;
}

/** Builds health, reflection and the call observer, and points the gauges at what they read. */
export function observabilityModule(
  k: Kernel,
  streams: { events: Pick<EventsModule, "eventsPrivate">; moderation: Pick<ModerationModule, "permissions"> },
): ObservabilityModule {
  const { journal } = k.stores;
  const feed = k.live.feed;
  k.metrics.watch({
    revokedTokens: () => k.live.revocations.revokedTokenCount,
    openWatchers: () => streams.events.eventsPrivate.openWatchers,
    openPermissionStreams: () => streams.moderation.permissions.openStreams,
    feedLag: async () => (await journal.lastEventId()) - feed.appliedId,
  });
  return {
    health: new HealthService(k.storeAlive, k.shutdown.signal),
    reflection: new ReflectionService(SERVED_SERVICES),
    observer: new CallObserver(k.metrics, k.log, k.tracing),
    routes: [healthRoute(k.storeAlive), readyRoute(k.storeAlive, k.shutdown.signal)],
  };
}
