import type { ConnectRouter } from "@connectrpc/connect";
import { Service as TokensPrivate } from "../../gen/room/tokens/private/v1/service_pb.js";
import type { TokensPrivateService } from "../services/tokens-private-service.js";

/** Every service implementation the server exposes. */
export interface Services {
  readonly tokensPrivate: TokensPrivateService;
}

/** Registers every service on the router; the one place that lists them. */
export function routes(services: Services): (router: ConnectRouter) => void {
  return (router) => {
    router.service(TokensPrivate, services.tokensPrivate);
  };
}
