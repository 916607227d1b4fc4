import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
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
import type { AccessService } from "../services/access-service.js";
import type { AuditPrivateService } from "../services/audit-private-service.js";
import type { ConsumerPrivateService } from "../services/consumer-private-service.js";
import type { EventsPrivateService } from "../services/events-private-service.js";
import type { HealthService } from "../services/health-service.js";
import type { ModerationPrivateService } from "../services/moderation-private-service.js";
import type { ModerationService } from "../services/moderation-service.js";
import type { PermissionsService } from "../services/permissions-service.js";
import type { SpacesPrivateService } from "../services/spaces-private-service.js";
import type { SpacesService } from "../services/spaces-service.js";
import type { TokensPrivateService } from "../services/tokens-private-service.js";
import type { UsersPrivateService } from "../services/users-private-service.js";
import type { UsersService } from "../services/users-service.js";

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
  readonly health: HealthService;
}

/** Registers every service on the router; the one place that lists them. */
export function routes(services: Services): (router: ConnectRouter) => void {
  return (router) => {
    register(router, TokensPrivate, services.tokensPrivate);
    register(router, Spaces, services.spaces);
    register(router, SpacesPrivate, services.spacesPrivate);
    register(router, Access, services.access);
    register(router, UsersPrivate, services.usersPrivate);
    register(router, Users, services.users);
    register(router, ConsumerPrivate, services.consumerPrivate);
    register(router, Permissions, services.permissions);
    register(router, EventsPrivate, services.eventsPrivate);
    register(router, AuditPrivate, services.auditPrivate);
    register(router, Moderation, services.moderation);
    register(router, ModerationPrivate, services.moderationPrivate);
    register(router, Health, services.health);
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
