import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import type { Recorded } from "../domain/events/record.js";
import type { WebhookDelivery, WebhookEndpoint } from "../domain/webhooks/types.js";

/** What is recorded when the worker gives up on an endpoint: audit "webhook.disabled" and its event. */
export function endpointDisabled(endpoint: WebhookEndpoint, d: WebhookDelivery, at: number): Recorded {
  return {
    audit: [
      {
        tenantId: endpoint.tenantId,
        at,
        actor: "system",
        action: "webhook.disabled",
        target: endpoint.id,
        reason: "persistent failure",
        detail: { deliveryId: d.id, eventId: d.eventId },
      },
    ],
    events: [
      {
        tenantId: endpoint.tenantId,
        type: EventType.WEBHOOK_ENDPOINT_DISABLED,
        actor: "system",
        at,
        reason: `endpoint ${endpoint.id}: persistent failure`,
      },
    ],
  };
}
