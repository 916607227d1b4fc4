import { randomBytes } from "node:crypto";
import type { StoredEvent } from "../journal.js";
import type { WebhookDelivery, WebhookEndpoint } from "./types.js";
import { matches } from "./validation.js";

/**
 * The deliveries that events make for one endpoint: one pending delivery
 * per event matching its filters (type and room), due now. The delivery id
 * is the `webhook-id` every attempt carries.
 */
export function deliveriesFor(e: WebhookEndpoint, events: readonly StoredEvent[], now: number): WebhookDelivery[] {
  return events.filter((ev) => matches(e, ev.type, ev.roomId ?? "")).map((ev) => pending(e, ev, now));
}

function pending(e: WebhookEndpoint, ev: StoredEvent, now: number): WebhookDelivery {
  return {
    id: `msg_${randomBytes(16).toString("hex")}`,
    endpointId: e.id,
    tenantId: e.tenantId,
    eventId: ev.id,
    eventType: ev.type,
    status: "pending",
    attempts: 0,
    nextAttemptAt: now,
    firstAttemptAt: null,
    leaseOwner: null,
    leaseUntil: null,
    lastStatusCode: 0,
    lastError: "",
    createdAt: now,
    updatedAt: now,
  };
}
