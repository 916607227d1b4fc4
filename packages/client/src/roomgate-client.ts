import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Service as AuditService } from "../gen/room/audit/private/v1/service_pb.js";
import { Service as ConsumerService } from "../gen/room/consumer/private/v1/service_pb.js";
import { Service as EventsService } from "../gen/room/events/private/v1/service_pb.js";
import { Service as ModerationService } from "../gen/room/moderation/private/v1/service_pb.js";
import { Service as SpacesService } from "../gen/room/spaces/private/v1/service_pb.js";
import { Service as TokensService } from "../gen/room/tokens/private/v1/service_pb.js";
import { Service as UsersService } from "../gen/room/users/private/v1/service_pb.js";
import { Service as WebhooksService } from "../gen/room/webhooks/private/v1/service_pb.js";
import { apiKeyInterceptor } from "./auth.js";

/** The wire protocol: gRPC (HTTP/2 only) or Connect (HTTP/1.1 or HTTP/2). */
export type RoomgateProtocol = "grpc" | "connect";

/** Options for {@link createRoomgateClient}. */
export interface RoomgateClientOptions {
  /** Where roomgate listens, e.g. `http://127.0.0.1:8080` or `https://roomgate.internal`. */
  readonly baseUrl: string;
  /** The tenant's API key (`rgk_…`), sent as `Authorization: Bearer`. Never logged. */
  readonly apiKey: string;
  /** `"connect"` (default) or `"grpc"`. */
  readonly protocol?: RoomgateProtocol;
  /**
   * HTTP version: gRPC needs `"2"` (its default); Connect defaults to `"1.1"`,
   * which passes through any proxy — choose `"2"` for one multiplexed connection.
   */
  readonly httpVersion?: "1.1" | "2";
  /** Connect only: protobuf binary instead of JSON on the wire (default false). */
  readonly useBinaryFormat?: boolean;
  /** Default deadline of every call in milliseconds (none by default). */
  readonly defaultTimeoutMs?: number;
  /** More interceptors, run after the one that sets the API key. */
  readonly interceptors?: readonly Interceptor[];
  /** TLS settings for an `https:` base URL, e.g. `{ ca }` for a private CA. */
  readonly tls?: RoomgateTlsOptions;
}

/** TLS settings that mean the same to Node's https and http2 clients. */
export interface RoomgateTlsOptions {
  /** Trusted CA certificates (PEM) in place of Node's defaults. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Client certificate (PEM) for mutual TLS. */
  readonly cert?: string | Buffer;
  /** Client private key (PEM) for mutual TLS. */
  readonly key?: string | Buffer;
  /** Server name to check the certificate against, when it differs from the URL's host. */
  readonly servername?: string;
}

/** The client of room.tokens.private.v1.Service. */
export type TokensClient = Client<typeof TokensService>;
/** The client of room.users.private.v1.Service. */
export type UsersClient = Client<typeof UsersService>;
/** The client of room.spaces.private.v1.Service. */
export type SpacesClient = Client<typeof SpacesService>;
/** The client of room.consumer.private.v1.Service. */
export type ConsumerClient = Client<typeof ConsumerService>;
/** The client of room.moderation.private.v1.Service. */
export type ModerationClient = Client<typeof ModerationService>;
/** The client of room.events.private.v1.Service. */
export type EventsClient = Client<typeof EventsService>;
/** The client of room.audit.private.v1.Service. */
export type AuditClient = Client<typeof AuditService>;
/** The client of room.webhooks.private.v1.Service. */
export type WebhooksClient = Client<typeof WebhooksService>;

/** Typed clients of every API-key service, sharing one transport. */
export interface RoomgateClient {
  /** room.tokens.private.v1: Create, Verify, Revoke, RevokeUser, RevokeRoom. */
  readonly tokens: TokensClient;
  /** room.users.private.v1: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser, VerifyAccessToken. */
  readonly users: UsersClient;
  /** room.spaces.private.v1: spaces, rooms, invites, access links and roles. */
  readonly spaces: SpacesClient;
  /** room.consumer.private.v1: CreateUser (seed 003). */
  readonly consumer: ConsumerClient;
  /** room.moderation.private.v1: Act, DeleteMessage. */
  readonly moderation: ModerationClient;
  /** room.events.private.v1: Watch (server stream). */
  readonly events: EventsClient;
  /** room.audit.private.v1: List. */
  readonly audit: AuditClient;
  /** room.webhooks.private.v1: endpoints, secrets, deliveries. */
  readonly webhooks: WebhooksClient;
  /** The transport, for clients of other services (`createClient(spacesV1.Service, client.transport)` needs its own credentials). */
  readonly transport: Transport;
}

/**
 * Clients of the private (API-key) services for a backend: every call carries
 * `Authorization: Bearer <apiKey>` through an interceptor.
 *
 * @example
 * const rg = createRoomgateClient({ baseUrl: "http://127.0.0.1:8080", apiKey: process.env.ROOMGATE_API_KEY! });
 * const { tokens } = await rg.tokens.create({ arguments: [{ userId, roomId }] });
 */
export function createRoomgateClient(options: RoomgateClientOptions): RoomgateClient {
  const transport = createRoomgateTransport(options);
  return {
    tokens: createClient(TokensService, transport),
    users: createClient(UsersService, transport),
    spaces: createClient(SpacesService, transport),
    consumer: createClient(ConsumerService, transport),
    moderation: createClient(ModerationService, transport),
    events: createClient(EventsService, transport),
    audit: createClient(AuditService, transport),
    webhooks: createClient(WebhooksService, transport),
    transport,
  };
}

/**
 * The transport {@link createRoomgateClient} uses: gRPC or Connect over Node's
 * HTTP stack, with the API key interceptor first.
 */
export function createRoomgateTransport(options: RoomgateClientOptions): Transport {
  const baseUrl = checkBaseUrl(options.baseUrl);
  const interceptors = [apiKeyInterceptor(options.apiKey), ...(options.interceptors ?? [])];
  // One plain object fits both Node clients: the TLS fields mean the same to
  // https.request and http2.connect. Arrays are copied because Node's types
  // want mutable ones.
  const nodeOptions = options.tls ? { ...options.tls, ca: copyCa(options.tls.ca) } : undefined;
  const common = { baseUrl, interceptors, defaultTimeoutMs: options.defaultTimeoutMs, nodeOptions };
  const protocol = options.protocol ?? "connect";
  if (protocol === "grpc") {
    if (options.httpVersion !== undefined && options.httpVersion !== "2") {
      throw new TypeError('roomgate client: gRPC runs over HTTP/2 only (httpVersion "2")');
    }
    return createGrpcTransport(common);
  }
  if (protocol !== "connect") {
    throw new TypeError('roomgate client: protocol must be "grpc" or "connect"');
  }
  const useBinaryFormat = options.useBinaryFormat ?? false;
  const httpVersion = options.httpVersion ?? "1.1";
  if (httpVersion !== "1.1" && httpVersion !== "2") {
    throw new TypeError('roomgate client: httpVersion must be "1.1" or "2"');
  }
  return httpVersion === "2"
    ? createConnectTransport({ ...common, httpVersion, useBinaryFormat })
    : createConnectTransport({ ...common, httpVersion, useBinaryFormat });
}

function copyCa(ca: RoomgateTlsOptions["ca"]): string | Buffer | Array<string | Buffer> | undefined {
  return Array.isArray(ca) ? [...(ca as ReadonlyArray<string | Buffer>)] : (ca as string | Buffer | undefined);
}

/** A base URL must be absolute http(s); a bare host would fail later with a vague error. */
function checkBaseUrl(baseUrl: unknown): string {
  if (typeof baseUrl !== "string") throw new TypeError("roomgate client: baseUrl is required");
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError(
      `roomgate client: baseUrl must be an absolute URL such as http://127.0.0.1:8080 (got ${JSON.stringify(baseUrl)})`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`roomgate client: baseUrl must use http or https (got ${url.protocol})`);
  }
  // Credentials in the URL would be sent and logged by proxies; the key goes in a header.
  if (url.username || url.password) throw new TypeError("roomgate client: baseUrl must not hold credentials");
  return baseUrl.replace(/\/+$/, "");
}
