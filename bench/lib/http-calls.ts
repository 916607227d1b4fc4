/**
 * The calls and protocols of bench/http.ts: how each request is encoded
 * for each protocol, and a probe that sends it once and decodes the answer,
 * so every contender is shown to answer the same thing — and every gRPC
 * call to end in grpc-status 0, which h2load cannot see — before any load.
 */
import {
  create,
  fromBinary,
  fromJson,
  toBinary,
  toJson,
  toJsonString,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import http2 from "node:http2";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import {
  GetRoomPermissionsRequestSchema,
  GetRoomPermissionsResponseSchema,
} from "../../gen/room/permissions/v1/service_pb.js";
import {
  CreateRequestSchema,
  CreateResponseSchema,
  VerifyRequestSchema,
  VerifyResponseSchema,
} from "../../gen/room/tokens/private/v1/service_pb.js";
import {
  VerifyAccessTokenRequestSchema,
  VerifyAccessTokenResponseSchema,
} from "../../gen/room/users/private/v1/service_pb.js";
import { SEED_ROOM_ID, SEED_USER_ID, type Ready } from "./bench-app.js";

/** The benchmarked calls, as `--only` names them. */
export type CallId = "verify" | "verify-cold" | "verify-access-token" | "room-permissions" | "create";
/** The wire protocols, as `--only` names them. */
export type ProtocolId = "json" | "binary" | "grpc";

/** A unary call as the encoder and the probe need it (bench/access.ts makes its own). */
export interface CallSpec {
  readonly id: string;
  readonly path: string;
  readonly input: DescMessage;
  readonly output: DescMessage;
  message(r: Ready): MessageInitShape<DescMessage>;
  /** The bearer credential: the API key, or an end user's access token. */
  credential(r: Ready): string;
}

/** One benchmarked unary call of bench/http.ts. */
export interface CallDef extends CallSpec {
  readonly id: CallId;
  readonly label: string;
  /** Runs on servers started with ROOMGATE_VERIFY_CACHE_SIZE=0. */
  readonly cold: boolean;
}

const apiKey = (r: Ready): string => r.apiKey;

/** Every benchmarked call, in table order. */
export const CALLS: readonly CallDef[] = [
  {
    id: "verify",
    label: "Verify (cache hit)",
    path: "/room.tokens.private.v1.Service/Verify",
    input: VerifyRequestSchema,
    output: VerifyResponseSchema,
    cold: false,
    message: (r) => ({ token: r.token }),
    credential: apiKey,
  },
  {
    id: "verify-cold",
    label: "Verify (cold, cache size 0)",
    path: "/room.tokens.private.v1.Service/Verify",
    input: VerifyRequestSchema,
    output: VerifyResponseSchema,
    cold: true,
    message: (r) => ({ token: r.token }),
    credential: apiKey,
  },
  {
    id: "verify-access-token",
    label: "VerifyAccessToken",
    path: "/room.users.private.v1.Service/VerifyAccessToken",
    input: VerifyAccessTokenRequestSchema,
    output: VerifyAccessTokenResponseSchema,
    cold: false,
    message: (r) => ({ token: r.userToken }),
    credential: apiKey,
  },
  {
    id: "room-permissions",
    label: "GetRoomPermissions (user token)",
    path: "/room.permissions.v1.Service/GetRoomPermissions",
    input: GetRoomPermissionsRequestSchema,
    output: GetRoomPermissionsResponseSchema,
    cold: false,
    message: () => ({ roomId: SEED_ROOM_ID }),
    credential: (r) => r.userToken,
  },
  {
    id: "create",
    label: "Create ×1",
    path: "/room.tokens.private.v1.Service/Create",
    input: CreateRequestSchema,
    output: CreateResponseSchema,
    cold: false,
    message: () => ({
      arguments: [
        {
          userId: SEED_USER_ID,
          roomId: SEED_ROOM_ID,
          metadata: { note: "temporary moderator" },
          permissions: [Permission.PermissionRoomKick],
        },
      ],
    }),
    credential: apiKey,
  },
];

/** Every protocol, in table order. */
export const PROTOCOLS: readonly { readonly id: ProtocolId; readonly label: string }[] = [
  { id: "json", label: "Connect JSON h1" },
  { id: "binary", label: "Connect binary h1" },
  { id: "grpc", label: "gRPC h2c" },
];

/** The request as a load generator repeats it. */
export interface EncodedRequest {
  readonly url: string;
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
}

/** The 5-byte gRPC envelope (uncompressed) around `msg`. */
export function grpcFrame(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + msg.length);
  new DataView(out.buffer).setUint32(1, msg.length);
  out.set(msg, 5);
  return out;
}

/** The request of `call` over `protocol` to the server `r`, with its credential. */
export function encodeRequest(call: CallSpec, protocol: ProtocolId, r: Ready): EncodedRequest {
  const msg = create(call.input, call.message(r));
  const authorization = `Bearer ${call.credential(r)}`;
  if (protocol === "grpc") {
    return {
      url: `http://127.0.0.1:${r.h2Port}${call.path}`,
      body: grpcFrame(toBinary(call.input, msg)),
      headers: { "content-type": "application/grpc", te: "trailers", authorization },
    };
  }
  const json = protocol === "json";
  return {
    url: `http://127.0.0.1:${r.port}${call.path}`,
    body: json ? new TextEncoder().encode(toJsonString(call.input, msg)) : toBinary(call.input, msg),
    headers: {
      "content-type": json ? "application/json" : "application/proto",
      "connect-protocol-version": "1",
      authorization,
    },
  };
}

/** Fields that differ per server or per call (ids, times, fresh tokens): blanked before comparing. */
const VOLATILE = new Set(["tokenId", "issuedAt", "expiresAt", "notBefore", "userId", "tokens"]);

function normalize(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(normalize);
  if (v === null || typeof v !== "object") return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v))
    out[k] = VOLATILE.has(k) ? (Array.isArray(x) ? `[${x.length}]` : "*") : normalize(x);
  return out;
}

function grpcCall(req: EncodedRequest): Promise<{ status: number; grpcStatus: string; message: string; body: Buffer }> {
  const url = new URL(req.url);
  return new Promise((resolve, reject) => {
    const session = http2.connect(url.origin);
    session.once("error", reject);
    const s = session.request({ ":method": "POST", ":path": url.pathname, ...req.headers });
    let status = 0;
    let grpcStatus = "";
    let message = "";
    const chunks: Buffer[] = [];
    s.on("response", (h) => {
      status = Number(h[":status"]);
      if (h["grpc-status"] !== undefined) grpcStatus = String(h["grpc-status"]);
    });
    s.on("trailers", (t) => {
      grpcStatus = String(t["grpc-status"] ?? "");
      message = decodeURIComponent(String(t["grpc-message"] ?? ""));
    });
    s.on("data", (c: Buffer) => chunks.push(c));
    s.once("error", reject);
    s.once("close", () => {
      session.close();
      resolve({ status, grpcStatus, message, body: Buffer.concat(chunks) });
    });
    s.end(req.body);
  });
}

/**
 * Sends the call once over `protocol` and returns its answer as canonical
 * JSON with the volatile fields blanked; throws unless it succeeded (HTTP
 * 200; for gRPC also grpc-status 0 in the trailers).
 */
export async function probe(call: CallSpec, protocol: ProtocolId, r: Ready): Promise<string> {
  const req = encodeRequest(call, protocol, r);
  let msg: ReturnType<typeof fromBinary>;
  if (protocol === "grpc") {
    const res = await grpcCall(req);
    if (res.status !== 200 || res.grpcStatus !== "0") {
      throw new Error(
        `${r.kind} ${call.id} gRPC: HTTP ${res.status}, grpc-status ${res.grpcStatus || "(none)"} ${res.message}`,
      );
    }
    msg = fromBinary(call.output, res.body.subarray(5, 5 + res.body.readUInt32BE(1)));
  } else {
    const res = await fetch(req.url, { method: "POST", headers: req.headers, body: req.body });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200)
      throw new Error(`${r.kind} ${call.id} ${protocol}: HTTP ${res.status} ${new TextDecoder().decode(bytes)}`);
    msg =
      protocol === "json"
        ? fromJson(call.output, JSON.parse(new TextDecoder().decode(bytes)) as JsonValue, {
            ignoreUnknownFields: false,
          })
        : fromBinary(call.output, bytes);
  }
  return JSON.stringify(normalize(toJson(call.output, msg, { alwaysEmitImplicit: true })));
}
