import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import {
  EventType,
  Service as Events,
  type Event,
  WatchRequestSchema,
} from "../../gen/room/events/private/v1/service_pb.js";
import { Service as SpacesPrivate } from "../../gen/room/spaces/private/v1/service_pb.js";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { authenticateApiKey } from "../../src/domain/auth/api-keys.js";
import {
  bearer,
  connectTransport,
  expectCode,
  grpcTransport,
  tokensClient,
  type TokensClient,
} from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { as, spacesClient } from "../support/spaces-clients.js";
import { createTestUser } from "../support/users.js";

let srv: TestServer;
let keyActor: string;
beforeAll(async () => {
  srv = await startTestServer();
  keyActor = `key:${(await authenticateApiKey(srv.h.tenants, srv.apiKey))!.keyId}`;
});
afterAll(async () => {
  await srv?.close();
});

const TRANSPORTS: ReadonlyArray<{ name: string; make: (baseUrl: string) => Transport }> = [
  {
    name: "Connect streaming over HTTP/1.1",
    make: (baseUrl) => connectTransport(baseUrl),
  },
  { name: "gRPC over HTTP/2", make: (baseUrl) => grpcTransport(baseUrl) },
];

type WatchRequestInit = Omit<MessageInitShape<typeof WatchRequestSchema>, "$typeName">;

let roomSeq = 0;
function freshRoom(): string {
  return `events-room-${++roomSeq}-${Date.now()}`;
}

/** Waits until `cond` holds (the server side of a watch subscribes asynchronously). */
async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  await vi.waitFor(() => expect(cond(), what).toBe(true), { timeout: ms, interval: 2 });
}

/** One open Watch call, read event by event; `close()` hangs up like a client going away. */
class Watcher {
  private readonly ctl = new AbortController();
  private readonly it: AsyncIterator<{ event?: Event }>;
  private pending: Promise<IteratorResult<{ event?: Event }>> | undefined;

  constructor(client: Client<typeof Events>, req: WatchRequestInit, key: string) {
    this.it = client.watch(req, { ...bearer(key), signal: this.ctl.signal })[Symbol.asyncIterator]();
  }

  /** Opens the stream and waits until the server has subscribed to the bus. */
  static async open(srv: TestServer, transport: Transport, req: WatchRequestInit, key = srv.apiKey): Promise<Watcher> {
    const before = srv.h.bus.size;
    const w = new Watcher(createClient(Events, transport), req, key);
    w.pending = w.it.next(); // sends the request
    // A stream may end with an error (a server shutting down: unavailable) before the test reads it.
    w.pending.catch(() => undefined);
    await waitFor(() => srv.h.bus.size > before, "the watch to subscribe");
    return w;
  }

  /** The next event; fails instead of hanging when none comes within `ms`. */
  async next(ms = 2_000): Promise<Event> {
    const p = this.pending ?? this.it.next();
    this.pending = undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
    });
    try {
      const r = await Promise.race([p, timeout]);
      if (r.done) throw new Error("the stream ended");
      return r.value.event!;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The first result of the call, for calls expected to fail. */
  first(): Promise<unknown> {
    return this.pending ?? this.it.next();
  }

  close(): void {
    this.ctl.abort();
    this.pending?.catch(() => {});
  }
}

let open: Watcher[] = [];
async function watch(transport: Transport, req: WatchRequestInit, key = srv.apiKey): Promise<Watcher> {
  const w = await Watcher.open(srv, transport, req, key);
  open.push(w);
  return w;
}
afterEach(async () => {
  for (const w of open) w.close();
  open = [];
  // Every watch lets go of the bus once its client is gone.
  await waitFor(() => srv.h.bus.size === 0, "watchers to unsubscribe");
});

let tokensShared: TokensClient | undefined;
/** One backend client (one HTTP/2 connection) for every write the tests cause. */
function tokens(): TokensClient {
  tokensShared ??= tokensClient(grpcTransport(srv.baseUrl));
  return tokensShared;
}

describe("Watch delivers an API write to its watchers", () => {
  it.each(TRANSPORTS.map((t) => [t.name, t] as const))(
    "%s: RevokeUser reaches a tenant watcher and a room watcher",
    async (_name, t) => {
      const roomId = freshRoom();
      await tokens()
        .verify({ token: "x" }, bearer(srv.apiKey))
        .catch(() => {}); // warm the writer's connection
      const tenantWide = await watch(t.make(srv.baseUrl), {});
      const roomOnly = await watch(t.make(srv.baseUrl), { roomId });
      // How soon it arrives is measured by bench/watch-and-shutdown.ts.
      const res = await tokens().revokeUser(
        { userId: "alice", roomId, reason: "left the company" },
        bearer(srv.apiKey),
      );
      const e = await tenantWide.next();
      const r = await roomOnly.next();
      expect(e.id).toBe(res.eventId);
      expect(r.id).toBe(res.eventId);
      expect(e.type).toBe(EventType.TOKEN_REVOKED);
      expect(e.roomId).toBe(roomId);
      expect(e.userId).toBe("alice");
      expect(e.actor).toBe(keyActor);
      expect(e.reason).toBe("left the company");
      expect(e.time).toBeDefined();
      expect(e.until).toBeUndefined();
    },
  );

  it("a backend GrantRole is ROLE_GRANTED; replacing the role adds PERMISSIONS_CHANGED", async () => {
    const roomId = freshRoom();
    // Create names the room (a room without a space), GrantRole needs a real user.
    await tokens().create(
      { arguments: [{ userId: "x", roomId, permissions: [Permission.PermissionChat] }] },
      bearer(srv.apiKey),
    );
    const user = await createTestUser(srv);
    const w = await watch(TRANSPORTS[0]!.make(srv.baseUrl), { roomId });
    const grants = createClient(SpacesPrivate, grpcTransport(srv.baseUrl));
    await grants.grantRole({ roomId, targetUserId: user.userId, role: "role_room_user" }, bearer(srv.apiKey));
    const g1 = await w.next();
    expect([EventType[g1.type], g1.role, g1.userId, g1.roomId, g1.actor]).toEqual([
      "ROLE_GRANTED",
      "role_room_user",
      user.userId,
      roomId,
      keyActor,
    ]);
    await grants.grantRole({ roomId, targetUserId: user.userId, role: "role_room_moderator" }, bearer(srv.apiKey));
    const g2 = await w.next();
    const changed = await w.next();
    expect([EventType[g2.type], g2.role]).toEqual(["ROLE_GRANTED", "role_room_moderator"]);
    expect([EventType[changed.type], changed.userId, changed.roomId]).toEqual([
      "PERMISSIONS_CHANGED",
      user.userId,
      roomId,
    ]);
    expect(changed.id).toBe(g2.id + 1n);
  });

  it("joining a public room is MEMBER_JOINED, by the user who joined", async () => {
    const owner = await createTestUser(srv);
    const joiner = await createTestUser(srv);
    const spaces = spacesClient(srv);
    const { id: spaceId } = await spaces.createSpace({ name: "Lobby", isPublic: true }, as(owner.token));
    const { id: roomId } = await spaces.createRoom({ spaceId, name: "General", isPublic: true }, as(owner.token));
    const w = await watch(TRANSPORTS[1]!.make(srv.baseUrl), { roomId });
    await spaces.joinRoom({ spaceId, roomId }, as(joiner.token));
    const e = await w.next();
    expect([EventType[e.type], e.userId, e.roomId, e.actor, e.role]).toEqual([
      "MEMBER_JOINED",
      joiner.userId,
      roomId,
      `user:${joiner.userId}`,
      "role_room_user",
    ]);
  });
});

describe("Watch filters", () => {
  it("a room watcher sees nothing of other rooms", async () => {
    const mine = freshRoom();
    const other = freshRoom();
    const w = await watch(TRANSPORTS[0]!.make(srv.baseUrl), { roomId: mine });
    await tokens().revokeRoom({ roomId: other, reason: "" }, bearer(srv.apiKey));
    await tokens().revokeUser({ userId: "bob", roomId: other, reason: "" }, bearer(srv.apiKey));
    await tokens().revokeUser({ userId: "bob", roomId: "", reason: "" }, bearer(srv.apiKey)); // no room at all
    const sentinel = await tokens().revokeRoom({ roomId: mine, reason: "" }, bearer(srv.apiKey));
    // Streams are ordered: had any of the others been sent, it would come first.
    const e = await w.next();
    expect(e.id).toBe(sentinel.eventId);
    expect(e.roomId).toBe(mine);
  });

  it.each(TRANSPORTS.map((t) => [t.name, t] as const))(
    "%s: another tenant's watcher sees nothing of ours, and ours nothing of theirs",
    async (_name, t) => {
      const roomId = freshRoom(); // the same room id in both tenants
      const theirs = await watch(t.make(srv.baseUrl), {}, srv.otherKey);
      const theirRoom = await watch(t.make(srv.baseUrl), { roomId }, srv.otherKey);
      const ours = await watch(t.make(srv.baseUrl), { roomId });
      const mine = await tokens().revokeRoom({ roomId, reason: "ours" }, bearer(srv.apiKey));
      await tokens().revokeUser({ userId: "carol", roomId, reason: "ours" }, bearer(srv.apiKey));
      const sentinel = await tokens().revokeRoom({ roomId, reason: "theirs" }, bearer(srv.otherKey));
      expect((await theirs.next()).id).toBe(sentinel.eventId);
      const e = await theirRoom.next();
      expect(e.id).toBe(sentinel.eventId);
      expect(e.reason).toBe("theirs");
      expect((await ours.next()).id).toBe(mine.eventId);
      expect((await ours.next()).reason).toBe("ours");
      // A replay from the first id in the other tenant holds only that tenant's events.
      const replay = await watch(t.make(srv.baseUrl), { afterEventId: 1n }, srv.otherKey);
      for (let e = await replay.next(); ; e = await replay.next()) {
        expect(e.reason).toBe("theirs");
        if (e.id === sentinel.eventId) break;
      }
    },
  );
});

describe("Watch resumes after a disconnect", () => {
  it.each(TRANSPORTS.map((t) => [t.name, t] as const))(
    "%s: after_event_id replays exactly the missed events in order, then goes live",
    async (_name, t) => {
      const roomId = freshRoom();
      const revoke = async (userId: string) =>
        (await tokens().revokeUser({ userId, roomId, reason: "" }, bearer(srv.apiKey))).eventId;
      const first = await watch(t.make(srv.baseUrl), { roomId });
      const seen = [await revoke("u1"), await revoke("u2"), await revoke("u3")];
      const got = [(await first.next()).id, (await first.next()).id, (await first.next()).id];
      expect(got).toEqual(seen);
      first.close();
      await waitFor(() => srv.h.bus.size === 0, "the first watch to end");

      const missed = [await revoke("u4"), await revoke("u5"), await revoke("u6"), await revoke("u7")];
      await tokens().revokeRoom({ roomId: freshRoom(), reason: "" }, bearer(srv.apiKey)); // another room: not replayed
      const again = await watch(t.make(srv.baseUrl), { roomId, afterEventId: got[2]! });
      const replayed: Event[] = [];
      for (let i = 0; i < missed.length; i++) replayed.push(await again.next());
      expect(replayed.map((e) => e.id)).toEqual(missed);
      expect(replayed.map((e) => e.userId)).toEqual(["u4", "u5", "u6", "u7"]);
      const live = await revoke("u8");
      const next = await again.next();
      expect(next.id).toBe(live); // nothing in between: no duplicate, no gap
      expect(next.userId).toBe("u8");
    },
  );
});

describe("Watch credentials and input", () => {
  it.each(TRANSPORTS.map((t) => [t.name, t] as const))(
    "%s: a missing or wrong API key is unauthenticated",
    async (_name, t) => {
      const client = createClient(Events, t.make(srv.baseUrl));
      const firstOf = (it: AsyncIterable<unknown>) => it[Symbol.asyncIterator]().next();
      await expectCode(firstOf(client.watch({})), Code.Unauthenticated, /missing API key/);
      await expectCode(firstOf(client.watch({}, bearer("not-a-real-key"))), Code.Unauthenticated, "invalid API key");
      // A user access token is not an API key either.
      await expectCode(
        firstOf(client.watch({}, bearer((await createTestUser(srv)).token))),
        Code.Unauthenticated,
        "invalid API key",
      );
      expect(srv.h.bus.size).toBe(0);
    },
  );

  it.each(TRANSPORTS.map((t) => [t.name, t] as const))(
    "%s: a binary request with an unknown field, or malformed, is invalid_argument",
    async (_name, t) => {
      const client = createClient(Events, t.make(srv.baseUrl));
      const req = create(WatchRequestSchema, { roomId: "r" });
      req.$unknown = [{ no: 99, wireType: WireType.Varint, data: new Uint8Array([0x01]) }];
      await expectCode(
        client.watch(req, bearer(srv.apiKey))[Symbol.asyncIterator]().next(),
        Code.InvalidArgument,
        "unknown field in request",
      );
      // Bytes after the unknown field that are no protobuf at all (a field number 0).
      req.$unknown = [{ no: 99, wireType: WireType.Varint, data: new Uint8Array([0xf8, 0x06, 0x01]) }];
      await expectCode(
        client.watch(req, bearer(srv.apiKey))[Symbol.asyncIterator]().next(),
        Code.InvalidArgument,
        /not valid protobuf binary/,
      );
      expect(srv.h.bus.size).toBe(0);
    },
  );

  it("an after_event_id beyond any id is invalid_argument", async () => {
    const client = createClient(Events, TRANSPORTS[0]!.make(srv.baseUrl));
    const it = client.watch({ afterEventId: 2n ** 63n }, bearer(srv.apiKey))[Symbol.asyncIterator]();
    await expectCode(it.next(), Code.InvalidArgument, /after_event_id/);
  });
});

describe("Watch and server shutdown", () => {
  it("closing the server ends open streams at once instead of waiting out the grace period", async () => {
    const logged: Array<Record<string, unknown>> = [];
    const log = pino({ level: "warn" }, { write: (line: string) => logged.push(JSON.parse(line)) });
    const own = await startTestServer({ env: { ROOMGATE_SHUTDOWN_GRACE_MS: "5000" }, log });
    try {
      const w = await Watcher.open(own, grpcTransport(own.baseUrl), {}, own.apiKey);
      const w2 = await Watcher.open(own, connectTransport(own.baseUrl), {}, own.apiKey);
      await own.server.close();
      // The streams ended on their own: nothing was left to cut when the
      // grace ran out (how long close() takes: bench/watch-and-shutdown.ts).
      expect(logged.map((l) => l["msg"])).not.toContain("shutdown grace over: connections still open were cut off");
      expect(own.h.bus.size).toBe(0);
      for (const x of [w, w2]) {
        // The client sees its stream end (cleanly, or as the connection closing), never hang.
        const r = await x.first().then(
          (v) => ({ ended: (v as IteratorResult<unknown>).done === true }),
          (e: unknown) => ({ ended: e instanceof ConnectError }),
        );
        expect(r.ended).toBe(true);
      }
    } finally {
      await own.close();
    }
  });
});
