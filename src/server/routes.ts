import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { Service as TokensPrivate } from "../../gen/room/tokens/private/v1/service_pb.js";
import type { TokensPrivateService } from "../services/tokens-private-service.js";

/** Every service implementation the server exposes. */
export interface Services {
  readonly tokensPrivate: TokensPrivateService;
}

/** Registers every service on the router; the one place that lists them. */
export function routes(services: Services): (router: ConnectRouter) => void {
  return (router) => {
    register(router, TokensPrivate, services.tokensPrivate);
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
