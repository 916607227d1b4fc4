/**
 * The three clients of the rolling-restart benchmark, each making one call
 * of a kind and saying how it ended — answered, cleanly refused, or failed
 * (sent, and neither answered nor refused: the caller cannot tell whether a
 * Create ran). Clean refusals are retried, as a careful client does: a
 * refused connection, and an HTTP/2 stream refused with REFUSED_STREAM
 * (RFC 9113 §8.7: "closed prior to any processing having occurred", which
 * covers the streams past a GOAWAY's last stream id). Nothing else is
 * retried, so every failure shows.
 *
 *   - HTTP/1.1 keep-alive: node:http with a keep-alive agent, Connect JSON.
 *   - h2c: connect-node's Connect transport over HTTP/2 (binary), several
 *     transports so that several connections spread over the balancer.
 *   - gRPC: @grpc/grpc-js with the .proto files, several channels each with
 *     its own subchannel pool (grpc-js otherwise shares one connection).
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as PermissionsService } from "../../gen/room/permissions/v1/service_pb.js";
import { Service as TokensService } from "../../gen/room/tokens/private/v1/service_pb.js";

/** The calls of the load. */
export const CALL_KINDS = ["Verify", "Create ×1", "GetRoomPermissions"] as const;
/** One of {@link CALL_KINDS}. */
export type CallKind = (typeof CALL_KINDS)[number];

/** How one call ended. */
export type CallResult =
  /** The server answered (`error` set when it answered with an error: its status or code). */
  | { readonly outcome: "answered"; readonly error?: string }
  /** Sent, never answered: reset, hang-up, timeout, or an error no server sends for these calls. */
  | { readonly outcome: "failed"; readonly error: string };

/** What the clients need to know: where, and the credentials the set-up issued. */
export interface Target {
  readonly port: number;
  readonly apiKey: string;
  /** A room member token, verified by the Verify load and used as the GetRoomPermissions credential. */
  readonly memberToken: string;
  readonly roomId: string;
}

/** One protocol's client. */
export interface ProtocolClient {
  readonly name: string;
  call(kind: CallKind): Promise<CallResult>;
  /** Clean refusals seen and retried, by kind (connection refused, REFUSED_STREAM). */
  readonly refusals: () => ReadonlyMap<string, number>;
  close(): void;
}

/** Per-call limit: a call still unanswered after this long counts as failed. */
const CALL_TIMEOUT_MS = 10_000;
/** A call refused this many times in a row counts as failed (no server took it for ~1 s). */
const MAX_REFUSALS = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls `once` until it is not refused (retrying after 20 ms, up to MAX_REFUSALS times), counting refusals into `seen`. */
async function retryRefused(
  once: () => Promise<CallResult | { readonly refused: string }>,
  seen: Map<string, number>,
): Promise<CallResult> {
  for (let i = 0; ; i++) {
    const r = await once();
    if (!("refused" in r)) return r;
    seen.set(r.refused, (seen.get(r.refused) ?? 0) + 1);
    if (i === MAX_REFUSALS) return { outcome: "failed", error: `${r.refused} ×${MAX_REFUSALS + 1}` };
    await sleep(20);
  }
}

// --- HTTP/1.1 keep-alive, Connect JSON -------------------------------------------

const PATHS: Record<CallKind, string> = {
  Verify: "/room.tokens.private.v1.Service/Verify",
  "Create ×1": "/room.tokens.private.v1.Service/Create",
  GetRoomPermissions: "/room.permissions.v1.Service/GetRoomPermissions",
};

/** A node:http client over one keep-alive agent of `sockets` sockets. */
export function http1Client(t: Target, sockets: number): ProtocolClient {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const refusals = new Map<string, number>();
  const body = (kind: CallKind): string =>
    JSON.stringify(
      kind === "Verify"
        ? { token: t.memberToken }
        : kind === "Create ×1"
          ? { arguments: [{ user_id: randomUUID(), room_id: t.roomId, permissions: ["PermissionChat"] }] }
          : { room_id: t.roomId },
    );
  const once = (kind: CallKind): Promise<CallResult | { readonly refused: string }> => {
    const data = body(kind);
    const auth = kind === "GetRoomPermissions" ? t.memberToken : t.apiKey;
    const headers = {
      "content-type": "application/json",
      authorization: `Bearer ${auth}`,
      "content-length": Buffer.byteLength(data),
    };
    return new Promise((resolve) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: t.port,
          path: PATHS[kind],
          method: "POST",
          agent,
          headers,
          timeout: CALL_TIMEOUT_MS,
        },
        (res) => {
          res.resume();
          res.on("end", () =>
            resolve(
              res.statusCode === 200
                ? { outcome: "answered" }
                : { outcome: "answered", error: `HTTP ${res.statusCode}` },
            ),
          );
          res.on("error", (err: NodeJS.ErrnoException) =>
            resolve({ outcome: "failed", error: `answer cut: ${err.code ?? err.name}` }),
          );
        },
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "CALL_TIMEOUT" })));
      req.on("error", (err: NodeJS.ErrnoException) =>
        resolve(
          err.code === "ECONNREFUSED"
            ? { refused: "ECONNREFUSED" }
            : { outcome: "failed", error: err.code ?? err.name },
        ),
      );
      req.end(data);
    });
  };
  return {
    name: "HTTP/1.1 keep-alive",
    call: (kind) => retryRefused(() => once(kind), refusals),
    refusals: () => refusals,
    close: () => agent.destroy(),
  };
}

// --- h2c, connect-node ---------------------------------------------------------------

/** Codes this server never answers these calls with: when a client library reports one, the call was lost in transport. */
const TRANSPORT_CODES = new Set([
  Code.Unavailable,
  Code.Internal,
  Code.Unknown,
  Code.Canceled,
  Code.Aborted,
  Code.DeadlineExceeded,
]);

/** The first Node error code in `err`'s cause chain (ECONNREFUSED, ECONNRESET, …), and that error. */
function nodeError(err: unknown): NodeJS.ErrnoException | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (typeof (e as NodeJS.ErrnoException).code === "string") return e as NodeJS.ErrnoException;
  }
  return undefined;
}

/**
 * True for a stream the server reset with REFUSED_STREAM. Node reports a
 * stream reset as ERR_HTTP2_STREAM_ERROR and puts the HTTP/2 code only in
 * the message ("Stream closed with error code NGHTTP2_REFUSED_STREAM"), and
 * connect-node passes that on: there is no field to read it from.
 */
function refusedStream(node: NodeJS.ErrnoException): boolean {
  return node.code === "ERR_HTTP2_STREAM_ERROR" && node.message.endsWith("NGHTTP2_REFUSED_STREAM");
}

/** connect-node's Connect protocol over HTTP/2 (prior knowledge), `connections` transports used in turn. */
export function h2cClient(t: Target, connections: number): ProtocolClient {
  const baseUrl = `http://127.0.0.1:${t.port}`;
  const pairs = Array.from({ length: connections }, () => {
    const transport = createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true });
    return { tokens: createClient(TokensService, transport), perms: createClient(PermissionsService, transport) };
  });
  let turn = 0;
  const refusals = new Map<string, number>();
  const api = { headers: { authorization: `Bearer ${t.apiKey}` }, timeoutMs: CALL_TIMEOUT_MS };
  const member = { headers: { authorization: `Bearer ${t.memberToken}` }, timeoutMs: CALL_TIMEOUT_MS };
  const send = (kind: CallKind): Promise<unknown> => {
    const c = pairs[turn++ % pairs.length]!;
    if (kind === "Verify") return c.tokens.verify({ token: t.memberToken }, api);
    if (kind === "Create ×1")
      return c.tokens.create(
        { arguments: [{ userId: randomUUID(), roomId: t.roomId, permissions: [Permission.PermissionChat] }] },
        api,
      );
    return c.perms.getRoomPermissions({ roomId: t.roomId }, member);
  };
  return {
    name: "h2c (connect-node)",
    call: (kind) =>
      retryRefused(async () => {
        try {
          await send(kind);
          return { outcome: "answered" };
        } catch (e) {
          const err = ConnectError.from(e);
          const node = nodeError(err);
          if (node?.code === "ECONNREFUSED") return { refused: "ECONNREFUSED" };
          if (node !== undefined && refusedStream(node)) return { refused: "REFUSED_STREAM" };
          if (node !== undefined || TRANSPORT_CODES.has(err.code))
            return { outcome: "failed", error: node?.code ?? Code[err.code] };
          return { outcome: "answered", error: Code[err.code] };
        }
      }, refusals),
    refusals: () => refusals,
    close: () => undefined, // the sessions close on their idle timeout; the process exits after the bench
  };
}

// --- gRPC, @grpc/grpc-js ---------------------------------------------------------------

type Unary = (
  req: unknown,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null) => void,
) => grpc.ClientUnaryCall;
type GrpcCtor = new (
  address: string,
  creds: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => grpc.Client & Record<string, Unary>;

function loadCtor(file: string, path: string[]): GrpcCtor {
  const def = protoLoader.loadSync(file, {
    includeDirs: ["proto"],
    keepCase: true,
    enums: String,
    longs: String,
    defaults: true,
    oneofs: true,
  });
  let node: unknown = grpc.loadPackageDefinition(def);
  for (const p of path) node = (node as Record<string, unknown>)[p];
  return node as GrpcCtor;
}

/** GRPC status codes that, for these calls, only a transport failure produces (see TRANSPORT_CODES). */
const GRPC_TRANSPORT = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
  grpc.status.CANCELLED,
  grpc.status.ABORTED,
  grpc.status.DEADLINE_EXCEEDED,
]);

/**
 * What grpc-js reports for a stream reset with REFUSED_STREAM (UNAVAILABLE;
 * it keeps the HTTP/2 code to itself and says so only in this text).
 */
const GRPC_REFUSED_STREAM = "Stream refused by server";

/**
 * grpc-js clients on `channels` channels used in turn. grpc-js retries, on
 * its own, a call that never left the client, and once a call the server
 * refused unprocessed (REFUSED_STREAM); a call refused again reaches us as
 * UNAVAILABLE and is retried here.
 */
export function grpcClient(t: Target, channels: number): ProtocolClient {
  const Tokens = loadCtor("room/tokens/private/v1/service.proto", ["room", "tokens", "private", "v1", "Service"]);
  const Perms = loadCtor("room/permissions/v1/service.proto", ["room", "permissions", "v1", "Service"]);
  const opts: grpc.ClientOptions = { "grpc.use_local_subchannel_pool": 1 };
  const creds = grpc.credentials.createInsecure();
  const address = `127.0.0.1:${t.port}`;
  const pairs = Array.from({ length: channels }, () => ({
    tokens: new Tokens(address, creds, opts),
    perms: new Perms(address, creds, opts),
  }));
  const md = (key: string) => {
    const m = new grpc.Metadata();
    m.set("authorization", `Bearer ${key}`);
    return m;
  };
  let turn = 0;
  const refusals = new Map<string, number>();
  const once = (kind: CallKind): Promise<CallResult | { readonly refused: string }> => {
    const c = pairs[turn++ % pairs.length]!;
    const deadline = { deadline: Date.now() + CALL_TIMEOUT_MS };
    return new Promise((resolve) => {
      const cb = (err: grpc.ServiceError | null): void => {
        if (!err) resolve({ outcome: "answered" });
        else if (err.code === grpc.status.UNAVAILABLE && err.details === GRPC_REFUSED_STREAM)
          resolve({ refused: "REFUSED_STREAM" });
        else if (GRPC_TRANSPORT.has(err.code))
          resolve({ outcome: "failed", error: grpc.status[err.code] ?? String(err.code) });
        else resolve({ outcome: "answered", error: grpc.status[err.code] ?? String(err.code) });
      };
      if (kind === "Verify") c.tokens["Verify"]!({ token: t.memberToken }, md(t.apiKey), deadline, cb);
      else if (kind === "Create ×1")
        c.tokens["Create"]!(
          { arguments: [{ user_id: randomUUID(), room_id: t.roomId, permissions: ["PermissionChat"] }] },
          md(t.apiKey),
          deadline,
          cb,
        );
      else c.perms["GetRoomPermissions"]!({ room_id: t.roomId }, md(t.memberToken), deadline, cb);
    });
  };
  return {
    name: "gRPC (grpc-js)",
    call: (kind) => retryRefused(() => once(kind), refusals),
    refusals: () => refusals,
    close: () => {
      for (const p of pairs) {
        p.tokens.close();
        p.perms.close();
      }
    },
  };
}
