import { AuditPrivateService } from "../../services/audit-private-service.js";
import { EventsPrivateService } from "../../services/events-private-service.js";
import type { Kernel } from "../kernel.js";
import type { FeatureModule } from "../module.js";

/** The event log's Watch streams and the audit log. */
export interface EventsModule extends FeatureModule {
  readonly eventsPrivate: EventsPrivateService;
  readonly auditPrivate: AuditPrivateService;
}

/** Builds the events and audit services; a revoked API key ends its Watch streams. */
export function eventsModule(k: Kernel): EventsModule {
  const { journal } = k.stores;
  const eventsPrivate = new EventsPrivateService(
    { subscribe: (t, l) => k.live.bus.subscribe(t, l), eventsAfter: (t, r, a, n) => journal.eventsAfter(t, r, a, n) },
    { maxWatchersPerTenant: k.config.maxWatchersPerTenant, shutdown: k.shutdown.signal },
  );
  k.signals.on("apiKeyRevoked", (key) => eventsPrivate.endStreamsOfKey(key.keyId));
  return { eventsPrivate, auditPrivate: new AuditPrivateService(journal) };
}
