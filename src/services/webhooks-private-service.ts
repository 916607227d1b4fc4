import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  CreateEndpointResponseSchema,
  DeleteEndpointResponseSchema,
  DeliverySchema,
  DeliveryStatus,
  EndpointSchema,
  GetEndpointResponseSchema,
  ListDeliveriesResponseSchema,
  ListEndpointsResponseSchema,
  RedeliverResponseSchema,
  RotateSecretResponseSchema,
  UpdateEndpointResponseSchema,
  type CreateEndpointRequest,
  type CreateEndpointResponse,
  type Delivery,
  type DeleteEndpointRequest,
  type DeleteEndpointResponse,
  type Endpoint,
  type GetEndpointRequest,
  type GetEndpointResponse,
  type ListDeliveriesRequest,
  type ListDeliveriesResponse,
  type ListEndpointsRequest,
  type ListEndpointsResponse,
  type RedeliverRequest,
  type RedeliverResponse,
  type RotateSecretRequest,
  type RotateSecretResponse,
  type Service,
  type UpdateEndpointRequest,
  type UpdateEndpointResponse,
} from "../../gen/room/webhooks/private/v1/service_pb.js";
import type { WebhookCaller, WebhookEndpoints } from "../domain/webhooks/endpoints.js";
import type { DeliveryStatus as Status, WebhookDelivery, WebhookEndpoint } from "../domain/webhooks/types.js";
import { eventTypeName } from "../domain/webhooks/validation.js";
import { requireApiKey } from "./context.js";

/**
 * room.webhooks.private.v1.Service: the tenant's webhook endpoints, managed
 * by its backend with an API key. Translation only; the rules live in
 * {@link WebhookEndpoints}, delivery in src/app/webhooks.ts.
 */
export class WebhooksPrivateService implements ServiceImpl<typeof Service> {
  constructor(private readonly endpoints: WebhookEndpoints) {}

  async createEndpoint(req: CreateEndpointRequest, ctx: HandlerContext): Promise<CreateEndpointResponse> {
    const { endpoint, secret } = await this.endpoints.create(caller(ctx), {
      url: req.url,
      eventTypes: req.eventTypes,
      roomId: req.roomId,
      description: req.description,
    });
    return create(CreateEndpointResponseSchema, { endpoint: toEndpoint(endpoint), secret });
  }

  async listEndpoints(req: ListEndpointsRequest, ctx: HandlerContext): Promise<ListEndpointsResponse> {
    const page = await this.endpoints.list(requireApiKey(ctx).tenantId, req.pageSize, req.pageToken);
    return create(ListEndpointsResponseSchema, {
      endpoints: page.endpoints.map(toEndpoint),
      nextPageToken: page.nextPageToken,
    });
  }

  async getEndpoint(req: GetEndpointRequest, ctx: HandlerContext): Promise<GetEndpointResponse> {
    return create(GetEndpointResponseSchema, {
      endpoint: toEndpoint(await this.endpoints.get(requireApiKey(ctx).tenantId, req.id)),
    });
  }

  async updateEndpoint(req: UpdateEndpointRequest, ctx: HandlerContext): Promise<UpdateEndpointResponse> {
    const e = await this.endpoints.update(caller(ctx), req.id, {
      url: req.url,
      eventTypes: req.updateEventTypes ? req.eventTypes : undefined,
      roomId: req.roomId,
      description: req.description,
      enabled: req.enabled,
    });
    return create(UpdateEndpointResponseSchema, { endpoint: toEndpoint(e) });
  }

  async deleteEndpoint(req: DeleteEndpointRequest, ctx: HandlerContext): Promise<DeleteEndpointResponse> {
    await this.endpoints.delete(caller(ctx), req.id);
    return create(DeleteEndpointResponseSchema, {});
  }

  async rotateSecret(req: RotateSecretRequest, ctx: HandlerContext): Promise<RotateSecretResponse> {
    const r = await this.endpoints.rotate(caller(ctx), req.id, req.graceSeconds);
    return create(RotateSecretResponseSchema, {
      secret: r.secret,
      previousSecretExpireTime: timestampFromMs(r.previousUntil),
    });
  }

  async listDeliveries(req: ListDeliveriesRequest, ctx: HandlerContext): Promise<ListDeliveriesResponse> {
    const page = await this.endpoints.deliveries(
      requireApiKey(ctx).tenantId,
      req.endpointId,
      req.pageSize,
      req.pageToken,
    );
    return create(ListDeliveriesResponseSchema, {
      deliveries: page.deliveries.map(toDelivery),
      nextPageToken: page.nextPageToken,
    });
  }

  async redeliver(req: RedeliverRequest, ctx: HandlerContext): Promise<RedeliverResponse> {
    return create(RedeliverResponseSchema, {
      delivery: toDelivery(await this.endpoints.redeliver(caller(ctx), req.deliveryId)),
    });
  }
}

function caller(ctx: HandlerContext): WebhookCaller {
  const k = requireApiKey(ctx);
  return { tenantId: k.tenantId, actor: `key:${k.keyId}` };
}

function toEndpoint(e: WebhookEndpoint): Endpoint {
  return create(EndpointSchema, {
    id: e.id,
    url: e.url,
    eventTypes: [...e.eventTypes],
    roomId: e.roomId,
    description: e.description,
    enabled: e.disabledAt === null,
    disabledReason: e.disabledReason,
    createTime: timestampFromMs(e.createdAt),
    updateTime: timestampFromMs(e.updatedAt),
  });
}

const STATUS: Readonly<Record<Status, DeliveryStatus>> = {
  pending: DeliveryStatus.PENDING,
  delivering: DeliveryStatus.DELIVERING,
  succeeded: DeliveryStatus.SUCCEEDED,
  failed: DeliveryStatus.FAILED,
};

function toDelivery(d: WebhookDelivery): Delivery {
  return create(DeliverySchema, {
    id: d.id,
    eventId: BigInt(d.eventId),
    eventType: eventTypeName(d.eventType),
    status: STATUS[d.status],
    attempts: d.attempts,
    lastResponseCode: d.lastStatusCode,
    lastError: d.lastError,
    nextAttemptTime: d.status === "pending" ? timestampFromMs(d.nextAttemptAt) : undefined,
    createTime: timestampFromMs(d.createdAt),
  });
}
