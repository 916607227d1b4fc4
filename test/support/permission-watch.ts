import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { expect } from "vitest";
import { type Action, Service as ModerationPrivate } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Service as Permissions, type WatchResponse } from "../../gen/room/permissions/v1/service_pb.js";
import type { TestServer } from "./server.js";
import { bearer } from "./clients.js";

/** The transports the permission stream is tested over (the brief's three). */
export const WATCH_TRANSPORTS: ReadonlyArray<{ name: string; make: (baseUrl: string) => Transport }> = [
  {
    name: "Connect JSON over HTTP/1.1",
    make: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
  },
  {
    name: "Connect binary over HTTP/2",
    make: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
  },
  { name: "gRPC over HTTP/2", make: (baseUrl) => createGrpcTransport({ baseUrl }) },
];

/** What a stream gave next: an answer, its end (ok or an error), or nothing yet. */
type Outcome = { kind: "answer"; value: WatchResponse } | { kind: "end"; error: ConnectError | undefined };

/**
 * One open room.permissions.v1 Watch call, read answer by answer. Reads
 * run ahead in the background so `ended()` and `next()` never race.
 */
export class PermissionStream {
  private readonly ctl = new AbortController();
  private readonly queue: Outcome[] = [];
  private waiter: (() => void) | undefined;

  constructor(client: Client<typeof Permissions>, roomId: string, headers: Record<string, string>, minEventId = 0n) {
    const it = client.watch({ roomId, minEventId }, { headers, signal: this.ctl.signal });
    void (async () => {
      try {
        for await (const value of it) this.push({ kind: "answer", value });
        this.push({ kind: "end", error: undefined });
      } catch (err) {
        this.push({ kind: "end", error: ConnectError.from(err) });
      }
    })();
  }

  /** Opens a stream over `transport` (Connect JSON over HTTP/1.1 unless told). */
  static open(
    srv: TestServer,
    roomId: string,
    headers: Record<string, string>,
    transport?: Transport,
    minEventId = 0n,
  ): PermissionStream {
    const t = transport ?? createConnectTransport({ baseUrl: srv.baseUrl, httpVersion: "1.1" });
    return new PermissionStream(createClient(Permissions, t), roomId, headers, minEventId);
  }

  /** The next answer; fails when the stream ends instead, or nothing comes within `ms` (a hang, not a timing check). */
  async next(ms = 5_000): Promise<WatchResponse> {
    const o = await this.take(ms);
    if (o.kind === "end")
      throw new Error(
        `the stream ended (${o.error ? `${Code[o.error.code]}: ${o.error.rawMessage}` : "ok"}) instead of answering`,
      );
    return o.value;
  }

  /** How the stream ended; fails when it answers instead. */
  async ended(ms = 5_000): Promise<ConnectError | undefined> {
    const o = await this.take(ms);
    if (o.kind === "answer")
      throw new Error(`the stream answered instead of ending: ${JSON.stringify(o.value.roomPermissions?.granted)}`);
    return o.error;
  }

  /** The first thing the stream gives: an answer (opened) or the error it ended with. */
  async opened(ms = 5_000): Promise<true | ConnectError> {
    const o = await this.take(ms);
    if (o.kind === "answer") return true;
    if (!o.error) throw new Error("the stream ended without an answer or an error");
    return o.error;
  }

  /** Hangs up like a client going away. */
  close(): void {
    this.ctl.abort();
  }

  private push(o: Outcome): void {
    this.queue.push(o);
    this.waiter?.();
  }

  private async take(ms: number): Promise<Outcome> {
    const until = Date.now() + ms;
    while (this.queue.length === 0) {
      const left = until - Date.now();
      if (left <= 0) throw new Error(`nothing from the stream within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift()!;
  }
}

/** Seed 002 flags of an answer, without the message's type name. */
export function flagsOf(r: WatchResponse): Record<string, boolean> {
  const { $typeName: _t, $unknown: _u, ...flags } = r.roomPermissions!.permissions!;
  return flags;
}

/** The sending flag a page greys its send button by. */
export function canSend(r: WatchResponse): boolean {
  return r.roomPermissions!.permissions!.canSendMessagesInMainThread;
}

/** The backend's moderation client (API key), gRPC. */
export function moderationPrivate(srv: TestServer): Client<typeof ModerationPrivate> {
  return createClient(ModerationPrivate, createGrpcTransport({ baseUrl: srv.baseUrl }));
}

/** A moderation action by the API key; returns its event id. */
export async function act(
  srv: TestServer,
  action: Action,
  roomId: string,
  targetUserId: string,
  durationSeconds = 0,
  apiKey = srv.apiKey,
): Promise<bigint> {
  const res = await moderationPrivate(srv).act(
    { action, roomId, targetUserId, durationSeconds, reason: "test" },
    bearer(apiKey),
  );
  expect(res.eventId).toBeGreaterThan(0n);
  return res.eventId;
}
