/**
 * The "bare" benchmark baseline: node:http and node:http2 handlers, no RPC
 * framework, serving the methods of bench/lib/bare-methods.ts (the same
 * domain objects the real app's services call).
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
import { fromBinary } from "@bufbuild/protobuf";
import type http from "node:http";
import http2 from "node:http2";
import { RoomgateError, type ErrorKind } from "../../src/domain/errors.js";
import type { BareMethod } from "./bare-methods.js";
import { FLOOR_PATH } from "./bench-app.js";

type Json = Record<string, unknown>;

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
  return err instanceof RoomgateError
    ? { kind: err.kind, message: err.message }
    : { kind: "internal", message: "internal error" };
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
        res.writeHead(status, {
          "content-type": type,
          "content-length": typeof out === "string" ? Buffer.byteLength(out) : out.length,
        });
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
          stream.sendTrailers(
            message === ""
              ? { "grpc-status": grpcStatus }
              : { "grpc-status": grpcStatus, "grpc-message": encodeURIComponent(message) },
          );
        });
        stream.end(frame);
      },
      () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR),
    );
  });
  return server;
}
