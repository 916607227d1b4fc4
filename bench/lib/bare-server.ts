/**
 * The "bare" benchmark baseline: node:http and node:http2 handlers, no RPC
 * framework, calling the same domain objects the real app's services call
 * (RoomTokens, the user-token SubjectTokens, effectiveRoomPermissions).
 *
 *   HTTP/1.1  Connect unary: JSON (decoded and encoded by hand) or binary
 *             (`application/proto`, protobuf-es codec), errors as Connect
 *             error JSON; also FLOOR_PATH (bench/create-batch.ts).
 *   h2c       gRPC: the 5-byte envelope by hand, protobuf-es codec, status
 *             in trailers.
 *
 * It checks no API key (the principal is fixed, as plain connect's is) and
 * handles nothing a benchmark does not send: it is the floor of what the
 * work costs over a socket, not a server.
 */
import { create, fromBinary, toBinary, type DescMessage, type JsonObject, type MessageShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import http from "node:http";
import http2 from "node:http2";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { GetRoomPermissionsRequestSchema, GetRoomPermissionsResponseSchema } from "../../gen/room/permissions/v1/service_pb.js";
import { CreateRequestSchema, CreateResponseSchema, VerifyRequestSchema, VerifyResponseSchema } from "../../gen/room/tokens/private/v1/service_pb.js";
import { VerifyAccessTokenRequestSchema, VerifyAccessTokenResponseSchema } from "../../gen/room/users/private/v1/service_pb.js";
import type { App } from "../../src/app.js";
import type { ApiKeyPrincipal } from "../../src/domain/auth/api-keys.js";
import { RoomgateError, TokenRejectedError, type ErrorKind } from "../../src/domain/errors.js";
import { effectiveRoomPermissions, roomPermissionFlags, type RoomPermissionDeps } from "../../src/domain/room-permissions.js";
import type { TokenRequest } from "../../src/domain/tokens/room-tokens.js";
import { endUserCredential, resolveEndUser } from "../../src/server/end-user-auth.js";
import { SqlRoomStore } from "../../src/store/room-store.js";
import { FLOOR_PATH } from "./bench-app.js";

type Json = Record<string, unknown>;

/** One unary method, bare: its request decoders, its domain call, its response encoders. */
interface BareMethod<I extends DescMessage = DescMessage, R = unknown> {
  readonly input: I;
  /** The request as the domain needs it, from Connect JSON (field names by hand, both spellings). */
  fromJson(msg: Json): MessageShape<I> | Json;
  run(req: MessageShape<I> | Json, authorization: string | undefined): R | Promise<R>;
  toJson(r: R): unknown;
  toBinary(r: R): Uint8Array;
}

const str = (msg: Json, camel: string, snake: string): string => String(msg[camel] ?? msg[snake] ?? "");

function permissionNumber(name: unknown): number {
  if (typeof name === "number") return name;
  const n = (Permission as unknown as Record<string, number | undefined>)[String(name)];
  if (n === undefined) throw new RoomgateError("invalid_argument", `unknown permission ${String(name)}`);
  return n;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The four benchmarked methods, by path, over `app`'s own domain objects. */
export function bareMethods(app: App, principal: ApiKeyPrincipal): Map<string, BareMethod> {
  const tokens = app.roomTokens;
  const deps: RoomPermissionDeps = {
    rooms: new SqlRoomStore(app.db),
    memberships: app.memberships,
    restrictions: app.restrictions,
    revocations: app.revocations,
    clock: app.clock,
  };
  const methods: [string, BareMethod][] = [
    [
      "/room.tokens.private.v1.Service/Create",
      {
        input: CreateRequestSchema,
        fromJson: (msg) => msg,
        async run(req) {
          const list = ((req as Json)["arguments"] ?? []) as Json[];
          const args: TokenRequest[] = list.map((a) => ({
            userId: str(a, "userId", "user_id"),
            roomId: str(a, "roomId", "room_id"),
            metadata: a["metadata"] as JsonObject | undefined,
            permissions: ((a["permissions"] ?? []) as unknown[]).map(permissionNumber),
            ttlSeconds: (a["ttlSeconds"] ?? a["ttl_seconds"]) as number | undefined,
          }));
          return tokens.issue(principal.tenantId, principal.keyId, args);
        },
        toJson: (t: string[]) => ({ tokens: t }),
        toBinary: (t: string[]) => toBinary(CreateResponseSchema, create(CreateResponseSchema, { tokens: t })),
      } as BareMethod,
    ],
    [
      "/room.tokens.private.v1.Service/Verify",
      {
        input: VerifyRequestSchema,
        fromJson: (msg) => ({ token: str(msg, "token", "token") }),
        run: (req) => tokens.verify(principal.tenantId, String((req as Json)["token"])),
        toJson: (v: ReturnType<typeof tokens.verify>) => ({
          tokenId: v.tokenId,
          userId: v.userId,
          roomId: v.roomId,
          permissions: v.permissions.map((p) => Permission[p]),
          metadata: v.metadata,
          issuedAt: iso(v.issuedAt),
          expiresAt: iso(v.expiresAt),
          notBefore: iso(v.notBefore),
          restrictions: v.restrictions.map((r) => (r.until === null ? { kind: r.kind } : { kind: r.kind, until: iso(r.until) })),
        }),
        toBinary: (v: ReturnType<typeof tokens.verify>) =>
          toBinary(
            VerifyResponseSchema,
            create(VerifyResponseSchema, {
              tokenId: v.tokenId,
              userId: v.userId,
              roomId: v.roomId,
              permissions: [...v.permissions],
              metadata: v.metadata,
              issuedAt: timestampFromMs(v.issuedAt),
              notBefore: timestampFromMs(v.notBefore),
              expiresAt: timestampFromMs(v.expiresAt),
              restrictions: v.restrictions.map((r) => ({ kind: r.kind, until: r.until === null ? undefined : timestampFromMs(r.until) })),
            }),
          ),
      } as BareMethod,
    ],
    [
      "/room.users.private.v1.Service/VerifyAccessToken",
      {
        input: VerifyAccessTokenRequestSchema,
        fromJson: (msg) => ({ token: str(msg, "token", "token") }),
        run(req) {
          const c = app.userTokens.verify(String((req as Json)["token"]));
          if (c.tenantId !== principal.tenantId) throw new TokenRejectedError("invalid");
          return c;
        },
        toJson: (c: ReturnType<typeof app.userTokens.verify>) => ({
          tokenId: c.tokenId,
          userId: c.userId,
          roomId: c.roomId,
          issuedAt: iso(c.issuedAt),
          expiresAt: iso(c.expiresAt),
        }),
        toBinary: (c: ReturnType<typeof app.userTokens.verify>) =>
          toBinary(
            VerifyAccessTokenResponseSchema,
            create(VerifyAccessTokenResponseSchema, {
              tokenId: c.tokenId,
              userId: c.userId,
              roomId: c.roomId,
              issuedAt: timestampFromMs(c.issuedAt),
              expiresAt: timestampFromMs(c.expiresAt),
            }),
          ),
      } as BareMethod,
    ],
    [
      "/room.permissions.v1.Service/GetRoomPermissions",
      {
        input: GetRoomPermissionsRequestSchema,
        fromJson: (msg) => ({ roomId: str(msg, "roomId", "room_id") }),
        async run(req, authorization) {
          const token = endUserCredential(authorization ?? null, null);
          if (token === undefined) throw new RoomgateError("unauthenticated", "missing credential");
          const caller = resolveEndUser(token, app.userTokens, tokens);
          const roomId = String((req as Json)["roomId"]);
          return { roomId, granted: await effectiveRoomPermissions(caller, roomId, deps) };
        },
        toJson: (r: { roomId: string; granted: Permission[] }) => ({
          roomPermissions: { permissions: roomPermissionFlags(r.granted), roomId: r.roomId, granted: r.granted.map((p) => Permission[p]) },
        }),
        toBinary: (r: { roomId: string; granted: Permission[] }) =>
          toBinary(
            GetRoomPermissionsResponseSchema,
            create(GetRoomPermissionsResponseSchema, {
              roomPermissions: { permissions: roomPermissionFlags(r.granted), roomId: r.roomId, granted: r.granted },
            }),
          ),
      } as BareMethod,
    ],
  ];
  return new Map(methods);
}

function readBody(req: http.IncomingMessage | http2.ServerHttp2Stream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

const HTTP_STATUS: Record<ErrorKind, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 400,
  resource_exhausted: 429,
};
const GRPC_STATUS: Record<ErrorKind, string> = {
  invalid_argument: "3",
  unauthenticated: "16",
  permission_denied: "7",
  not_found: "5",
  already_exists: "6",
  failed_precondition: "9",
  resource_exhausted: "8",
};

function errorOf(err: unknown): { kind: ErrorKind | "internal"; message: string } {
  return err instanceof RoomgateError ? { kind: err.kind, message: err.message } : { kind: "internal", message: "internal error" };
}

/** Connect unary (JSON and binary) over HTTP/1.1. */
export function bareHttpHandler(methods: ReadonlyMap<string, BareMethod>): http.RequestListener {
  // FLOOR_PATH answers with the last Create response, doing no work: the
  // transport + client cost of a call of that size.
  let lastCreate = '{"tokens":[]}';
  return (req, res) => {
    readBody(req).then(
      async (body) => {
        const binary = req.headers["content-type"] === "application/proto";
        let status = 200;
        let out: string | Uint8Array;
        try {
          if (req.method !== "POST") throw new RoomgateError("invalid_argument", "POST only");
          const m = methods.get(req.url ?? "");
          if (req.url === FLOOR_PATH) {
            JSON.parse(body.toString("utf8"));
            out = lastCreate;
          } else if (m === undefined) {
            status = 404;
            out = JSON.stringify({ code: "unimplemented", message: "not found" });
          } else {
            const input = binary ? fromBinary(m.input, body) : m.fromJson(JSON.parse(body.toString("utf8")) as Json);
            const r = await m.run(input, req.headers.authorization);
            out = binary ? m.toBinary(r) : JSON.stringify(m.toJson(r));
            if (typeof out === "string" && req.url?.endsWith("/Create")) lastCreate = out;
          }
        } catch (err) {
          const e = errorOf(err);
          status = e.kind === "internal" ? 500 : HTTP_STATUS[e.kind];
          out = JSON.stringify({ code: e.kind, message: e.message });
        }
        const type = status === 200 && binary ? "application/proto" : "application/json";
        res.writeHead(status, { "content-type": type, "content-length": typeof out === "string" ? Buffer.byteLength(out) : out.length });
        res.end(out);
      },
      () => res.destroy(),
    );
  };
}

/** gRPC on plain node:http2 streams: the envelope by hand, the protobuf-es codec. */
export function bareGrpcServer(methods: ReadonlyMap<string, BareMethod>): http2.Http2Server {
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    readBody(stream).then(
      async (body) => {
        let grpcStatus = "0";
        let message = "";
        let frame: Buffer | undefined;
        try {
          const m = methods.get(String(headers[":path"]));
          if (m === undefined) {
            grpcStatus = "12";
            message = "unimplemented";
          } else {
            const len = body.readUInt32BE(1);
            const r = await m.run(fromBinary(m.input, body.subarray(5, 5 + len)), headers.authorization);
            const bytes = m.toBinary(r);
            frame = Buffer.allocUnsafe(5 + bytes.length);
            frame[0] = 0;
            frame.writeUInt32BE(bytes.length, 1);
            frame.set(bytes, 5);
          }
        } catch (err) {
          const e = errorOf(err);
          grpcStatus = e.kind === "internal" ? "13" : GRPC_STATUS[e.kind];
          message = e.message;
        }
        if (stream.destroyed) return;
        stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
        stream.once("wantTrailers", () => {
          stream.sendTrailers(message === "" ? { "grpc-status": grpcStatus } : { "grpc-status": grpcStatus, "grpc-message": encodeURIComponent(message) });
        });
        stream.end(frame);
      },
      () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR),
    );
  });
  return server;
}
