import { randomUUID } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Action } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Service as Permissions } from "../../gen/room/permissions/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { bearer, connectTransport, grpcTransport } from "../support/clients.js";
import { act, canSend, PermissionStream } from "../support/permission-watch.js";
import { credential, insertUser, userToken, userWithRoomRole } from "../support/permissions-fixtures.js";
import { startTestServer, type TestServer } from "../support/server.js";

const PER_USER = 3;
const PER_TENANT = 5;

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({
    env: {
      ROOMGATE_MAX_PERMISSION_STREAMS_PER_USER: String(PER_USER),
      ROOMGATE_MAX_PERMISSION_STREAMS_PER_TENANT: String(PER_TENANT),
    },
  });
});
afterAll(async () => {
  await srv?.close();
});

const open = () => srv.app.services.permissions.openStreams;

async function until(cond: () => boolean, what: string): Promise<void> {
  await vi.waitFor(() => expect(cond(), what).toBe(true), { timeout: 10_000, interval: 5 });
}

/** Opens `n` streams at once; returns those that opened and the errors of the others. */
async function openMany(streams: PermissionStream[]): Promise<{ ok: PermissionStream[]; refused: ConnectError[] }> {
  const outcomes = await Promise.all(streams.map((s) => s.opened()));
  const ok = streams.filter((_, i) => outcomes[i] === true);
  const refused = outcomes.filter((o): o is ConnectError => o !== true);
  return { ok, refused };
}

async function eventCount(): Promise<number> {
  return Number((await srv.h.rows.get(sql`select count(*) as "n" from events`))?.n ?? 0);
}

describe("open permission streams are bounded", () => {
  it("per user: of 8 opened at once exactly the bound open, the others are resource_exhausted; a closed one frees its slot", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
    const headers = credential.bearer(userToken(srv, userId));
    const { ok, refused } = await openMany(
      Array.from({ length: 8 }, () => PermissionStream.open(srv, roomId, headers)),
    );
    expect(ok).toHaveLength(PER_USER);
    expect(refused).toHaveLength(8 - PER_USER);
    for (const e of refused) {
      expect(Code[e.code]).toBe(Code[Code.ResourceExhausted]);
      expect(e.rawMessage).toBe(`too many open permission streams for this user (at most ${PER_USER})`);
    }
    expect(open()).toBe(PER_USER);
    const metrics = await (await fetch(`${srv.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^roomgate_open_permission_streams ${PER_USER}$`, "m"));
    ok[0]!.close();
    await until(() => open() === PER_USER - 1, "the closed stream to release its slot");
    const again = PermissionStream.open(srv, roomId, headers);
    expect(await again.opened()).toBe(true);
    for (const s of [...ok, again]) s.close();
    await until(() => open() === 0, "every stream to close");
  });

  it("per tenant: 3 users × 3 at once get exactly the tenant's bound; another tenant is not affected", async () => {
    const members = await Promise.all([0, 1, 2].map(() => userWithRoomRole(srv, "role_room_user")));
    const streams = members.flatMap((m) =>
      [0, 1, 2].map(() => PermissionStream.open(srv, m.roomId, credential.bearer(userToken(srv, m.userId)))),
    );
    const { ok, refused } = await openMany(streams);
    expect(ok).toHaveLength(PER_TENANT);
    expect(refused).toHaveLength(9 - PER_TENANT);
    for (const e of refused) expect(Code[e.code]).toBe(Code[Code.ResourceExhausted]);
    expect(
      refused.some((e) => e.rawMessage === `too many open permission streams for this tenant (at most ${PER_TENANT})`),
    ).toBe(true);
    // The other tenant has slots of its own.
    const stranger = await insertUser(srv, srv.otherTenantId);
    const room = `room-${randomUUID()}`;
    await srv.h.seed.room({ tenantId: srv.otherTenantId, id: room });
    const theirs = PermissionStream.open(
      srv,
      room,
      credential.bearer(userToken(srv, stranger, { tenantId: srv.otherTenantId })),
    );
    expect(await theirs.opened()).toBe(true);
    for (const s of [...ok, theirs]) s.close();
    await until(() => open() === 0, "every stream to close");
  });
});

describe("Watch refuses bad calls and writes nothing", () => {
  const cases: ReadonlyArray<{
    name: string;
    roomId: () => Promise<string>;
    minEventId?: bigint;
    headers?: "none";
    code: Code;
    message: string | RegExp;
  }> = [
    {
      name: "no credential",
      roomId: async () => (await userWithRoomRole(srv, "role_room_user")).roomId,
      headers: "none",
      code: Code.Unauthenticated,
      message: /^missing credential/,
    },
    { name: "empty room id", roomId: async () => "", code: Code.InvalidArgument, message: /room_id/ },
    { name: "room id too long", roomId: async () => "r".repeat(300), code: Code.InvalidArgument, message: /room_id/ },
    { name: "unknown room", roomId: async () => `room-${randomUUID()}`, code: Code.NotFound, message: /not found/ },
    {
      name: "min_event_id beyond any id",
      roomId: async () => (await userWithRoomRole(srv, "role_room_user")).roomId,
      minEventId: 1n << 60n,
      code: Code.InvalidArgument,
      message: "min_event_id: no such event id",
    },
  ];
  it.each(cases)("$name → $code", async (c) => {
    const userId = await insertUser(srv);
    const roomId = await c.roomId();
    const before = await eventCount();
    const headers = c.headers === "none" ? {} : credential.bearer(userToken(srv, userId));
    const s = PermissionStream.open(srv, roomId, headers, undefined, c.minEventId ?? 0n);
    const err = await s.ended();
    expect(err).toBeInstanceOf(ConnectError);
    expect(Code[err!.code]).toBe(Code[c.code]);
    if (typeof c.message === "string") expect(err!.rawMessage).toBe(c.message);
    else expect(err!.rawMessage).toMatch(c.message);
    expect(await eventCount()).toBe(before);
    await until(() => open() === 0, "no slot held");
  });
});

describe("Watch with the session cookie of a Login", () => {
  it("opens with the cookie alone, follows a mute, and honours min_event_id", async () => {
    const username = `watcher-${randomUUID()}`;
    const password = "pw-watch-secret-1";
    const users = createClient(UsersPrivate, grpcTransport(srv.baseUrl));
    const { id: userId } = await users.createUser(
      { email: `${username}@example.test`, username, password },
      bearer(srv.apiKey),
    );
    const res = await fetch(`${srv.baseUrl}/room.users.v1.Service/Login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tenantId: srv.tenantId, username, password }),
    });
    expect(res.status).toBe(200);
    const cookie = res.headers
      .getSetCookie()
      .find((c) => c.startsWith("roomgate_session="))!
      .split(";")[0]!;
    const { roomId } = await userWithRoomRole(srv, "role_room_user");
    await srv.h.memberships.setRoomRole(srv.tenantId, roomId, userId, "role_room_user", "test", Date.now());
    const muteId = await act(srv, Action.CHAT_MUTE, roomId, userId);
    const s = PermissionStream.open(srv, roomId, { cookie }, undefined, muteId);
    try {
      const first = await s.next();
      expect(first.eventId).toBeGreaterThanOrEqual(muteId);
      expect(canSend(first)).toBe(false);
      await act(srv, Action.CHAT_UNMUTE, roomId, userId);
      expect(canSend(await s.next())).toBe(true);
    } finally {
      s.close();
    }
  });
});

describe("Watch and the server's lifetime", () => {
  it("the credential's expiry ends the stream by its own timer, with no event", async () => {
    const own = await startTestServer();
    try {
      const { userId, roomId } = await userWithRoomRole(own, "role_room_user");
      const s = PermissionStream.open(own, roomId, credential.bearer(userToken(own, userId, { ttlSeconds: 1 })));
      expect(canSend(await s.next())).toBe(true);
      const err = await s.ended(10_000);
      expect(Code[err!.code]).toBe(Code[Code.Unauthenticated]);
      expect(err!.rawMessage).toBe("token expired");
    } finally {
      await own.close();
    }
  });

  it("a client's deadline ends the stream with deadline_exceeded and frees its slot", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
    const client = createClient(Permissions, connectTransport(srv.baseUrl));
    const answers: boolean[] = [];
    let err: ConnectError | undefined;
    try {
      for await (const a of client.watch(
        { roomId },
        { headers: credential.bearer(userToken(srv, userId)), timeoutMs: 2000 },
      ))
        answers.push(canSend(a));
    } catch (e) {
      err = ConnectError.from(e);
    }
    // One answer normally; none on a machine too busy to answer in time.
    expect(answers.length, `${err?.code}: ${err?.rawMessage}`).toBeLessThanOrEqual(1);
    expect(Code[err!.code]).toBe(Code[Code.DeadlineExceeded]);
    await until(() => open() === 0, "the slot to be released");
  });

  it("shutting down ends open streams with unavailable", async () => {
    const own = await startTestServer();
    const { userId, roomId } = await userWithRoomRole(own, "role_room_user");
    const s = PermissionStream.open(own, roomId, credential.bearer(userToken(own, userId)));
    await s.next();
    const closing = own.close();
    const err = await s.ended();
    await closing;
    expect(err).toBeInstanceOf(ConnectError);
    expect(Code[err!.code]).toBe(Code[Code.Unavailable]);
  });
});
