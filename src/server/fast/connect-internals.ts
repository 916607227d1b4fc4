/**
 * The fence around the fast path (issue 18), part 1 of 2: every private name
 * the fast path imports from `@connectrpc/connect`, and every piece of
 * `@connectrpc/connect` it copies. Part 2, connect-node-internals.ts, holds
 * the copies of `@connectrpc/connect-node`. No other file in src/ imports a
 * private connect export or copies connect's code; the rest of src/server/fast
 * composes what these two files export.
 *
 * Why a fence: connect's protocol entry points (`@connectrpc/connect/protocol`,
 * `/protocol-connect`, `/protocol-grpc`) mark these exports "private — internal
 * code that does not follow semantic versioning", and the copies follow code
 * that can change in any release. package.json pins connect and connect-node
 * exactly; test/e2e/fast-path-differential compares the fast path with
 * connect's own handler byte for byte, and scripts/connect-latest.sh runs it
 * against the newest release. Each entry names its upstream source: package,
 * file (connect-es `packages/connect/src/…`), function, and the version read
 * (2.1.2; every copy checked unchanged in 2.3.0 but the error metadata step,
 * which follows 2.2+). Not followed: 2.3's `requestGate` option (FastPath
 * leaves a router that sets one to connect).
 *
 * What upstream would need so this fence can shrink:
 * - A lazy handler context: `createHandlerContext` builds per call a deadline
 *   controller, a linked abort controller and copies of three header sets,
 *   which a unary call rarely uses. Were it lazy (or the handler given a
 *   context factory), {@link handlerSignal}, {@link mergeRequest},
 *   {@link unaryResponse} and src/server/fast/call.ts would go.
 * - A public unary handler taking an already-read body (a `Uint8Array` in a
 *   `UniversalServerRequest`): the fast path would then keep only its
 *   reading and writing of Node streams, and {@link applyInterceptors},
 *   {@link unaryImplementation}, {@link copyHeaders},
 *   {@link setConnectErrorMetadata} and the protocol imports below would go.
 * - A binary-parse error code: connect answers a protobuf binary body that does
 *   not parse with `internal` (JSON gets `invalid_argument`), before any
 *   interceptor runs; src/server/strict-binary.ts re-parses every binary body
 *   to answer `invalid_argument`. With `invalid_argument` upstream (or a
 *   parse-error hook) that guard would go.
 * - `mergeNonProtocolHeaders` as a public export (it is private in 2.2+).
 * - `createDeadlineSignal` capping its timer: a grpc-timeout past 2^31-1 ms
 *   (up to 99999H is valid) fires after 1 ms there; {@link handlerSignal} caps it.
 * - connect-node: see connect-node-internals.ts.
 */
import {
  create,
  type DescMessage,
  type DescMethodUnary,
  type JsonWriteOptions,
  type Message,
  toJsonString,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type HandlerContext,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";

// Private exports of @connectrpc/connect 2.1.2 (all below connect's "All
// exports below are private" line in each entry point's index.ts).
export {
  /** protocol/compression.ts `compressionNegotiate`: the response compression from an accept header. */
  compressionNegotiate,
  /** protocol/serialization.ts `createMethodSerializationLookup`: a method's parse/serialize, with the size limits. */
  createMethodSerializationLookup,
  /** protocol/envelope.ts `encodeEnvelope`: a gRPC message frame. */
  encodeEnvelope,
  /** protocol/serialization.ts `getJsonOptions`: the JSON options connect writes with. */
  getJsonOptions,
  type MethodSerializationLookup,
  /** protocol/universal-handler.ts `validateUniversalHandlerOptions`: the router options with connect's defaults. */
  validateUniversalHandlerOptions,
} from "@connectrpc/connect/protocol";
export {
  /** protocol-connect/http-status.ts `codeToHttpStatus`. */
  codeToHttpStatus,
  /** protocol-connect/content-type.ts `contentTypeUnaryRegExp`. */
  contentTypeUnaryRegExp,
  /** protocol-connect/error-json.ts `errorToJsonBytes`: a Connect error body. */
  errorToJsonBytes,
  /** protocol-connect/headers.ts. */
  headerUnaryContentLength,
  headerUnaryEncoding,
  /** protocol-connect/parse-timeout.ts `parseTimeout` (`connect-timeout-ms`). */
  parseTimeout as parseConnectTimeout,
  /** protocol-connect/trailer-mux.ts `trailerMux`: trailers as `trailer-` headers. */
  trailerMux,
} from "@connectrpc/connect/protocol-connect";
export {
  /** protocol-grpc/content-type.ts `contentTypeRegExp`. */
  contentTypeRegExp as grpcContentTypeRegExp,
  /** protocol-grpc/parse-timeout.ts `parseTimeout` (`grpc-timeout`). */
  parseTimeout as parseGrpcTimeout,
  /** protocol-grpc/trailer-status.ts `setTrailerStatus`: grpc-status, grpc-message, details, error metadata. */
  setTrailerStatus,
} from "@connectrpc/connect/protocol-grpc";
/** Public (above connect's "private" line), re-exported so the fast path has one import of connect's protocol. */
export type { Compression } from "@connectrpc/connect/protocol";

/** Copy of interceptor.ts `applyInterceptors` (2.1.2, not exported): the first interceptor is the outermost. */
export function applyInterceptors<T>(next: T, interceptors: readonly Interceptor[]): T {
  let n = next as unknown as Parameters<Interceptor>[0];
  for (let i = interceptors.length - 1; i >= 0; i--) n = interceptors[i]!(n);
  return n as unknown as T;
}

/** What the innermost `next` needs of a call: its context for a request, and its answer. */
export interface UnaryCallParts {
  contextFor(req: UnaryRequest): HandlerContext;
  response(message: unknown): UnaryResponse;
}

/**
 * Copy of protocol/invoke-implementation.ts `invokeUnaryImplementation`'s
 * innermost `next` (2.1.2): calls the implementation with the context merged
 * with the request the interceptors passed on, and answers with its message
 * (`normalize` is `create`). No async frame: a synchronous answer resolves at once.
 */
export function unaryImplementation(
  method: DescMethodUnary,
  impl: (input: unknown, ctx: unknown) => unknown,
  callOf: (req: UnaryRequest) => UnaryCallParts,
): (req: UnaryRequest) => Promise<UnaryResponse> {
  return (req) => {
    const call = callOf(req);
    let out: unknown;
    try {
      out = impl(req.message, call.contextFor(req));
    } catch (e) {
      return Promise.reject(e);
    }
    const answer = (o: unknown): UnaryResponse => call.response(create(method.output, o as never));
    return out instanceof Promise ? out.then(answer) : Promise.resolve(answer(out));
  };
}

/**
 * Copy of invoke-implementation.ts `mergeRequest` (2.1.2): the context the
 * implementation gets when an interceptor passed on a request of its own. The
 * trailer stays a getter (the fast path makes it on first use).
 */
export function mergeRequest(context: HandlerContext, req: UnaryRequest): HandlerContext {
  return {
    method: context.method,
    service: req.service,
    protocolName: context.protocolName,
    requestMethod: context.requestMethod,
    url: context.url,
    timeoutMs: () => context.timeoutMs(),
    requestHeader: req.header,
    responseHeader: context.responseHeader,
    get responseTrailer() {
      return context.responseTrailer;
    },
    signal: req.signal,
    values: req.contextValues,
  };
}

/** Copy of invoke-implementation.ts `responseCommon` (2.1.2): the answer, with the context's headers and (lazy) trailer. */
export function unaryResponse(context: HandlerContext, method: DescMethodUnary, message: unknown): UnaryResponse {
  return {
    stream: false,
    message,
    method,
    service: method.parent,
    header: context.responseHeader,
    get trailer() {
      return context.responseTrailer;
    },
  } as UnaryResponse;
}

/** Copy of invoke-implementation.ts `copyHeaders` (2.1.2): an interceptor that answered with headers of its own replaces the call's. */
export function copyHeaders(from: Headers, to: Headers): void {
  if (from === to) return;
  to.forEach((_, key) => {
    to.delete(key);
  });
  from.forEach((value, key) => {
    to.set(key, value);
  });
}

/**
 * Copy of the error step of protocol-connect/handler-factory.ts's unary
 * handler as of 2.2.0 and 2.3.0: the error's metadata goes into the response
 * headers, except protocol headers, and not at all for an error parsed from
 * the wire (`ConnectError.isWireError`, 2.2+; absent before, so every error's
 * metadata counts). 2.1.2 `set` every entry, protocol headers included.
 */
export function setConnectErrorMetadata(header: Headers, error: ConnectError): void {
  if ((error as { isWireError?: boolean }).isWireError === true) return;
  mergeNonProtocolHeaders(header, error.metadata);
}

/** Copy of protocol/protocol-headers.ts `protocolHeaders` (2.3.0): header names reserved by Connect, gRPC and gRPC-Web. */
const PROTOCOL_HEADERS = new Set([
  // HTTP
  "content-type",
  "content-length",
  "content-encoding",
  "host",
  "user-agent",
  "trailer",
  "date",
  // Connect
  "accept-encoding",
  "trailer-",
  "connect-content-encoding",
  "connect-accept-encoding",
  "connect-timeout-ms",
  "connect-protocol-version",
  // gRPC
  "grpc-encoding",
  "grpc-accept-encoding",
  "grpc-timeout",
  "grpc-status",
  "grpc-message",
  "grpc-status-details-bin",
]);

/** Copy of protocol/protocol-headers.ts `mergeNonProtocolHeaders` (2.3.0): appends every header but the protocol's. */
function mergeNonProtocolHeaders(into: Headers, from: Headers): void {
  from.forEach((value, key) => {
    if (!PROTOCOL_HEADERS.has(key.toLowerCase())) into.append(key, value);
  });
}

/** The longest delay setTimeout honours (a longer one fires after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Copy of protocol/signals.ts `createDeadlineSignal` + `createLinkedAbortController`
 * as implementation.ts `createHandlerContext` combines them (2.1.2), with
 * connect-node's request signal (see connect-node-internals.ts `clientGoneReason`)
 * as one of the linked signals: aborts on the deadline (a `deadline_exceeded`
 * ConnectError), on shutdown, and when `onGone` is told the client went away.
 * `cleanup` removes the timer and listeners (`context.abort` does the same).
 */
export function handlerSignal(
  deadline: number | undefined,
  shutdownSignal: AbortSignal | undefined,
  watchGone: (onGone: (reason?: unknown) => void) => () => void,
): { controller: AbortController; cleanup: () => void } {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let unwatch: (() => void) | undefined;
  const onShutdown = () => ac.abort(shutdownSignal!.reason);
  const cleanup = () => {
    clearTimeout(timer);
    shutdownSignal?.removeEventListener("abort", onShutdown);
    unwatch?.();
  };
  const timedOut = () => ac.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
  if (deadline !== undefined) {
    const left = deadline - Date.now();
    if (left <= 0) timedOut();
    // Node turns a delay past 2^31-1 ms into 1 ms (TimeoutOverflowWarning): a
    // deadline 25 days or more away (grpc-timeout goes up to 99999H) arms no timer.
    else if (left <= MAX_TIMER_MS) timer = setTimeout(timedOut, left);
  }
  if (!ac.signal.aborted && shutdownSignal) {
    if (shutdownSignal.aborted) onShutdown();
    else shutdownSignal.addEventListener("abort", onShutdown);
  }
  if (!ac.signal.aborted) unwatch = watchGone((reason?: unknown) => ac.abort(reason));
  ac.signal.addEventListener("abort", cleanup, { once: true });
  return { controller: ac, cleanup };
}

/**
 * A Connect JSON answer as text, as protocol/serialization.ts
 * `createJsonSerialization` + `limitSerialization` make it (2.1.2:
 * `toJsonString` with its options, failures `internal`, over `writeMaxBytes`
 * refused with `assertWriteMaxBytes`'s message) but not encoded: Node writes a
 * text body together with the response head in one write, a byte body as a
 * second buffer (writev).
 */
export function jsonAnswer(
  desc: DescMessage,
  message: unknown,
  options: Partial<JsonWriteOptions>,
  writeMaxBytes: number,
): string {
  let text: string;
  try {
    text = toJsonString(desc, message as Message, options);
  } catch (e) {
    throw ConnectError.from(e, Code.Internal);
  }
  const size = Buffer.byteLength(text);
  if (size > writeMaxBytes)
    throw new ConnectError(
      `message size ${size} is larger than configured writeMaxBytes ${writeMaxBytes}`,
      Code.ResourceExhausted,
    );
  return text;
}
