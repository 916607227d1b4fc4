import type { JsonWriteOptions } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type http from "node:http";
import type http2 from "node:http2";
import type { FastCall } from "./call.js";
import {
  codeToHttpStatus,
  type Compression,
  encodeEnvelope,
  errorToJsonBytes,
  headerUnaryContentLength,
  headerUnaryEncoding,
  setConnectErrorMetadata,
  setTrailerStatus,
  trailerMux,
} from "./connect-internals.js";
import { nodeHeaders } from "./connect-node-internals.js";

type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/** What the writers need besides the call. */
export interface Writer {
  readonly res: NodeResponse;
  /** The negotiated response compression (connect's `compressionNegotiate`), or null. */
  readonly compression: Compression | null;
  readonly compressMinBytes: number;
  readonly jsonOptions: Partial<JsonWriteOptions> | undefined;
}

/**
 * Any failure as the ConnectError connect's handlers answer with: a
 * ConnectError as it is, anything else as a bare `internal`.
 */
export function asConnectError(e: unknown): ConnectError {
  return e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
}

/**
 * Answers a Connect unary call as connect's unary handler does: 200 and the
 * message, or the error's HTTP status with the error as JSON (its metadata
 * as headers, but for protocol headers: see {@link setConnectErrorMetadata}); the body compressed when negotiated and large enough; the
 * trailer muxed into `trailer-` headers; Content-Length set. The steps are
 * connect's (`protocol-connect` handler-factory, not exported as a unit);
 * each piece is connect's own export.
 */
export function writeConnect(
  w: Writer,
  call: FastCall,
  body: Uint8Array | string | undefined,
  error: ConnectError | undefined,
): void {
  let status = 200;
  if (error) {
    status = codeToHttpStatus(error.code);
    call.responseHeader.set("content-type", "application/json");
    setConnectErrorMetadata(call.responseHeader, error);
    body = errorToJsonBytes(error, w.jsonOptions ?? {});
  }
  const finish = (bytes: Uint8Array | string, size: number) => {
    const trailer = call.trailerIfAny;
    // trailerMux copies the header; without a trailer the copy would be identical.
    const header = trailer ? trailerMux(call.responseHeader, trailer) : call.responseHeader;
    header.set(headerUnaryContentLength, size.toString(10));
    w.res.writeHead(status, nodeHeaders(header));
    w.res.end(bytes);
  };
  const size = typeof body === "string" ? Buffer.byteLength(body) : body!.byteLength;
  if (w.compression && size >= w.compressMinBytes) {
    const name = w.compression.name;
    void w.compression.compress(typeof body === "string" ? Buffer.from(body) : body!).then(
      (zipped) => {
        call.responseHeader.set(headerUnaryEncoding, name);
        finish(zipped, zipped.byteLength);
      },
      (e: unknown) => w.res.destroy(e as Error),
    );
    return;
  }
  finish(body!, size);
}

/**
 * Answers a gRPC call as connect's gRPC handler and connect-node's response
 * writer do: headers (status 200), then the message in one envelope
 * (compressed when negotiated and large enough), then the trailer with
 * grpc-status — or, on error, no message and the error in the trailer
 * (`setTrailerStatus`: grpc-status, grpc-message, grpc-status-details-bin).
 */
export function writeGrpc(
  w: Writer,
  call: FastCall,
  body: Uint8Array | string | undefined,
  error: ConnectError | undefined,
): void {
  const trailer = call.responseTrailer;
  const finish = (envelope: Uint8Array | undefined) => {
    if (error) setTrailerStatus(trailer, error);
    const res = w.res as http2.Http2ServerResponse;
    res.addTrailers(nodeHeaders(trailer));
    if (res.headersSent || res.getHeaderNames().length > 0 || res.stream.destroyed) {
      // Headers set on the response itself (CORS) or a stream already gone: the compatibility layer's way.
      res.writeHead(200, nodeHeaders(call.responseHeader));
      if (envelope) res.write(envelope);
      res.end();
      return;
    }
    // On the stream itself (node:http2's stream API): one respond and one end,
    // without the compatibility layer's per-write bookkeeping. Its response
    // object still sends the trailers it holds (addTrailers above) when the
    // stream asks for them, and still ends as the stream does.
    const headers: http2.OutgoingHttpHeaders = nodeHeaders(call.responseHeader);
    headers[":status"] = 200;
    res.stream.respond(headers, { waitForTrailers: true });
    res.stream.end(envelope);
  };
  if (error || body === undefined) {
    finish(undefined);
    return;
  }
  if (typeof body === "string") body = Buffer.from(body); // gRPC answers are binary; never text
  if (w.compression && body.byteLength >= w.compressMinBytes) {
    void w.compression.compress(body).then(
      (zipped) => finish(encodeEnvelope(1, zipped)),
      (e: unknown) => {
        error = asConnectError(e);
        finish(undefined);
      },
    );
    return;
  }
  finish(encodeEnvelope(0, body));
}
