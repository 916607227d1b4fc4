import { fromBinary } from "@bufbuild/protobuf";
import { type ContextValues, createContextKey, createContextValues } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";

/** The reason a binary body did not parse, set by {@link guardBinaryParse} on the call it replaced the body of. */
const parseErrorKey = createContextKey<string | undefined>(undefined, { description: "roomgate.binaryParseError" });

/** An empty message: the stand-in for a body that did not parse (it parses as any message type). */
const EMPTY = new Uint8Array(0);

/**
 * Makes malformed protobuf binary requests fail with invalid_argument.
 *
 * connect-es reports a binary parse failure as `internal` (JSON gets
 * `invalid_argument`), and does so before any interceptor runs. This wrapper
 * buffers a unary binary body (Connect `application/proto`, or one
 * uncompressed gRPC / gRPC-Web envelope), tries the parse, and on failure
 * replaces the body with an empty message and puts the reason in the call's
 * context values ({@link takeParseError}). Connect then parses the stand-in
 * and the strict-fields interceptor refuses the call in the caller's own
 * protocol. Bodies over `readMaxBytes`, compressed bodies and JSON pass
 * through. (What connect would need for this to go: see "binary-parse error
 * code" in src/server/fast/connect-internals.ts.)
 */
export function guardBinaryParse(handler: UniversalHandler, readMaxBytes: number): UniversalHandler {
  if (handler.method.methodKind !== "unary" && handler.method.methodKind !== "server_streaming") return handler;
  const schema = handler.method.input;
  const guarded = async (req: UniversalServerRequest) => {
    const framing = binaryFraming(req);
    if (framing === undefined || !isByteStream(req.body)) return handler(req);
    const body = await readUpTo(req.body, readMaxBytes + 5);
    const payload = framing === "envelope" ? unenvelope(body) : body;
    let reason: string | undefined;
    if (payload !== undefined && body.length <= readMaxBytes) {
      try {
        fromBinary(schema, payload);
      } catch (err) {
        reason = err instanceof Error ? err.message : "malformed message";
      }
    }
    if (reason === undefined) return handler({ ...req, body: single(body) });
    const replacement = framing === "envelope" ? envelope(EMPTY) : EMPTY;
    // The stand-in has its own length: a Content-Length promising the
    // original's would make connect answer with a framing error about the
    // stand-in instead of the parse error.
    const header = new Headers(req.header);
    header.set("content-length", String(replacement.length));
    const contextValues = req.contextValues ?? createContextValues();
    contextValues.set(parseErrorKey, reason);
    return handler({ ...req, header, body: single(replacement), contextValues });
  };
  return Object.assign(guarded, {
    protocolNames: handler.protocolNames,
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
  });
}

/** Why the call's binary body did not parse, if {@link guardBinaryParse} replaced it. */
export function takeParseError(values: ContextValues): string | undefined {
  return values.get(parseErrorKey);
}

/** "raw" for Connect unary binary, "envelope" for gRPC and gRPC-Web binary. */
function binaryFraming(req: UniversalServerRequest): "raw" | "envelope" | undefined {
  if (req.method !== "POST") return undefined;
  const ct = (req.header.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (ct === "application/proto") {
    const enc = req.header.get("content-encoding");
    return enc === null || enc === "identity" ? "raw" : undefined;
  }
  if (
    ct === "application/grpc" ||
    ct === "application/grpc+proto" ||
    ct === "application/grpc-web" ||
    ct === "application/grpc-web+proto"
  ) {
    return "envelope";
  }
  if (ct === "application/connect+proto") return "envelope"; // Connect streaming
  return undefined;
}

/** The payload of exactly one uncompressed envelope, else undefined. */
function unenvelope(body: Uint8Array): Uint8Array | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined;
  const len = ((body[1]! << 24) | (body[2]! << 16) | (body[3]! << 8) | body[4]!) >>> 0;
  if (body.length !== 5 + len) return undefined;
  return body.subarray(5);
}

function envelope(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}

function isByteStream(body: unknown): body is AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}

/** Reads the body, stopping once it is longer than `limit` (connect then refuses it). */
async function readUpTo(body: AsyncIterable<Uint8Array>, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of body) {
    chunks.push(c);
    size += c.length;
    if (size > limit) break;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

async function* single(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
