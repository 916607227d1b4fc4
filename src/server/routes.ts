import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1Alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { Service as AccessPrivate } from "../../gen/room/access/private/v1/service_pb.js";
import { Service as Access } from "../../gen/room/access/v1/service_pb.js";
import { Service as AuditPrivate } from "../../gen/room/audit/private/v1/service_pb.js";
import { Service as ConsumerPrivate } from "../../gen/room/consumer/private/v1/service_pb.js";
import { Service as EventsPrivate } from "../../gen/room/events/private/v1/service_pb.js";
import { Service as ModerationPrivate } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Service as Moderation } from "../../gen/room/moderation/v1/service_pb.js";
import { Service as Permissions } from "../../gen/room/permissions/v1/service_pb.js";
import { Service as SpacesPrivate } from "../../gen/room/spaces/private/v1/service_pb.js";
import { Service as Spaces } from "../../gen/room/spaces/v1/service_pb.js";
import { Service as TokensPrivate } from "../../gen/room/tokens/private/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { Service as WebhooksPrivate } from "../../gen/room/webhooks/private/v1/service_pb.js";
import type { AccessPrivateService } from "../services/access-private-service.js";
import type { AccessService } from "../services/access-service.js";
import type { AuditPrivateService } from "../services/audit-private-service.js";
import type { ConsumerPrivateService } from "../services/consumer-private-service.js";
import type { EventsPrivateService } from "../services/events-private-service.js";
import type { HealthService } from "../services/health-service.js";
import type { ModerationPrivateService } from "../services/moderation-private-service.js";
import type { ModerationService } from "../services/moderation-service.js";
import type { ReflectionService } from "../services/reflection-service.js";
import type { PermissionsService } from "../services/permissions-service.js";
import type { SpacesPrivateService } from "../services/spaces-private-service.js";
import type { SpacesService } from "../services/spaces-service.js";
import type { TokensPrivateService } from "../services/tokens-private-service.js";
import type { UsersPrivateService } from "../services/users-private-service.js";
import type { UsersService } from "../services/users-service.js";
import type { WebhooksPrivateService } from "../services/webhooks-private-service.js";

/** Every service implementation the server exposes. */
export interface Services {
  readonly tokensPrivate: TokensPrivateService;
  readonly spaces: SpacesService;
  readonly spacesPrivate: SpacesPrivateService;
  readonly access: AccessService;
  readonly usersPrivate: UsersPrivateService;
  readonly users: UsersService;
  readonly consumerPrivate: ConsumerPrivateService;
  readonly permissions: PermissionsService;
  readonly eventsPrivate: EventsPrivateService;
  readonly auditPrivate: AuditPrivateService;
  readonly moderation: ModerationService;
  readonly moderationPrivate: ModerationPrivateService;
  readonly webhooksPrivate: WebhooksPrivateService;
  readonly accessPrivate: AccessPrivateService;
  readonly health: HealthService;
  /** Serves both reflection versions (`v1`, `v1alpha`). */
  readonly reflection: ReflectionService;
}

/**
 * Every service the server serves, with its implementation: the one list
 * that the router and server reflection are both built from.
 */
const BINDINGS: readonly (readonly [DescService, (s: Services) => object])[] = [
  [TokensPrivate, (s) => s.tokensPrivate],
  [AccessPrivate, (s) => s.accessPrivate],
  [Spaces, (s) => s.spaces],
  [SpacesPrivate, (s) => s.spacesPrivate],
  [Access, (s) => s.access],
  [UsersPrivate, (s) => s.usersPrivate],
  [Users, (s) => s.users],
  [ConsumerPrivate, (s) => s.consumerPrivate],
  [Permissions, (s) => s.permissions],
  [EventsPrivate, (s) => s.eventsPrivate],
  [AuditPrivate, (s) => s.auditPrivate],
  [Moderation, (s) => s.moderation],
  [ModerationPrivate, (s) => s.moderationPrivate],
  [WebhooksPrivate, (s) => s.webhooksPrivate],
  [Health, (s) => s.health],
  [ReflectionV1, (s) => s.reflection.v1],
  [ReflectionV1Alpha, (s) => s.reflection.v1alpha],
];

/** The descriptors of every service {@link routes} registers (what reflection lists). */
export const SERVED_SERVICES: readonly DescService[] = BINDINGS.map(([desc]) => desc);

/** Registers every service on the router; the one place that lists them. */
export function routes(services: Services): (router: ConnectRouter) => void {
  return (router) => {
    for (const [desc, impl] of BINDINGS) register(router, desc, impl(services));
  };
}

/**
 * Registers a service, refusing to start when a method is not implemented
 * (connect would otherwise answer `unimplemented` at run time).
 */
function register(router: ConnectRouter, service: DescService, impl: object): void {
  for (const method of service.methods) {
    if (typeof (impl as Record<string, unknown>)[method.localName] !== "function") {
      throw new Error(`${service.typeName} has no implementation of ${method.name}`);
    }
  }
  router.service(service, impl as Partial<ServiceImpl<DescService>>);
}
