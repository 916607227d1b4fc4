import { Code, ConnectError, type Interceptor, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";
import { invalidArgument, RoomgateError } from "../domain/errors.js";
import { StaleReplicaError } from "../domain/feed/lease.js";
import { freshEnough, type Freshness } from "../services/freshness.js";
import type { CompatReply, CompatRoute } from "./compat.js";

/**
 * The consistency token as a request header, on every call: the end-user
 * calls that check access (JoinRoom, Redeem, GenerateAccess, moderation)
 * have no `min_event_id` field, and seed 002's REST route has no body. The
 * REST route also takes it as the `minEventId` query parameter.
 */
export const MIN_EVENT_ID_HEADER = "roomgate-min-event-id";

/** This process's lease on its memory (FeedLease). */
export interface LeaseCheck {
  check(waitMs: number): Promise<void> | undefined;
}

/**
 * The wait before a call may read this process's memory: its lease must
 * run (see FeedLease) and event `minEventId` must be applied. Undefined
 * when there is nothing to wait for — the usual case, no promise at all.
 * Rejects with `unavailable` when this process cannot get there in time.
 */
export type ReadGate = (minEventId: bigint) => Promise<void> | undefined;

/** The {@link ReadGate} of one process. */
export function readGate(lease: LeaseCheck, feed: Freshness, waitMs: number): ReadGate {
  const stale = (err: unknown): never => {
    throw err instanceof StaleReplicaError ? new ConnectError(err.message, Code.Unavailable) : err;
  };
  return (minEventId) => {
    const leased = lease.check(waitMs);
    if (leased === undefined) return freshEnough(feed, minEventId, waitMs);
    return leased.then(() => freshEnough(feed, minEventId, waitMs), stale);
  };
}

/** Services that answer without this process's memory of the service state. */
const UNGATED = /^grpc\.(health|reflection)\./;

/** The header's consistency token: 0n when absent; invalid_argument when not a decimal id. */
export function headerMinEventId(value: string | null | undefined): bigint {
  if (value === null || value === undefined || value === "") return 0n;
  if (!/^\d{1,20}$/.test(value)) throw invalidArgument(`${MIN_EVENT_ID_HEADER}: expected an event id (decimal digits)`);
  return BigInt(value);
}

/** A request message's own `min_event_id`, when it has one. */
function bodyMinEventId(message: unknown): bigint {
  const v = (message as { minEventId?: unknown } | undefined)?.minEventId;
  return typeof v === "bigint" ? v : 0n;
}

const larger = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/**
 * Runs the {@link ReadGate} before anything else resolves the call's
 * credential (API key, token, cookie): a credential revoked by the event
 * the caller waits for is then refused, never served from older memory.
 * A stream's request message is read first for its `min_event_id`.
 */
export function freshnessInterceptor(gate: ReadGate): Interceptor {
  return (next) => (req) => {
    if (UNGATED.test(req.service.typeName)) return next(req);
    let min: bigint;
    try {
      min = headerMinEventId(req.header.get(MIN_EVENT_ID_HEADER));
    } catch (err) {
      return Promise.reject(err);
    }
    if (req.stream) return streamThenNext(gate, req, min, next);
    let wait: Promise<void> | undefined;
    try {
      wait = gate(larger(min, bodyMinEventId(req.message)));
    } catch (err) {
      return Promise.reject(err);
    }
    return wait === undefined ? next(req) : wait.then(() => next(req));
  };
}

/** For a stream: its first request message, the gate, then the call with that message put back. */
async function streamThenNext<T>(
  gate: ReadGate,
  req: StreamRequest,
  header: bigint,
  next: (req: UnaryRequest | StreamRequest) => Promise<T>,
): Promise<T> {
  const it = req.message[Symbol.asyncIterator]();
  const first = await it.next();
  await gate(larger(header, first.done ? 0n : bodyMinEventId(first.value)));
  async function* replay(): AsyncGenerator<unknown> {
    if (first.done) return;
    yield first.value;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  return next({ ...req, message: replay() } as StreamRequest);
}

/**
 * A REST route behind the {@link ReadGate}: the consistency token from the
 * header or the `minEventId` query parameter; `unavailable` is a 503 in
 * the route's own error shape.
 */
export function gatedRoute(route: CompatRoute, gate: ReadGate): CompatRoute {
  const fail = (status: number, code: "invalid_argument" | "unavailable", message: string): CompatReply => ({
    status,
    body: route.errorShape(status, code, message),
  });
  return {
    ...route,
    handle: async (ctx) => {
      let min: bigint;
      try {
        const header = ctx.headers[MIN_EVENT_ID_HEADER];
        min = headerMinEventId(typeof header === "string" ? header : (ctx.query.get("minEventId") ?? undefined));
        await gate(min);
      } catch (err) {
        if (err instanceof ConnectError && err.code === Code.Unavailable)
          return fail(503, "unavailable", err.rawMessage);
        if (err instanceof RoomgateError && err.kind === "invalid_argument")
          return fail(400, "invalid_argument", err.message);
        throw err;
      }
      return route.handle(ctx);
    },
  };
}
