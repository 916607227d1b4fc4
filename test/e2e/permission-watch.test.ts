import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Action } from "../../gen/room/moderation/private/v1/service_pb.js";
import { bearer } from "../support/clients.js";
import { act, canSend, flagsOf, PermissionStream, WATCH_TRANSPORTS } from "../support/permission-watch.js";
import {
  credential,
  insertRoom,
  insertUser,
  permissionsClient,
  userToken,
  userWithRoomRole,
  userWithSpaceRole,
} from "../support/permissions-fixtures.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { spacesPrivateClient } from "../support/spaces-clients.js";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

/** What GetRoomPermissions answers now, to compare a streamed answer with. */
async function current(roomId: string, token: string) {
  return (await permissionsClient(srv).getRoomPermissions({ roomId }, { headers: credential.bearer(token) }))
    .roomPermissions!;
}

describe.each(WATCH_TRANSPORTS)("Watch over $name", ({ make }) => {
  it("sends the permissions at once, then exactly one answer per change that alters them, nothing for others", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
    const token = userToken(srv, userId);
    // Another member of the same room, and the same user in another room.
    const other = await insertUser(srv);
    await srv.h.memberships.setRoomRole(srv.tenantId, roomId, other, "role_room_user", "test", Date.now());
    const elsewhere = await insertRoom(srv);
    await srv.h.memberships.setRoomRole(srv.tenantId, elsewhere, userId, "role_room_user", "test", Date.now());
    const s = PermissionStream.open(srv, roomId, credential.bearer(token), make(srv.baseUrl));
    try {
      const first = await s.next();
      expect(first.roomPermissions).toEqual(await current(roomId, token));
      expect(canSend(first)).toBe(true);

      const muteId = await act(srv, Action.CHAT_MUTE, roomId, userId);
      const muted = await s.next();
      expect(canSend(muted)).toBe(false);
      expect(flagsOf(muted).canReactToMessagesWithEmojiInMainThread).toBe(true);
      expect(muted.eventId).toBeGreaterThanOrEqual(muteId);
      expect(muted.roomPermissions).toEqual(await current(roomId, token));

      // Unrelated: another member muted, the same user muted in another
      // room, another tenant's change. The next answer must be the unmute.
      await act(srv, Action.CHAT_MUTE, roomId, other);
      await act(srv, Action.CHAT_BLOCK, elsewhere, userId);
      const otherRoom = await insertRoom(srv, { tenantId: srv.otherTenantId, id: roomId });
      const stranger = await insertUser(srv, srv.otherTenantId);
      await srv.h.memberships.setRoomRole(srv.otherTenantId, otherRoom, stranger, "role_room_user", "test", Date.now());
      await act(srv, Action.CHAT_MUTE, otherRoom, stranger, 0, srv.otherKey);
      await act(srv, Action.CHAT_UNMUTE, roomId, userId);
      const unmuted = await s.next();
      expect(unmuted.roomPermissions).toEqual(first.roomPermissions);

      // A chat block takes more than a mute; a mute on top changes nothing
      // and sends nothing; lifting the block leaves the mute's answer.
      await act(srv, Action.CHAT_BLOCK, roomId, userId);
      const blocked = await s.next();
      expect(flagsOf(blocked).canReactToMessagesWithEmojiInMainThread).toBe(false);
      expect(canSend(blocked)).toBe(false);
      await act(srv, Action.CHAT_MUTE, roomId, userId);
      await act(srv, Action.CHAT_UNBLOCK, roomId, userId);
      const onlyMuted = await s.next();
      expect(onlyMuted.roomPermissions).toEqual(muted.roomPermissions);
      await act(srv, Action.CHAT_UNMUTE, roomId, userId);
      expect((await s.next()).roomPermissions).toEqual(first.roomPermissions);

      // Roles: granted (moderator adds oversight), the same again (nothing), removed.
      const spaces = spacesPrivateClient(srv);
      await spaces.grantRole(
        { spaceId: "", roomId, targetUserId: userId, role: "role_room_moderator" },
        bearer(srv.apiKey),
      );
      const moderator = await s.next();
      expect(flagsOf(moderator).canRecordMeetings).toBe(true);
      expect(moderator.roomPermissions).toEqual(await current(roomId, token));
      await spaces.grantRole(
        { spaceId: "", roomId, targetUserId: userId, role: "role_room_moderator" },
        bearer(srv.apiKey),
      );
      await spaces.revokeRole({ spaceId: "", roomId, targetUserId: userId, reason: "test" }, bearer(srv.apiKey));
      const none = await s.next();
      expect(Object.values(flagsOf(none)).every((v) => v === false)).toBe(true);
      expect(none.roomPermissions!.granted).toEqual([]);
    } finally {
      s.close();
    }
  });

  it("a space role removed takes the space's public room away", async () => {
    const { userId, spaceId, roomId } = await userWithSpaceRole(srv, "role_space_user");
    const s = PermissionStream.open(srv, roomId, credential.bearer(userToken(srv, userId)), make(srv.baseUrl));
    try {
      expect(canSend(await s.next())).toBe(true);
      await spacesPrivateClient(srv).revokeRole(
        { spaceId, roomId: "", targetUserId: userId, reason: "test" },
        bearer(srv.apiKey),
      );
      const after = await s.next();
      expect(after.roomPermissions!.granted).toEqual([]);
    } finally {
      s.close();
    }
  });
});
