import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  EventSchema,
  WatchResponseSchema,
  type Event,
  type Service,
  type WatchRequest,
  type WatchResponse,
} from "../../gen/room/events/private/v1/service_pb.js";
import { watchEvents, type WatchSource } from "../domain/events/watch.js";
import type { StoredEvent } from "../domain/journal.js";
import { checkOptionalId } from "../domain/ids.js";
import { StreamLimits } from "../domain/stream-limits.js";
import { requireApiKey } from "./context.js";

/** Settings of {@link EventsPrivateService}. */
export interface EventsServiceOptions {
  /** Live events a watcher may have pending before it is cut off. */
  readonly maxBuffered?: number;
  /** Open watchers per tenant; one more is refused with resource_exhausted. */
  readonly maxWatchersPerTenant?: number;
  /** Aborted when the server begins to drain: open streams end with unavailable (reconnect elsewhere). */
  readonly shutdown?: AbortSignal;
}

/**
 * room.events.private.v1.Service: streams the tenant's events (all, or one
 * room's) to backend services. The ordering, replay and buffering rules
 * live in {@link watchEvents}; this class only translates.
 */
export class EventsPrivateService implements ServiceImpl<typeof Service> {
  /** Open streams per tenant (an API key is its "user": no bound of its own). */
  private readonly limits: StreamLimits;
  /** Open streams by the API key that opened them, to end them when it is revoked. */
  private readonly byKey = new Map<string, Set<OpenStream>>();

  constructor(
    private readonly source: WatchSource,
    private readonly options: EventsServiceOptions = {},
  ) {
    this.limits = new StreamLimits("watchers", Infinity, options.maxWatchersPerTenant ?? 256);
  }

  /**
   * Checks the request before the stream starts (so a bad call fails in the
   * error interceptor like any other), then streams.
   */
  watch(req: WatchRequest, ctx: HandlerContext): AsyncIterable<WatchResponse> {
    const caller = requireApiKey(ctx);
    // The one id rule (src/domain/ids.ts), as where room ids are written.
    checkOptionalId("room_id", req.roomId);
    if (req.afterEventId > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ConnectError("after_event_id: no such event id", Code.InvalidArgument);
    }
    const stream: OpenStream = { keyId: caller.keyId, stop: new AbortController(), revoked: false };
    const events = watchEvents(this.source, {
      tenantId: caller.tenantId,
      roomId: req.roomId,
      afterEventId: Number(req.afterEventId),
      signal: AbortSignal.any([
        ctx.signal,
        stream.stop.signal,
        ...(this.options.shutdown ? [this.options.shutdown] : []),
      ]),
      maxBuffered: this.options.maxBuffered,
    });
    return this.translate(caller.tenantId, events, stream);
  }

  /** Watch streams open on this replica, every tenant together (metrics). */
  get openWatchers(): number {
    return this.limits.open;
  }

  /**
   * Ends every stream opened with `keyId` (on any tenant surface of this
   * replica) with unauthenticated: the key was revoked. Called by the
   * change feed, so a revocation made on any replica ends them everywhere.
   */
  endStreamsOfKey(keyId: string): void {
    for (const s of this.byKey.get(keyId) ?? []) {
      s.revoked = true;
      s.stop.abort();
    }
  }

  private async *translate(
    tenantId: string,
    events: AsyncIterable<StoredEvent>,
    stream: OpenStream,
  ): AsyncGenerator<WatchResponse> {
    // Counted when the stream starts and released when it ends, however it ends.
    const release = this.limits.acquire(tenantId, stream.keyId);
    let streams = this.byKey.get(stream.keyId);
    if (!streams) this.byKey.set(stream.keyId, (streams = new Set()));
    streams.add(stream);
    try {
      for await (const e of events) yield create(WatchResponseSchema, { event: toProtoEvent(e) });
      if (stream.revoked) throw new ConnectError("the API key of this stream was revoked", Code.Unauthenticated);
      if (this.options.shutdown?.aborted)
        throw new ConnectError("the server is shutting down: reconnect", Code.Unavailable);
    } finally {
      streams.delete(stream);
      if (streams.size === 0) this.byKey.delete(stream.keyId);
      release();
    }
  }
}

/** One open Watch stream. */
interface OpenStream {
  readonly keyId: string;
  readonly stop: AbortController;
  revoked: boolean;
}

/** A stored event as the contract's Event. */
export function toProtoEvent(e: StoredEvent): Event {
  return create(EventSchema, {
    id: BigInt(e.id),
    type: e.type,
    roomId: e.roomId ?? "",
    userId: e.userId ?? "",
    actor: e.actor,
    time: timestampFromMs(e.at),
    reason: e.reason ?? "",
    tokenId: e.tokenId ?? "",
    messageId: e.messageId ?? "",
    role: e.role ?? "",
    until: e.until === undefined || e.until === null ? undefined : timestampFromMs(e.until),
    spaceId: e.spaceId ?? "",
    inviteId: e.inviteId ?? "",
  });
}
