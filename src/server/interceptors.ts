import { Code, ConnectError, type Interceptor, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";
import type { Logger } from "pino";
import { create, type DescMethod } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { RoomAccessDenied_Reason, RoomAccessDeniedSchema } from "../../gen/room/errors/v1/errors_pb.js";
import { RoomAccessDeniedError, RoomgateError, type ErrorKind } from "../domain/errors.js";
import { apiKeyPrincipalKey } from "../services/context.js";
import { bearerApiKey, type ApiKeyGate } from "./api-key-auth.js";
import { takeParseError } from "./strict-binary.js";

const CODES: Record<ErrorKind, Code> = {
  invalid_argument: Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
};

/**
 * Normalises every failure once: domain errors keep their message and get
 * their code; Connect errors pass through; anything else is logged here and
 * reaches the caller only as a bare "internal error".
 */
export function toConnectError(err: unknown, log: Logger, procedure: string): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof RoomAccessDeniedError) {
    // Machine-readable: a media server tells a block from a missing right
    // (Connect error details; grpc-status-details-bin over gRPC).
    const detail = create(RoomAccessDeniedSchema, {
      reason: err.reason === "room_blocked" ? RoomAccessDenied_Reason.ROOM_BLOCKED : RoomAccessDenied_Reason.REMOVED,
      roomId: err.roomId,
      until: err.until === null ? undefined : timestampFromMs(err.until),
    });
    return new ConnectError(err.message, CODES[err.kind], undefined, [{ desc: RoomAccessDeniedSchema, value: detail }]);
  }
  if (err instanceof RoomgateError) return new ConnectError(err.message, CODES[err.kind]);
  logUnhandled(log, err, procedure);
  return new ConnectError("internal error", Code.Internal);
}

/**
 * Logs a failure that is not meant for the caller (it gets a bare
 * "internal error"). RPCs and REST routes log through here alike.
 */
export function logUnhandled(log: Logger, err: unknown, procedure: string): void {
  log.error({ err, procedure }, "unhandled error");
}

/**
 * Applies {@link toConnectError} to every call. Written without an async
 * frame (this runs on every call): a failure of the rest of the chain,
 * thrown at once or rejected later, is converted the same way.
 */
export function errorInterceptor(log: Logger): Interceptor {
  return (next) => (req) => {
    const fail = (err: unknown): never => {
      // The procedure, never req.url: a Connect GET carries the request
      // message (a token, say) in its query string.
      throw toConnectError(err, log, `${req.service.typeName}/${req.method.name}`);
    };
    try {
      return next(req).then((res) => (res.stream ? { ...res, message: convertStream(res.message, fail) } : res), fail);
    } catch (err) {
      return Promise.reject(err).catch(fail);
    }
  };
}

/**
 * Passes a response stream through, converting an error thrown part-way
 * (a Watch whose credential was revoked, a store failure) exactly as one
 * thrown before the first message.
 */
async function* convertStream<T>(source: AsyncIterable<T>, fail: (err: unknown) => never): AsyncGenerator<T> {
  try {
    yield* source;
  } catch (err) {
    fail(err);
  }
}

/** True for backend surfaces (`room.<area>.private.v1.Service`). */
export function isPrivateService(typeName: string): boolean {
  return /^room\.[a-z_]+\.private\.v1\./.test(typeName);
}

/**
 * Requires `Authorization: Bearer <api key>` on backend surfaces and puts the
 * resolved tenant into the call's context. Admission (the key and its rate
 * limit) goes through the same {@link ApiKeyGate} as the REST routes.
 */
export function apiKeyInterceptor(gate: ApiKeyGate): Interceptor {
  return (next) => (req) => {
    // End-user surfaces have nothing to await here: no async frame for them.
    if (!isPrivateService(req.service.typeName)) return next(req);
    // A key this process remembers: admitted without a promise or an async frame.
    let principal: ReturnType<ApiKeyGate["admitRemembered"]>;
    try {
      principal = gate.admitRemembered(bearerApiKey(req.header.get("authorization")), procedureOf(req.method));
    } catch (err) {
      return Promise.reject(err);
    }
    if (principal === undefined) return admitThenNext(gate, req, next);
    req.contextValues.set(apiKeyPrincipalKey, principal);
    return next(req);
  };
}

const procedures = new WeakMap<DescMethod, string>();

/** `<service>/<method>`, made once per method. */
function procedureOf(method: DescMethod): string {
  let p = procedures.get(method);
  if (p === undefined) {
    p = `${method.parent.typeName}/${method.name}`;
    procedures.set(method, p);
  }
  return p;
}

/** The backend half of {@link apiKeyInterceptor}: admits the key, then runs the call. */
async function admitThenNext<T>(
  gate: ApiKeyGate,
  req: UnaryRequest | StreamRequest,
  next: (req: UnaryRequest | StreamRequest) => Promise<T>,
): Promise<T> {
  // Refusals are RoomgateErrors; the error interceptor gives them their code.
  req.contextValues.set(
    apiKeyPrincipalKey,
    await gate.admit(bearerApiKey(req.header.get("authorization")), procedureOf(req.method)),
  );
  return next(req);
}

/**
 * Refuses binary requests that carry fields this contract does not know, or
 * that protobuf could not parse (see strict-binary.ts). JSON unknown fields
 * are already refused by the parser (see routes); for binary, protobuf keeps
 * them aside, and silently accepting them would hide a client bug just the
 * same. Streamed requests (a Watch's one message) are checked as they are
 * read, so no service repeats the check.
 */
export function strictFieldsInterceptor(): Interceptor {
  // Nothing to await: no async frame; a refusal is still a rejected promise.
  return (next) => (req) => {
    // JSON bodies never carry unknown fields (the parser refuses them), so
    // only binary ones need the walk.
    if ((req.header.get("content-type") ?? "").includes("json")) return next(req);
    const parseError = takeParseError(req.contextValues);
    if (req.stream) return next({ ...req, message: checkedMessages(req.message, parseError) });
    const refusal = binaryRefusal(req.message, parseError);
    return refusal ? Promise.reject(refusal) : next(req);
  };
}

/** The refusal of a binary message that did not parse (its stand-in, see strict-binary.ts) or carries unknown fields. */
function binaryRefusal(message: unknown, parseError: string | undefined): ConnectError | undefined {
  if (parseError !== undefined)
    return new ConnectError(`request is not valid protobuf binary (${parseError})`, Code.InvalidArgument);
  const path = findUnknown(message, "");
  if (path !== undefined)
    return new ConnectError(`unknown field in request${path === "" ? "" : ` at ${path}`}`, Code.InvalidArgument);
  return undefined;
}

/** Passes a request stream through, refusing a message as {@link binaryRefusal} does. */
async function* checkedMessages<T>(source: AsyncIterable<T>, parseError: string | undefined): AsyncGenerator<T> {
  for await (const m of source) {
    const refusal = binaryRefusal(m, parseError);
    if (refusal) throw refusal;
    yield m;
  }
}

/** Depth-first search for a message carrying `$unknown` fields. */
function findUnknown(value: unknown, path: string): string | undefined {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnknown(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const rec = value as Record<string, unknown>;
  const unknown = rec["$unknown"];
  if (Array.isArray(unknown) && unknown.length > 0) return path;
  for (const [k, v] of Object.entries(rec)) {
    if (k === "$unknown" || k === "$typeName") continue;
    const found = findUnknown(v, path === "" ? k : `${path}.${k}`);
    if (found !== undefined) return found;
  }
  return undefined;
}
