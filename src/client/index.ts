// The `roomgate/client` entry (also the package's main entry): typed clients
// for backends. It imports only the generated code and Connect — nothing of the
// server — so using it needs neither the store drivers nor better-sqlite3's
// native build. test/e2e/client-package.test.ts holds it to that.

export {
  createRoomgateClient,
  createRoomgateTransport,
  type AuditClient,
  type ConsumerClient,
  type EventsClient,
  type ModerationClient,
  type RoomgateClient,
  type RoomgateClientOptions,
  type RoomgateProtocol,
  type RoomgateTlsOptions,
  type SpacesClient,
  type TokensClient,
  type UsersClient,
  type WebhooksClient,
} from "./roomgate-client.js";
export { apiKeyInterceptor } from "./auth.js";
export * from "./services.js";
// Re-exported so callers test errors against the same classes the clients
// throw (`err instanceof ConnectError && err.code === Code.PermissionDenied`)
// and build clients of the end-user services over their own transports.
export { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
export { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
