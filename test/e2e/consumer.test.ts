import { Code, createClient, type Client } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as ConsumerPrivate } from "../../gen/room/consumer/private/v1/service_pb.js";
import { roomMembers, rooms, users } from "../../src/store/schema.js";
import {
  bearer,
  connectTransport,
  expectCode,
  expectNoStackTrace,
  grpcTransport,
  tokensClient,
  TRANSPORTS,
} from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { roomRowExists } from "../support/permissions-fixtures.js";
import { rowCount } from "../support/spaces-clients.js";
import { bool } from "../../src/store/database-port.js";

let srv: TestServer;
let grpcClient: Client<typeof ConsumerPrivate>;

beforeAll(async () => {
  srv = await startTestServer();
  grpcClient = createClient(ConsumerPrivate, grpcTransport(srv.baseUrl));
});
afterAll(async () => {
  await srv?.close();
});

/** Row counts of every table seed 003 writes to. */
async function counts(): Promise<{ users: number; rooms: number; roomMembers: number }> {
  return {
    users: await rowCount(srv, users),
    rooms: await rowCount(srv, rooms),
    roomMembers: await rowCount(srv, roomMembers),
  };
}

/** Runs `fn` and asserts that nothing was written meanwhile. */
async function writesNothing(fn: () => Promise<unknown>): Promise<void> {
  const before = await counts();
  await fn();
  expect(await counts()).toEqual(before);
}

let seq = 0;
/** Seed 003's body, exactly as the seed names and types its fields, with fresh ids. */
function seedBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  seq++;
  return {
    chatRoom: `5f3978eaf3b23047fbfab7a6-${seq}`,
    externalUserId: `ext-${seq}`,
    isModerator: true,
    email: `jon${seq}@example.com`,
    profilePic: "https://cdn.example.com/jon.png",
    meta: '{"team":"blue"}',
    username: "jon",
    uniqueUserIdentifier: `uui-${seq}`,
    ...extra,
  };
}

/** POSTs `body` (an object, or raw text) to the seed 003 route; `auth` null leaves the parameter out. */
async function postConsumer(body: unknown, auth: string | null = srv.apiKey, headers: Record<string, string> = {}) {
  const qs = auth === null ? "" : `?auth=${encodeURIComponent(auth)}`;
  const res = await fetch(`${srv.baseUrl}/consumer/api/v1/user${qs}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    text,
    json: JSON.parse(text) as Record<string, unknown>,
  };
}

type UserRow = {
  tenantId: string;
  kind: string;
  username: string;
  email: string | null;
  externalUserId: string | null;
  uniqueUserIdentifier: string | null;
  profilePic: string | null;
  meta: string | null;
  passwordHash: string | null;
  tenantModerator: unknown;
};

/** A user as stored (SQL both stores accept; the boolean read the same on both). */
async function userRow(id: string) {
  const row = await srv.h.rows.get<UserRow>(
    sql`select tenant_id as "tenantId", kind as "kind", username as "username", email as "email", external_user_id as "externalUserId",
               unique_user_identifier as "uniqueUserIdentifier", profile_pic as "profilePic", meta as "meta", password_hash as "passwordHash",
               tenant_moderator as "tenantModerator"
        from users where id = ${id}`,
  );
  return row === undefined ? undefined : { ...row, tenantModerator: bool(row.tenantModerator) };
}

describe("seed 003 REST route: POST /consumer/api/v1/user?auth=KEY", () => {
  it("the seed's request: exactly accessToken, username, userId, isModerator; a moderator of chatRoom", async () => {
    const body = seedBody();
    const res = await postConsumer(body);
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^application\/json/);
    expect(Object.keys(res.json)).toEqual(["accessToken", "username", "userId", "isModerator"]);
    expect(res.json.username).toBe("jon");
    expect(res.json.isModerator).toBe(true);
    expect(res.json.accessToken).toMatch(/^[A-Za-z0-9_-]+$/);

    const userId = res.json.userId as string;
    const claims = srv.h.userTokens.verify(res.json.accessToken as string);
    expect([claims.tenantId, claims.userId]).toEqual([srv.tenantId, userId]);

    const roles = await srv.h.memberships.roomRolesOf(srv.tenantId, userId, body.chatRoom as string);
    expect(roles).toMatchObject({ roomRole: "consumer_room_moderator", spaceRole: undefined, tenantModerator: false });
    // Only that room.
    expect((await srv.h.memberships.roomRolesOf(srv.tenantId, userId, "some-other-room")).roomRole).toBeUndefined();
    // The room now exists for the tenant.
    expect(await roomRowExists(srv, srv.tenantId, body.chatRoom as string)).toBe(true);

    expect(await userRow(userId)).toMatchObject({
      tenantId: srv.tenantId,
      kind: "consumer",
      username: "jon",
      email: body.email,
      externalUserId: body.externalUserId,
      uniqueUserIdentifier: body.uniqueUserIdentifier,
      profilePic: body.profilePic,
      meta: body.meta,
      passwordHash: null,
      tenantModerator: false,
    });
  });

  it("a moderator without chatRoom moderates every room of the tenant", async () => {
    const { chatRoom: _omit, ...body } = seedBody();
    const res = await postConsumer(body);
    expect(res.status).toBe(200);
    expect(res.json.isModerator).toBe(true);
    const userId = res.json.userId as string;
    for (const room of ["room-a", "room-b", "never-seen"]) {
      expect((await srv.h.memberships.roomRolesOf(srv.tenantId, userId, room)).tenantModerator).toBe(true);
    }
    expect((await userRow(userId))!.tenantModerator).toBe(true);
  });

  it("not a moderator, with chatRoom: role_room_user there", async () => {
    const body = seedBody({ isModerator: false });
    const res = await postConsumer(body);
    expect(res.status).toBe(200);
    expect(res.json.isModerator).toBe(false);
    const roles = await srv.h.memberships.roomRolesOf(srv.tenantId, res.json.userId as string, body.chatRoom as string);
    expect(roles).toMatchObject({ roomRole: "role_room_user", spaceRole: undefined, tenantModerator: false });
  });

  it("externalUserId may be a JSON number: it is kept as its decimal string", async () => {
    const res = await postConsumer(seedBody({ externalUserId: 1234567890123 }));
    expect(res.status).toBe(200);
    expect((await userRow(res.json.userId as string))!.externalUserId).toBe("1234567890123");
  });

  it("the same uniqueUserIdentifier is the same user, updated, with a fresh token", async () => {
    const body = seedBody();
    const first = await postConsumer(body);
    const before = await counts();
    const again = await postConsumer({
      ...body,
      username: "jon2",
      profilePic: "https://cdn.example.com/jon2.png",
      meta: "m2",
    });
    expect(again.status).toBe(200);
    expect(again.json.userId).toBe(first.json.userId);
    expect(again.json.username).toBe("jon2");
    expect(again.json.accessToken).not.toBe(first.json.accessToken);
    expect(srv.h.userTokens.verify(again.json.accessToken as string).userId).toBe(first.json.userId);
    expect((await counts()).users).toBe(before.users);
    expect(await userRow(first.json.userId as string)).toMatchObject({
      username: "jon2",
      profilePic: "https://cdn.example.com/jon2.png",
      meta: "m2",
    });

    // The RPC finds the same user too: one domain behind both surfaces.
    const viaRpc = await grpcClient.createUser(
      { uniqueUserIdentifier: body.uniqueUserIdentifier as string },
      bearer(srv.apiKey),
    );
    expect(viaRpc.userId).toBe(first.json.userId);
    expect(viaRpc.username).toBe("jon2");
  });

  it("an http profilePic is 400 invalid_argument and writes nothing", async () => {
    await writesNothing(async () => {
      const res = await postConsumer(seedBody({ profilePic: "http://cdn.example.com/jon.png" }));
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ code: "invalid_argument", message: "profilePic: must be an https URL" });
    });
  });

  it.each([
    ["an unknown field", { usrname: "jon" }, /^unknown field "usrname"$/],
    ["isModerator as a string", { isModerator: "true" }, /^isModerator: /],
    ["username as a number", { username: 7 }, /^username: /],
    ["a fractional externalUserId", { externalUserId: 1.5 }, /^externalUserId: /],
    ["an externalUserId beyond 2^53", { externalUserId: 2 ** 60 }, /^externalUserId: /],
    ["meta over 4 KiB", { meta: "m".repeat(4097) }, /^meta: must be at most 4096 bytes$/],
    ["a 65-character username", { username: "u".repeat(65) }, /^username: must be at most 64 characters$/],
    ["a bad email", { email: "jon" }, /^email: not a valid email address$/],
  ])("%s is 400 invalid_argument and writes nothing", async (_name, extra, message) => {
    await writesNothing(async () => {
      const res = await postConsumer(seedBody(extra));
      expect(res.status).toBe(400);
      expect(res.json.code).toBe("invalid_argument");
      expect(res.json.message).toMatch(message);
      expectNoStackTrace(res.json.message as string);
    });
  });

  it("a body that is not a JSON object is 400 and writes nothing", async () => {
    await writesNothing(async () => {
      for (const body of ["[]", '"jon"', "null"]) {
        const res = await postConsumer(body);
        expect(res.status, body).toBe(400);
        expect(res.json).toEqual({ code: "invalid_argument", message: "request body must be a JSON object" });
      }
      const empty = await postConsumer("");
      expect(empty.status).toBe(400);
      const broken = await postConsumer("{not json");
      expect(broken.status).toBe(400);
    });
  });

  it("a missing, empty or wrong auth is 401 unauthenticated and writes nothing", async () => {
    await writesNothing(async () => {
      const missing = await postConsumer(seedBody(), null);
      expect(missing.status).toBe(401);
      expect(missing.json).toEqual({ code: "unauthenticated", message: "missing API key: pass ?auth=<key>" });
      const empty = await postConsumer(seedBody(), "");
      expect(empty.status).toBe(401);
      expect(empty.json.code).toBe("unauthenticated");
      const wrong = await postConsumer(seedBody(), `${srv.apiKey}x`);
      expect(wrong.status).toBe(401);
      expect(wrong.json).toEqual({ code: "unauthenticated", message: "invalid API key" });
      // The route reads ?auth=, not a bearer header.
      const headerOnly = await postConsumer(seedBody(), null, { authorization: `Bearer ${srv.apiKey}` });
      expect(headerOnly.status).toBe(401);
      // The key is never echoed.
      expect(wrong.text).not.toContain(srv.apiKey);
    });
  });

  it("a user access token is not an API key", async () => {
    const res = await postConsumer(seedBody());
    await writesNothing(async () => {
      const asKey = await postConsumer(seedBody(), res.json.accessToken as string);
      expect(asKey.status).toBe(401);
    });
  });

  it("only POST is served: GET is 405 with Allow: POST, in the route's error shape", async () => {
    const res = await fetch(`${srv.baseUrl}/consumer/api/v1/user?auth=${encodeURIComponent(srv.apiKey)}`);
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect(((await res.json()) as { code: string }).code).toBe("unimplemented");
  });
});

describe("tenant isolation", () => {
  it("another tenant's key cannot see or modify the user: the same identifier is a different user there", async () => {
    const body = seedBody();
    const mine = await postConsumer(body);
    const mineId = mine.json.userId as string;
    const theirs = await postConsumer(
      { ...body, username: "mallory", isModerator: true, chatRoom: undefined },
      srv.otherKey,
    );
    expect(theirs.status).toBe(200);
    expect(theirs.json.userId).not.toBe(mineId);
    expect(srv.h.userTokens.verify(theirs.json.accessToken as string).tenantId).toBe(srv.otherTenantId);

    // Tenant A's user is untouched: name, fields and roles.
    expect(await userRow(mineId)).toMatchObject({
      tenantId: srv.tenantId,
      username: "jon",
      tenantModerator: false,
      email: body.email,
    });
    expect((await srv.h.memberships.roomRolesOf(srv.tenantId, mineId, body.chatRoom as string)).roomRole).toBe(
      "consumer_room_moderator",
    );
    // Tenant B's moderator moderates B's rooms only; A's user is unknown in B.
    expect(
      (await srv.h.memberships.roomRolesOf(srv.otherTenantId, theirs.json.userId as string, body.chatRoom as string))
        .tenantModerator,
    ).toBe(true);
    expect(
      (await srv.h.memberships.roomRolesOf(srv.tenantId, theirs.json.userId as string, body.chatRoom as string))
        .tenantModerator,
    ).toBe(false);
    expect(await srv.h.memberships.roomRolesOf(srv.otherTenantId, mineId, body.chatRoom as string)).toMatchObject({
      roomRole: undefined,
      spaceRole: undefined,
      tenantModerator: false,
    });
  });
});

describe("room.consumer.private.v1.Service/CreateUser over gRPC", () => {
  it("creates a room moderator and returns a user access token", async () => {
    const before = await counts();
    const r = await grpcClient.createUser(
      {
        chatRoom: "grpc-room",
        externalUserId: "42",
        isModerator: true,
        email: "grpc@example.com",
        profilePic: "https://cdn.example.com/g.png",
        meta: "m",
        username: "jon",
        uniqueUserIdentifier: "grpc-uui",
      },
      bearer(srv.apiKey),
    );
    expect(r.username).toBe("jon");
    expect(r.isModerator).toBe(true);
    expect(srv.h.userTokens.verify(r.accessToken).userId).toBe(r.userId);
    expect((await srv.h.memberships.roomRolesOf(srv.tenantId, r.userId, "grpc-room")).roomRole).toBe(
      "consumer_room_moderator",
    );
    expect(await counts()).toEqual({
      users: before.users + 1,
      rooms: before.rooms + 1,
      roomMembers: before.roomMembers + 1,
    });
  });

  it("isModerator false ends tenant-wide moderation granted by an earlier call", async () => {
    const first = await grpcClient.createUser(
      { username: "mod", isModerator: true, uniqueUserIdentifier: "demote-me" },
      bearer(srv.apiKey),
    );
    expect((await srv.h.memberships.roomRolesOf(srv.tenantId, first.userId, "x")).tenantModerator).toBe(true);
    const again = await grpcClient.createUser({ uniqueUserIdentifier: "demote-me" }, bearer(srv.apiKey));
    expect(again.userId).toBe(first.userId);
    expect(again.isModerator).toBe(false);
    expect((await srv.h.memberships.roomRolesOf(srv.tenantId, first.userId, "x")).tenantModerator).toBe(false);
  });

  it("the access token is not a room member token", async () => {
    const r = await grpcClient.createUser({ username: "jon", chatRoom: "r1" }, bearer(srv.apiKey));
    const tokens = tokensClient(TRANSPORTS[0]!.make(srv.baseUrl));
    await expectCode(
      tokens.verify({ token: r.accessToken }, bearer(srv.apiKey)),
      Code.Unauthenticated,
      "invalid token",
    );
  });

  it("bad input is invalid_argument and writes nothing; no key is unauthenticated", async () => {
    await writesNothing(() =>
      expectCode(
        grpcClient.createUser(
          { username: "jon", chatRoom: "r2", profilePic: "http://x.example/p.png" },
          bearer(srv.apiKey),
        ),
        Code.InvalidArgument,
        "profile_pic: must be an https URL",
      ),
    );
    await writesNothing(() =>
      expectCode(
        grpcClient.createUser({ chatRoom: "r2", isModerator: true }, bearer(srv.apiKey)),
        Code.InvalidArgument,
        "username: must not be empty",
      ),
    );
    await writesNothing(() =>
      expectCode(grpcClient.createUser({ username: "jon", chatRoom: "r2" }), Code.Unauthenticated),
    );
    await writesNothing(() =>
      expectCode(
        grpcClient.createUser({ username: "jon" }, bearer(`${srv.otherKey}x`)),
        Code.Unauthenticated,
        "invalid API key",
      ),
    );
  });

  it("Connect JSON refuses an unknown field (invalid_argument, nothing written)", async () => {
    await writesNothing(async () => {
      const res = await fetch(`${srv.baseUrl}/room.consumer.private.v1.Service/CreateUser`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${srv.apiKey}` },
        body: JSON.stringify({ username: "jon", chatRoom: "r3", isModerater: true }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe("invalid_argument");
    });
    // The same client otherwise works over Connect JSON.
    const json = createClient(ConsumerPrivate, connectTransport(srv.baseUrl));
    const ok = await json.createUser({ username: "jon", chatRoom: "r3" }, bearer(srv.apiKey));
    expect(ok.isModerator).toBe(false);
  });
});
