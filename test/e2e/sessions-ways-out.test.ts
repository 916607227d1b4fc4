import { Code, createClient, type Client } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Action } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as ConsumerPrivate } from "../../gen/room/consumer/private/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { bearer, connectTransport, expectCode, grpcTransport, tokensClient } from "../support/clients.js";
import { PermissionStream } from "../support/permission-watch.js";
import { permissionsClient } from "../support/permissions-fixtures.js";
import { expectRoomAccessDenied } from "../support/room-access.js";
import { moderationPrivateClient, scene } from "../support/scenes.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { as, spacesClient } from "../support/spaces-clients.js";

// Issue 19, section 1: every way out covers the session's refresh token,
// and two refreshes of one token at once end the family.

let offset = 0;
const clock = () => Date.now() + offset;
let srv: TestServer;
let admin: Client<typeof UsersPrivate>;
let account: Client<typeof Users>;
beforeAll(async () => {
  srv = await startTestServer({ clock });
  admin = createClient(UsersPrivate, grpcTransport(srv.baseUrl));
  account = createClient(Users, connectTransport(srv.baseUrl));
});
afterAll(async () => {
  await srv?.close();
});

/** Moves the server's clock on, so what is issued next is strictly newer than a revocation before it. */
const tick = () => {
  offset += 5;
};

let n = 0;
async function registered(): Promise<{ username: string; userId: string }> {
  const username = `out-${process.pid}-${++n}-${Date.now()}`;
  const { id } = await admin.createUser(
    { email: `${username}@example.test`, username, password: "correct-horse" },
    bearer(srv.apiKey),
  );
  return { username, userId: id };
}
const login = (username: string) => account.login({ tenantId: srv.tenantId, username, password: "correct-horse" });
const verify = (token: string) => admin.verifyAccessToken({ token }, bearer(srv.apiKey));
const refreshRefused = (refreshToken: string) =>
  expectCode(account.refresh({ refreshToken }), Code.Unauthenticated, "refresh token not valid");

describe("ways out cover the refresh token", () => {
  it("Revoke on the access token's id (as VerifyAccessToken gives it) ends the session", async () => {
    const u = await registered();
    const s = await login(u.username);
    const other = await login(u.username);
    const { tokenId } = await verify(s.accessToken);
    await tokensClient(grpcTransport(srv.baseUrl)).revoke({ tokenId, reason: "stolen" }, bearer(srv.apiKey));
    await expectCode(verify(s.accessToken), Code.Unauthenticated, "token revoked");
    await refreshRefused(s.refreshToken);
    // One session only.
    expect((await account.refresh({ refreshToken: other.refreshToken })).sessionId).toBe(other.sessionId);
    expect((await admin.listSessions({ userId: u.userId }, bearer(srv.apiKey))).sessions.map((x) => x.id)).toEqual([
      other.sessionId,
    ]);
  });

  it("RevokeUser ends every session started before it; a later login works", async () => {
    const u = await registered();
    const s = await login(u.username);
    const refreshed = await account.refresh({ refreshToken: s.refreshToken });
    tick();
    await tokensClient(grpcTransport(srv.baseUrl)).revokeUser({ userId: u.userId }, bearer(srv.apiKey));
    await expectCode(verify(refreshed.accessToken), Code.Unauthenticated, "token revoked");
    await refreshRefused(refreshed.refreshToken);
    tick();
    const again = await login(u.username);
    expect((await account.refresh({ refreshToken: again.refreshToken })).userId).toBe(u.userId);
  });

  it("DeleteUser: the refresh token no longer works", async () => {
    const u = await registered();
    const s = await login(u.username);
    tick();
    await admin.deleteUser({ userId: u.userId }, bearer(srv.apiKey));
    await refreshRefused(s.refreshToken);
    await expectCode(verify(s.accessToken), Code.Unauthenticated, "token revoked");
  });

  for (const via of ["room_kick", "chat_kick"] as const) {
    it(`${via}: the kicked session's refresh yields a token without that room; a fresh login has it`, async () => {
      const sc = await scene(srv);
      const u = await registered();
      await spacesClient(srv).grantRole(
        { spaceId: sc.spaceId, roomId: sc.privateRoom, targetUserId: u.userId, role: "role_room_user" },
        as(sc.owner.token),
      );
      const s = await login(u.username);
      tick();
      const action = via === "room_kick" ? Action.ROOM_KICK : Action.CHAT_KICK;
      await moderationPrivateClient(srv).act(
        { action, roomId: sc.privateRoom, targetUserId: u.userId },
        bearer(srv.apiKey),
      );
      tick();
      const refreshed = await account.refresh({ refreshToken: s.refreshToken });
      await expectRoomAccessDenied(
        permissionsClient(srv).getRoomPermissions({ roomId: sc.privateRoom }, as(refreshed.accessToken)),
        "removed",
        sc.privateRoom,
      );
      const fresh = await login(u.username);
      const perms = await permissionsClient(srv).getRoomPermissions({ roomId: sc.privateRoom }, as(fresh.accessToken));
      expect(perms.roomPermissions!.granted).toContain(P.PermissionCanSendMessagesInMainThread);
    });
  }

  it("room block: a refreshed token is refused in the room while it holds", async () => {
    const sc = await scene(srv);
    const u = await registered();
    await spacesClient(srv).grantRole(
      { spaceId: sc.spaceId, roomId: sc.privateRoom, targetUserId: u.userId, role: "role_room_user" },
      as(sc.owner.token),
    );
    const s = await login(u.username);
    await moderationPrivateClient(srv).act(
      { action: Action.ROOM_BLOCK, roomId: sc.privateRoom, targetUserId: u.userId },
      bearer(srv.apiKey),
    );
    const refreshed = await account.refresh({ refreshToken: s.refreshToken });
    await expectRoomAccessDenied(
      permissionsClient(srv).getRoomPermissions({ roomId: sc.privateRoom }, as(refreshed.accessToken)),
      "room_blocked",
      sc.privateRoom,
    );
  });
});

describe("an open permission Watch on a session's token", () => {
  it("ends unauthenticated when the session is logged out", async () => {
    const sc = await scene(srv);
    const u = await registered();
    await spacesClient(srv).grantRole(
      { spaceId: sc.spaceId, roomId: sc.privateRoom, targetUserId: u.userId, role: "role_room_user" },
      as(sc.owner.token),
    );
    const s = await login(u.username);
    const stream = PermissionStream.open(srv, sc.privateRoom, { authorization: `Bearer ${s.accessToken}` });
    try {
      expect(await stream.opened()).toBe(true);
      await account.logout({}, as(s.accessToken));
      expect((await stream.ended())?.code).toBe(Code.Unauthenticated);
    } finally {
      stream.close();
    }
  });
});

describe("seed 003's CreateUser token is a session", () => {
  it("keeps its answer and lifetime; it is listed, and Logout or RevokeSession ends it", async () => {
    const consumer = createClient(ConsumerPrivate, grpcTransport(srv.baseUrl));
    const make = (id: string) =>
      consumer.createUser({ uniqueUserIdentifier: id, username: `c-${id}` }, bearer(srv.apiKey));
    const t0 = clock();
    const a = await make(`sess-a-${Date.now()}`);
    const v = await verify(a.accessToken);
    // ROOMGATE_USER_TOKEN_TTL_SECONDS (24 h by default), as before.
    expect(Number(v.expiresAt!.seconds) * 1000).toBeGreaterThanOrEqual(t0 + 86_400_000 - 1_000);
    const listed = (await admin.listSessions({ userId: a.userId }, bearer(srv.apiKey))).sessions;
    expect(listed.map((s) => s.id)).toEqual([v.tokenId]);
    await account.logout({}, as(a.accessToken));
    await expectCode(verify(a.accessToken), Code.Unauthenticated, "token revoked");
    const b = await make(`sess-b-${Date.now()}`);
    const vb = await verify(b.accessToken);
    await admin.revokeSession({ sessionId: vb.tokenId }, bearer(srv.apiKey));
    await expectCode(verify(b.accessToken), Code.Unauthenticated, "token revoked");
  });
});

describe("two refreshes of one token at once", () => {
  /** Both results, and the family's state after. */
  async function expectOneWinnerAndFamilyEnded(results: PromiseSettledResult<{ accessToken: string }>[], sid: string) {
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(String((lost[0] as PromiseRejectedResult).reason)).toMatch(/refresh token not valid/);
    const winner = (won[0] as PromiseFulfilledResult<{ accessToken: string }>).value;
    await expectCode(verify(winner.accessToken), Code.Unauthenticated, "token revoked");
    const audit = await srv.h.rows.all<{ action: string }>(
      sql`select action as "action" from audit_log where target = ${sid}`,
    );
    expect(audit).toEqual([{ action: "session.reuse" }]);
  }

  it("queued together behind the write lock: exactly one wins and the family ends", async () => {
    const u = await registered();
    const s = await login(u.username);
    let entered!: () => void;
    let release!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const held = srv.h.transact(async () => {
      entered();
      await new Promise<void>((r) => (release = r));
    });
    await inside;
    const grpcAccount = createClient(Users, grpcTransport(srv.baseUrl));
    const calls = Promise.allSettled([
      account.refresh({ refreshToken: s.refreshToken }),
      grpcAccount.refresh({ refreshToken: s.refreshToken }),
    ]);
    try {
      // Both really wait on the lock, so they run at the same moment once it is released.
      await vi.waitFor(async () => expect(await srv.h.writersWaiting()).toBe(2), { timeout: 10_000, interval: 5 });
    } finally {
      release();
      await held;
    }
    await expectOneWinnerAndFamilyEnded(await calls, s.sessionId);
  });

  it("sent at once without help: exactly one wins and the family ends", async () => {
    const u = await registered();
    const s = await login(u.username);
    const results = await Promise.allSettled([
      account.refresh({ refreshToken: s.refreshToken }),
      createClient(Users, grpcTransport(srv.baseUrl)).refresh({ refreshToken: s.refreshToken }),
    ]);
    await expectOneWinnerAndFamilyEnded(results, s.sessionId);
  });
});
