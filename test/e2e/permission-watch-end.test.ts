import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Action } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as TokensPrivate } from "../../gen/room/tokens/private/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { bearer, grpcTransport } from "../support/clients.js";
import { act, canSend, PermissionStream, WATCH_TRANSPORTS } from "../support/permission-watch.js";
import {
  credential,
  memberToken,
  permissionsClient,
  userToken,
  userWithRoomRole,
} from "../support/permissions-fixtures.js";
import { expectRoomAccessDenied } from "../support/room-access.js";
import { startTestServer, type TestServer } from "../support/server.js";

// One server with a clock the tests move; lapses run when a test says so.
let now = Date.now();
const clock = () => now;
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ clock });
});
afterAll(async () => {
  await srv?.close();
});

const tokens = () => createClient(TokensPrivate, grpcTransport(srv.baseUrl));

/** The error GetRoomPermissions gives now with the same credential. */
async function getError(roomId: string, headers: Record<string, string>): Promise<ConnectError> {
  try {
    await permissionsClient(srv).getRoomPermissions({ roomId }, { headers });
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("GetRoomPermissions answered");
}

/** A member with a user access token and an open stream that has sent its first answer. */
async function watching(transport = WATCH_TRANSPORTS[0]!, ttlSeconds = 3600) {
  const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
  const headers = credential.bearer(userToken(srv, userId, { ttlSeconds }));
  const s = PermissionStream.open(srv, roomId, headers, transport.make(srv.baseUrl));
  expect(canSend(await s.next())).toBe(true);
  return { userId, roomId, headers, s };
}

/** Asserts the stream ended with `code` and the same code and message GetRoomPermissions now gives. */
async function expectEnd(
  s: PermissionStream,
  code: Code,
  roomId: string,
  headers: Record<string, string>,
): Promise<ConnectError> {
  const err = await s.ended();
  expect(err, "the stream must end with an error").toBeInstanceOf(ConnectError);
  expect(Code[err!.code]).toBe(Code[code]);
  const direct = await getError(roomId, headers);
  expect(Code[direct.code]).toBe(Code[code]);
  expect(err!.rawMessage).toBe(direct.rawMessage);
  return err!;
}

describe.each(WATCH_TRANSPORTS)("Watch ends over $name", (transport) => {
  it("a room kick ends it with permission_denied (RoomAccessDenied removed)", async () => {
    const { userId, roomId, headers, s } = await watching(transport);
    await act(srv, Action.ROOM_KICK, roomId, userId);
    const err = await expectEnd(s, Code.PermissionDenied, roomId, headers);
    await expectRoomAccessDenied(Promise.reject(err), "removed", roomId, null);
  });

  it("a room block ends it with permission_denied carrying the RoomAccessDenied detail and its until", async () => {
    const { userId, roomId, headers, s } = await watching(transport);
    await act(srv, Action.ROOM_BLOCK, roomId, userId, 600);
    await expectRoomAccessDenied(
      s.ended().then((e) => Promise.reject(e)),
      "room_blocked",
      roomId,
      now + 600_000,
    );
    await expectRoomAccessDenied(
      permissionsClient(srv).getRoomPermissions({ roomId }, { headers }),
      "room_blocked",
      roomId,
      now + 600_000,
    );
  });

  it("RevokeUser ends it with unauthenticated (token revoked)", async () => {
    const { userId, roomId, headers, s } = await watching(transport);
    await tokens().revokeUser({ userId, roomId: "", reason: "test" }, bearer(srv.apiKey));
    const err = await expectEnd(s, Code.Unauthenticated, roomId, headers);
    expect(err.rawMessage).toBe("token revoked");
  });

  it("RevokeRoom ends it with permission_denied (RoomAccessDenied removed)", async () => {
    const { roomId, headers, s } = await watching(transport);
    await tokens().revokeRoom({ roomId, reason: "test" }, bearer(srv.apiKey));
    const err = await expectEnd(s, Code.PermissionDenied, roomId, headers);
    await expectRoomAccessDenied(Promise.reject(err), "removed", roomId, null);
  });

  it("deleting the user ends it with unauthenticated", async () => {
    const { userId, roomId, headers, s } = await watching(transport);
    await createClient(UsersPrivate, grpcTransport(srv.baseUrl)).deleteUser(
      { userId, reason: "test" },
      bearer(srv.apiKey),
    );
    await expectEnd(s, Code.Unauthenticated, roomId, headers);
  });

  it("a timed mute that lapses sends one answer; the credential's expiry ends it with unauthenticated (token expired)", async () => {
    const { userId, roomId, headers, s } = await watching(transport, 120);
    await act(srv, Action.CHAT_MUTE, roomId, userId, 30);
    expect(canSend(await s.next())).toBe(false);
    now += 31_000;
    expect((await srv.h.lapses.runDue()).length).toBeGreaterThanOrEqual(1);
    expect(canSend(await s.next())).toBe(true);
    // Past the token's expiry: the next wake-up (here a lapse) ends the stream.
    await act(srv, Action.CHAT_MUTE, roomId, userId, 100);
    expect(canSend(await s.next())).toBe(false);
    now += 100_000;
    await srv.h.lapses.runDue();
    const err = await expectEnd(s, Code.Unauthenticated, roomId, headers);
    expect(err.rawMessage).toBe("token expired");
  });
});

describe("Watch with a room member token", () => {
  it("sends the token's permissions minus restrictions, and ends with unauthenticated when the token is revoked by id", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
    const token = await memberToken(srv, userId, roomId, [P.PermissionMessaging]);
    const headers = credential.bearer(token);
    const s = PermissionStream.open(srv, roomId, headers);
    expect(canSend(await s.next())).toBe(true);
    await act(srv, Action.CHAT_MUTE, roomId, userId);
    expect(canSend(await s.next())).toBe(false);
    const { tokenId } = await tokens().verify({ token }, bearer(srv.apiKey));
    await tokens().revoke({ tokenId, reason: "test" }, bearer(srv.apiKey));
    const err = await expectEnd(s, Code.Unauthenticated, roomId, headers);
    expect(err.rawMessage).toBe("token revoked");
  });

  it("a room kick revokes the room's member tokens: unauthenticated, as GetRoomPermissions answers", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
    const headers = credential.bearer(await memberToken(srv, userId, roomId, [P.PermissionMessaging]));
    const s = PermissionStream.open(srv, roomId, headers);
    await s.next();
    await act(srv, Action.ROOM_KICK, roomId, userId);
    await expectEnd(s, Code.Unauthenticated, roomId, headers);
  });
});
