// The `@roomgate/client` entry, for Node backends: typed clients of the
// API-key services over Node's HTTP stack (@connectrpc/connect-node, a peer
// dependency), plus everything the `web` entry has. It imports only the
// generated code and Connect — nothing of the server — so using it needs
// neither the store drivers nor better-sqlite3's native build.
// test/e2e/client-package.test.ts holds it to that.

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
export * from "./web.js";
export { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
