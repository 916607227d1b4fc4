import { create, toBinary, type JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type CallOptions, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { expect } from "vitest";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { CreateArgumentSchema, CreateRequestSchema, Service } from "../../gen/room/tokens/private/v1/service_pb.js";

/** The generated Connect client for room.tokens.private.v1.Service. */
export type TokensClient = Client<typeof Service>;

/** Call options carrying `Authorization: Bearer <key>`. */
export function bearer(key: string): CallOptions {
  return { headers: { authorization: `Bearer ${key}` } };
}

/** A client for the tokens service over `transport`. */
export function tokensClient(transport: Transport): TokensClient {
  return createClient(Service, transport);
}

/** gRPC over HTTP/2 (h2c) to `baseUrl`: the transport most suites call the server with. */
export function grpcTransport(baseUrl: string): Transport {
  return createGrpcTransport({ baseUrl });
}

/** Connect with JSON over HTTP/1.1 to `baseUrl` (what a browser speaks). */
export function connectTransport(baseUrl: string): Transport {
  return createConnectTransport({ baseUrl, httpVersion: "1.1" });
}

/** One way of reaching the server, by name. */
export interface TransportCase {
  readonly name: string;
  make(baseUrl: string, nodeOptions?: { ca?: string | Buffer }): Transport;
}

/** Every Connect-family protocol × HTTP version the server must speak. */
export const TRANSPORTS: readonly TransportCase[] = [
  {
    name: "Connect JSON over HTTP/1.1",
    make: (baseUrl, nodeOptions) =>
      createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, nodeOptions }),
  },
  {
    name: "Connect JSON over HTTP/2",
    make: (baseUrl, nodeOptions) =>
      createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: false, nodeOptions }),
  },
  {
    name: "Connect binary over HTTP/1.1",
    make: (baseUrl, nodeOptions) =>
      createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, nodeOptions }),
  },
  {
    name: "Connect binary over HTTP/2",
    make: (baseUrl, nodeOptions) =>
      createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, nodeOptions }),
  },
  { name: "gRPC over HTTP/2", make: (baseUrl, nodeOptions) => createGrpcTransport({ baseUrl, nodeOptions }) },
  {
    name: "gRPC-Web over HTTP/1.1",
    make: (baseUrl, nodeOptions) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions }),
  },
  {
    name: "gRPC-Web over HTTP/2",
    make: (baseUrl, nodeOptions) => createGrpcWebTransport({ baseUrl, httpVersion: "2", nodeOptions }),
  },
];

/** One CreateArgument as plain data; permissions may hold any number on purpose. */
export interface ArgInit {
  userId: string;
  roomId: string;
  permissions?: number[];
  metadata?: JsonObject;
  ttlSeconds?: number;
}

/** The seed's example argument (seed 000). */
export const SEED_ARGUMENT = {
  userId: "8ae5a0b9-9206-44ca-950b-5a0b51f82d4e",
  roomId: "c2ed3890-716d-4380-a597-d860ecacada0",
  metadata: { note: "temporary moderator" },
  permissions: [Permission.PermissionRoomKick],
} satisfies ArgInit;

/** The seed's request body, exactly as the seed writes it. */
export const SEED_JSON_BODY = JSON.stringify({
  arguments: [
    {
      user_id: "8ae5a0b9-9206-44ca-950b-5a0b51f82d4e",
      room_id: "c2ed3890-716d-4380-a597-d860ecacada0",
      metadata: { note: "temporary moderator" },
      permissions: ["PermissionRoomKick"],
    },
  ],
});

/** A valid argument with distinct ids, for building batches. */
export function validArgument(i = 0, extra: Partial<ArgInit> = {}): ArgInit {
  return { userId: `user-${i}`, roomId: `room-${i}`, permissions: [Permission.PermissionRoomKick], ...extra };
}

/** ArgInit → the generated message (numbers are kept as they are, known or not). */
export function toArgument(a: ArgInit) {
  return create(CreateArgumentSchema, { ...a, permissions: (a.permissions ?? []) as Permission[] });
}

/** Binary encoding of a CreateRequest. */
export function createRequestBytes(args: ArgInit[]): Uint8Array {
  return toBinary(CreateRequestSchema, create(CreateRequestSchema, { arguments: args.map(toArgument) }));
}

/** Awaits `p`, which must reject with a ConnectError, and returns that error. */
export async function connectErrorOf(p: Promise<unknown>): Promise<ConnectError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, "the call should have failed").toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

/** Asserts the call fails with `code` (and, when given, a message matching `message`). */
export async function expectCode(p: Promise<unknown>, code: Code, message?: string | RegExp): Promise<ConnectError> {
  const err = await connectErrorOf(p);
  expect(Code[err.code], `message: ${err.rawMessage}`).toBe(Code[code]);
  if (message !== undefined) {
    if (typeof message === "string") expect(err.rawMessage).toBe(message);
    else expect(err.rawMessage).toMatch(message);
  }
  expectNoStackTrace(err.rawMessage);
  return err;
}

/** Error messages are for callers: no stack frames, no source paths. */
export function expectNoStackTrace(message: string): void {
  expect(message).not.toMatch(/\n\s*at\s/);
  expect(message).not.toMatch(/^\s*at\s+\S+\s+\(/m);
  expect(message).not.toMatch(/\.ts:\d/);
  expect(message).not.toMatch(/\.js:\d/);
  expect(message).not.toMatch(/node:internal/);
}

/** POSTs `body` to a unary procedure with plain fetch (HTTP/1.1). */
export async function postRaw(
  baseUrl: string,
  procedure: "Create" | "Verify",
  body: string | Uint8Array,
  headers: Record<string, string>,
): Promise<{ status: number; contentType: string | null; text: string }> {
  const res = await fetch(`${baseUrl}/room.tokens.private.v1.Service/${procedure}`, { method: "POST", headers, body });
  return { status: res.status, contentType: res.headers.get("content-type"), text: await res.text() };
}

// ---- @grpc/grpc-js with the .proto files, as a non-Connect client would ----

/** A dynamically loaded grpc-js client for the tokens service (callback API). */
export interface GrpcTokensClient extends grpc.Client {
  Create(req: unknown, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: any) => void): grpc.ClientUnaryCall;
  Verify(req: unknown, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: any) => void): grpc.ClientUnaryCall;
}

let grpcCtor:
  | (new (
      address: string,
      creds: grpc.ChannelCredentials,
      options?: grpc.ClientOptions,
    ) => GrpcTokensClient)
  | undefined;

/** Loads proto/room/tokens/private/v1/service.proto once and returns a client for `address`. */
export function grpcTokensClient(
  address: string,
  creds: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options?: grpc.ClientOptions,
): GrpcTokensClient {
  if (!grpcCtor) {
    const def = protoLoader.loadSync("room/tokens/private/v1/service.proto", {
      includeDirs: ["proto"],
      keepCase: true,
      enums: String,
      longs: String,
      defaults: true,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as any;
    grpcCtor = pkg.room.tokens.private.v1.Service;
  }
  return new grpcCtor!(address, creds, options);
}

/** Metadata with `authorization: Bearer <key>`. */
export function grpcAuth(key: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set("authorization", `Bearer ${key}`);
  return md;
}

/** Promise wrapper around a grpc-js unary callback call. */
export function grpcUnary(
  client: GrpcTokensClient,
  method: "Create" | "Verify",
  req: unknown,
  md: grpc.Metadata,
): Promise<any> {
  return new Promise((resolve, reject) => {
    client[method](req, md, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Awaits a grpc-js call that must fail and returns its ServiceError. */
export async function grpcErrorOf(p: Promise<unknown>): Promise<grpc.ServiceError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, "the call should have failed").toBeDefined();
  return err as grpc.ServiceError;
}
