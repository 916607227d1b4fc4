import type { Builders, Referenced, TableDialect } from "./builders.js";

// Outgoing webhooks: the endpoints a tenant registered, and the queue of
// deliveries to each.

/**
 * Webhook endpoints of a tenant. The signing secrets are sealed (AES-256-GCM,
 * src/domain/webhooks/secret-box.ts), never stored in clear; during a
 * rotation's grace period the previous secret signs too. `cursor` is the id
 * of the last event the endpoint's deliveries were enqueued up to.
 */
export function webhookEndpointsTable<D extends TableDialect>(b: Builders<D>, tenants: Referenced) {
  return b.table(
    "webhook_endpoints",
    {
      id: b.text("id").primaryKey(),
      tenantId: b
        .text("tenant_id")
        .notNull()
        .references(() => tenants.id, { onDelete: "cascade" }),
      url: b.text("url").notNull(),
      /** JSON array of event type names; [] sends every type. */
      eventTypes: b.text("event_types").notNull().default("[]"),
      roomId: b.text("room_id").notNull().default(""),
      description: b.text("description").notNull().default(""),
      secret: b.text("secret").notNull(),
      previousSecret: b.text("previous_secret"),
      previousSecretUntil: b.ms("previous_secret_until"),
      disabledAt: b.ms("disabled_at"),
      disabledReason: b.text("disabled_reason").notNull().default(""),
      cursor: b.ms("cursor").notNull().default(0),
      createdAt: b.ms("created_at").notNull(),
      updatedAt: b.ms("updated_at").notNull(),
    },
    (t) => [b.index("webhook_endpoints_tenant_idx").on(t.tenantId, t.createdAt, t.id)],
  );
}

/**
 * One event on its way to one endpoint. Sent in event order per endpoint:
 * only the endpoint's lowest unfinished delivery is ever claimed. A worker
 * claims it by setting `lease_owner`/`lease_until` in one write; an expired
 * lease (its worker stopped) makes it claimable again.
 */
export function webhookDeliveriesTable<D extends TableDialect>(b: Builders<D>, endpoints: Referenced) {
  return b.table(
    "webhook_deliveries",
    {
      id: b.text("id").primaryKey(),
      endpointId: b
        .text("endpoint_id")
        .notNull()
        .references(() => endpoints.id, { onDelete: "cascade" }),
      tenantId: b.text("tenant_id").notNull(),
      eventId: b.ms("event_id").notNull(),
      eventType: b.int("event_type").notNull(),
      status: b.text("status", { enum: ["pending", "delivering", "succeeded", "failed"] }).notNull(),
      attempts: b.int("attempts").notNull().default(0),
      nextAttemptAt: b.ms("next_attempt_at").notNull(),
      firstAttemptAt: b.ms("first_attempt_at"),
      leaseOwner: b.text("lease_owner"),
      leaseUntil: b.ms("lease_until"),
      lastStatusCode: b.int("last_status_code").notNull().default(0),
      lastError: b.text("last_error").notNull().default(""),
      createdAt: b.ms("created_at").notNull(),
      updatedAt: b.ms("updated_at").notNull(),
    },
    (t) => [
      b.uniqueIndex("webhook_deliveries_endpoint_event_uq").on(t.endpointId, t.eventId),
      b.index("webhook_deliveries_status_idx").on(t.status, t.nextAttemptAt),
      // An endpoint's queue: is there an unfinished delivery before this one?
      b.index("webhook_deliveries_queue_idx").on(t.endpointId, t.status, t.eventId),
    ],
  );
}
