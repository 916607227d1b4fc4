import type http from "node:http";
import type http2 from "node:http2";
import {
  contentTypeUnaryRegExp,
  grpcContentTypeRegExp,
  parseConnectTimeout,
  parseGrpcTimeout,
} from "./connect-internals.js";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;

/** How a qualifying call is framed. */
export interface Qualified {
  readonly grpc: boolean;
  readonly binary: boolean;
  /** Absolute deadline (epoch ms), when the call carries a timeout. */
  readonly deadline: number | undefined;
}

/**
 * Whether a request to a unary method is one the fast path serves, and how.
 * Anything else — another HTTP method or version, a content type other than
 * Connect unary JSON/proto or gRPC proto (gRPC only over HTTP/2), a
 * compressed body, a timeout header connect would refuse, a body announced
 * larger than `readMaxBytes`, a request without an authority — is left to
 * connect-node, which answers it as it always has (those are its error
 * paths; the fast path never has to copy them). The content types and
 * timeouts are judged by connect's own exports.
 */
export function qualify(req: NodeRequest, readMaxBytes: number, maxTimeoutMs: number): Qualified | undefined {
  if (req.method !== "POST") return undefined;
  const h2 = req.httpVersionMajor === 2;
  const headers = req.headers;
  if (
    h2
      ? (req as http2.Http2ServerRequest).authority === undefined
      : req.httpVersion !== "1.1" || headers.host === undefined
  )
    return undefined;
  const ct = headers["content-type"];
  if (typeof ct !== "string") return undefined;
  let grpc: boolean;
  let binary: boolean;
  if (contentTypeUnaryRegExp.test(ct)) {
    grpc = false;
    binary = !/json/i.test(ct);
    if (compressed(headers["content-encoding"]) || compressed(headers["connect-content-encoding"])) return undefined;
  } else if (h2 && grpcContentTypeRegExp.test(ct) && !/json/i.test(ct)) {
    grpc = true;
    binary = true;
    if (compressed(headers["grpc-encoding"])) return undefined;
  } else {
    return undefined;
  }
  const cl = headers["content-length"];
  if (cl !== undefined && Number(cl) > readMaxBytes) return undefined;
  const timeoutHeader = headers[grpc ? "grpc-timeout" : "connect-timeout-ms"];
  let deadline: number | undefined;
  if (timeoutHeader !== undefined) {
    if (typeof timeoutHeader !== "string") return undefined;
    const t = (grpc ? parseGrpcTimeout : parseConnectTimeout)(timeoutHeader, maxTimeoutMs);
    if (t.error || t.timeoutMs === undefined) return undefined;
    deadline = Date.now() + t.timeoutMs;
  }
  return { grpc, binary, deadline };
}

function compressed(value: string | string[] | undefined): boolean {
  return value !== undefined && value !== "identity";
}
