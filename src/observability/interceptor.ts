import { Code, ConnectError, type ContextValues, type Interceptor } from "@connectrpc/connect";
import type { CallObserver, CallStart } from "./calls.js";
import type { Protocol } from "./metrics.js";
import { requestIdFrom } from "./request-id.js";

/** The protocol of a call, from its content type (Connect GET has none). */
export function protocolOf(contentType: string | null): Protocol {
  if (contentType === null) return "connect";
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/**
 * The tenant of a call, from its context values, once an auth interceptor
 * resolved one. Given by the composition root (services/context.ts
 * `tenantOfCall`): the principals are the services' concern, and
 * observability sits below them.
 */
export type CallTenant = (values: ContextValues) => string | undefined;

/**
 * Outermost interceptor: counts, times, traces and logs every call, and
 * answers with its request id (`x-request-id`: the caller's when valid,
 * else a new one) on success and error alike. Unary calls get no extra
 * async frame (a plain `then`); a stream is observed until it ends.
 */
export function observabilityInterceptor(observer: CallObserver, tenantOf: CallTenant): Interceptor {
  return (next) => (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const call = observer.begin(
      procedure,
      protocolOf(req.header.get("content-type")),
      requestIdFrom(req.header.get("x-request-id")),
      () => req.header,
    );
    const fail = (err: unknown): never => {
      const ce = ConnectError.from(err);
      ce.metadata.set("x-request-id", call.requestId);
      observer.end(call, codeToString(ce.code), tenantOf(req.contextValues));
      throw ce;
    };
    let pending: ReturnType<typeof next>;
    try {
      pending = call.span ? observer.tracing!.within(call.span, () => next(req)) : next(req);
    } catch (err) {
      return Promise.reject(err).catch(fail);
    }
    return pending.then((res) => {
      res.header.set("x-request-id", call.requestId);
      if (!res.stream) {
        observer.end(call, "ok", tenantOf(req.contextValues));
        return res;
      }
      const tenant = () => tenantOf(req.contextValues);
      return { ...res, message: observeStream(res.message, observer, call, tenant, req.signal) };
    }, fail);
  };
}

/**
 * Passes a response stream through and ends the call when it ends: ok, its
 * error's code, or canceled. A stream that ends quietly because its call's
 * signal fired (a Watch whose client went away ends without an error) is
 * not ok: canceled, or deadline_exceeded when its deadline passed.
 */
async function* observeStream<T>(
  source: AsyncIterable<T>,
  observer: CallObserver,
  call: CallStart,
  tenant: () => string | undefined,
  signal: AbortSignal,
): AsyncGenerator<T> {
  let code = "canceled";
  try {
    yield* source;
    code = signal.aborted ? abortedCode(signal.reason) : "ok";
  } catch (err) {
    code = codeToString(ConnectError.from(err).code);
    throw err;
  } finally {
    observer.end(call, code, tenant());
  }
}

/** Why a call's signal fired: its deadline, or else the client (or the server's cut-off) ended it. */
function abortedCode(reason: unknown): string {
  return reason instanceof ConnectError && reason.code === Code.DeadlineExceeded ? "deadline_exceeded" : "canceled";
}

/**
 * The Connect name of `code` ("invalid_argument"), from the public `Code`
 * enum's member name: connect's own codeToString lives in a subpath it marks
 * internal, and only the fast path's fence may import those.
 */
function codeToString(code: Code): string {
  return Code[code].replace(/[A-Z]/g, (c, at: number) => (at === 0 ? "" : "_") + c.toLowerCase());
}
