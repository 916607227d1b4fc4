import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { SubjectTokens } from "../../src/domain/auth/subject-tokens.js";
import { TokenKind } from "../../src/domain/tokens/token-codec.js";
import { expectCode } from "../support/clients.js";
import {
  credential,
  getRoomPermissionsRest,
  insertRoom,
  insertUser,
  memberToken,
  permissionsClient,
  roomRowExists,
  userToken,
  userWithRoomRole,
  userWithSpaceRole,
} from "../support/permissions-fixtures.js";
import { startTestServer, type TestServer } from "../support/server.js";

const ALL_FALSE = {
  canAttachOrDeleteFilesInOwnMessagesInDiscussion: false,
  canAttachOrDeleteFilesInOwnMessagesInMainThread: false,
  canChangePropertiesOfUnrelatedIssues: false,
  canCreateIssues: false,
  canCreateMeetings: false,
  canEditOrDeleteOwnMessagesInDiscussion: false,
  canEditOrDeleteOwnMessagesInMainThread: false,
  canIntercomListen: false,
  canIntercomStreamVideo: false,
  canIntercomTalk: false,
  canIntercomWatchVideo: false,
  canReactToMessagesWithEmojiInDiscussion: false,
  canReactToMessagesWithEmojiInMainThread: false,
  canRecordMeetings: false,
  canSendFilesIntoRoomInDiscussion: false,
  canSendFilesIntoRoomInMainThread: false,
  canSendMessagesInDiscussion: false,
  canSendMessagesInMainThread: false,
  canSendNudge: false,
  canShareScreen: false,
  canUseIntercom: false,
  uiCanSeeRoomSidebar: false,
  uiCanSeeWhoReadMessageInDiscussion: false,
  uiCanSeeWhoReadMessageInMainThread: false,
};

const ALL_TRUE = Object.fromEntries(Object.keys(ALL_FALSE).map((k) => [k, true])) as Record<
  keyof typeof ALL_FALSE,
  boolean
>;

/** A participant: everything but oversight (unrelated issues, recording, read receipts). */
const PARTICIPANT = {
  ...ALL_TRUE,
  canChangePropertiesOfUnrelatedIssues: false,
  canRecordMeetings: false,
  uiCanSeeWhoReadMessageInDiscussion: false,
  uiCanSeeWhoReadMessageInMainThread: false,
};

const MESSAGING_ONLY = {
  ...ALL_FALSE,
  canSendMessagesInDiscussion: true,
  canSendMessagesInMainThread: true,
  canEditOrDeleteOwnMessagesInDiscussion: true,
  canEditOrDeleteOwnMessagesInMainThread: true,
  canReactToMessagesWithEmojiInDiscussion: true,
  canReactToMessagesWithEmojiInMainThread: true,
};

const SEED_KEYS = Object.keys(ALL_FALSE);
const WRONG_BEARER = "Wrong Bearer, please renew Web API Access Token";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

/** Flags through the RPC (Connect JSON) with the given headers. */
async function rpcFlags(roomId: string, headers: Record<string, string>) {
  const res = await permissionsClient(srv).getRoomPermissions({ roomId }, { headers });
  expect(res.roomPermissions?.roomId).toBe(roomId);
  const { $typeName: _t, ...flags } = res.roomPermissions!.permissions!;
  return flags;
}

/** Flags through seed 002's REST route; asserts the exact success shape. */
async function restFlags(roomId: string, headers: Record<string, string>) {
  const res = await getRoomPermissionsRest(srv, encodeURIComponent(roomId), headers);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const body = res.body as {
    httpStatusCode: number;
    roomPermissions: { permissions: Record<string, boolean>; roomId: unknown };
  };
  expect(Object.keys(body)).toEqual(["httpStatusCode", "roomPermissions"]);
  expect(body.httpStatusCode).toBe(200);
  expect(Object.keys(body.roomPermissions)).toEqual(["permissions", "roomId"]);
  expect(Object.keys(body.roomPermissions.permissions)).toEqual(SEED_KEYS);
  return body.roomPermissions.permissions;
}

/** Asserts seed 002's error body with `status`. */
function expectRestError(
  res: { status: number; body: unknown; contentType: string | null },
  status: number,
  errorText?: string | RegExp,
) {
  expect(res.status).toBe(status);
  expect(res.contentType).toMatch(/^application\/json/);
  const body = res.body as { errorText: unknown; httpStatusCode: unknown };
  expect(Object.keys(body).sort()).toEqual(["errorText", "httpStatusCode"]);
  expect(body.httpStatusCode).toBe(status);
  expect(typeof body.errorText).toBe("string");
  expect((body.errorText as string).length).toBeGreaterThan(0);
  if (typeof errorText === "string") expect(body.errorText).toBe(errorText);
  else if (errorText) expect(body.errorText).toMatch(errorText);
}

describe("roles → seed 002 flags (user access token)", () => {
  const cases = [
    ["role_room_user", "room", PARTICIPANT],
    ["role_room_moderator", "room", ALL_TRUE],
    ["role_space_user", "space", PARTICIPANT],
    ["role_space_moderator", "space", ALL_TRUE],
    ["role_space_owner", "space", ALL_TRUE],
  ] as const;

  it.each(cases)("%s gives exactly the expected flags over RPC and REST", async (role, scope, expected) => {
    const { userId, roomId } =
      scope === "room" ? await userWithRoomRole(srv, role) : await userWithSpaceRole(srv, role);
    const headers = credential.bearer(userToken(srv, userId));
    expect(await rpcFlags(roomId, headers)).toStrictEqual(expected);
    expect(await restFlags(roomId, headers)).toStrictEqual(expected);
  });

  it.each(["role_space_user", "role_space_moderator", "role_space_owner"] as const)(
    "%s never opens a private room of its space by itself: all false until a room role is granted",
    async (role) => {
      const { userId, roomId } = await userWithSpaceRole(srv, role, { roomIsPublic: false });
      const headers = credential.bearer(userToken(srv, userId));
      expect(await rpcFlags(roomId, headers)).toStrictEqual(ALL_FALSE);
      expect(await restFlags(roomId, headers)).toStrictEqual(ALL_FALSE);
      await srv.h.memberships.setRoomRole(srv.tenantId, roomId, userId, "role_room_user", "test", Date.now());
      expect(await rpcFlags(roomId, headers)).toStrictEqual(PARTICIPANT);
    },
  );

  it("granted lists the catalog values: a room user has no moderation, a room moderator has it", async () => {
    const user = await userWithRoomRole(srv, "role_room_user");
    const mod = await userWithRoomRole(srv, "role_room_moderator");
    const client = permissionsClient(srv);
    const u = await client.getRoomPermissions(
      { roomId: user.roomId },
      { headers: credential.bearer(userToken(srv, user.userId)) },
    );
    const m = await client.getRoomPermissions(
      { roomId: mod.roomId },
      { headers: credential.bearer(userToken(srv, mod.userId)) },
    );
    expect(u.roomPermissions!.granted).toContain(P.PermissionCanSendMessagesInMainThread);
    expect(u.roomPermissions!.granted).not.toContain(P.PermissionChatKick);
    expect(u.roomPermissions!.granted).not.toContain(P.PermissionCanRecordMeetings);
    expect(m.roomPermissions!.granted).toEqual(
      expect.arrayContaining([P.PermissionChatKick, P.PermissionRoomBlock, P.PermissionCanRecordMeetings]),
    );
    expect([...m.roomPermissions!.granted].sort((a, b) => a - b)).toEqual(m.roomPermissions!.granted);
  });

  it("a room role applies only in its room; a room of the tenant without any role gives all false", async () => {
    const { userId } = await userWithRoomRole(srv, "role_room_moderator");
    const elsewhere = await insertRoom(srv);
    const headers = credential.bearer(userToken(srv, userId));
    expect(await rpcFlags(elsewhere, headers)).toStrictEqual(ALL_FALSE);
    expect(await restFlags(elsewhere, headers)).toStrictEqual(ALL_FALSE);
  });

  it("room and space roles add up: room user + space moderator → everything", async () => {
    const { userId, roomId } = await userWithSpaceRole(srv, "role_space_user");
    expect(await rpcFlags(roomId, credential.bearer(userToken(srv, userId)))).toStrictEqual(PARTICIPANT);
    await srv.h.memberships.setRoomRole(srv.tenantId, roomId, userId, "role_room_moderator", "test", Date.now());
    expect(await rpcFlags(roomId, credential.bearer(userToken(srv, userId)))).toStrictEqual(ALL_TRUE);
  });

  it("a tenant moderator (seed 003 without chatRoom) has everything in every room of the tenant", async () => {
    const userId = await insertUser(srv, srv.tenantId, { tenantModerator: true });
    const headers = credential.bearer(userToken(srv, userId));
    expect(await rpcFlags(await insertRoom(srv), headers)).toStrictEqual(ALL_TRUE);
    expect(await restFlags(await insertRoom(srv), headers)).toStrictEqual(ALL_TRUE);
  });

  it("an access-link user's token (scoped to a room) gets its role there and nothing elsewhere", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "user");
    const other = await insertRoom(srv);
    await srv.h.memberships.setRoomRole(srv.tenantId, other, userId, "role_room_moderator", "test", Date.now());
    const headers = credential.bearer(userToken(srv, userId, { roomScope: roomId }));
    expect(await rpcFlags(roomId, headers)).toStrictEqual(PARTICIPANT);
    // A role in the other room does not help: the token is good for one room only.
    expect(await rpcFlags(other, headers)).toStrictEqual(ALL_FALSE);
    expect(await restFlags(other, headers)).toStrictEqual(ALL_FALSE);
  });
});

describe("room member tokens (seed 000)", () => {
  it("PermissionMessaging → the six messaging flags, nothing else; in another room → all false", async () => {
    const roomId = `created-by-token-${Date.now()}`;
    const token = await memberToken(srv, "member-1", roomId, [P.PermissionMessaging]);
    // The room was first seen in token Create: it exists for the tenant now.
    expect(await roomRowExists(srv, srv.tenantId, roomId)).toBe(true);
    const headers = credential.bearer(token);
    expect(await rpcFlags(roomId, headers)).toStrictEqual(MESSAGING_ONLY);
    expect(await restFlags(roomId, headers)).toStrictEqual(MESSAGING_ONLY);

    const other = await insertRoom(srv);
    expect(await rpcFlags(other, headers)).toStrictEqual(ALL_FALSE);
    expect(await restFlags(other, headers)).toStrictEqual(ALL_FALSE);
  });

  it("a single flag permission and seed 000 permissions map as expected; granted is the expanded token set", async () => {
    const roomId = await insertRoom(srv);
    const token = await memberToken(srv, "member-2", roomId, [P.PermissionCanShareScreen, P.PermissionChat]);
    const res = await permissionsClient(srv).getRoomPermissions({ roomId }, { headers: credential.bearer(token) });
    expect(res.roomPermissions!.permissions).toMatchObject({ ...ALL_FALSE, canShareScreen: true });
    expect(res.roomPermissions!.granted).toEqual([100, 101, 102, 103, 104, 105, 106, 107, P.PermissionCanShareScreen]);
  });
});

describe("credentials: Bearer user token, Bearer room member token, session cookie", () => {
  let roomId: string;
  let userTok: string;
  let memberTok: string;
  beforeAll(async () => {
    const u = await userWithRoomRole(srv, "role_room_user");
    roomId = u.roomId;
    userTok = userToken(srv, u.userId);
    memberTok = await memberToken(srv, u.userId, roomId, [P.PermissionUi]);
  });
  const UI_ONLY = () => ({
    ...ALL_FALSE,
    uiCanSeeRoomSidebar: true,
    uiCanSeeWhoReadMessageInDiscussion: true,
    uiCanSeeWhoReadMessageInMainThread: true,
  });

  it("Bearer user access token: RPC and REST", async () => {
    expect(await rpcFlags(roomId, credential.bearer(userTok))).toStrictEqual(PARTICIPANT);
    expect(await restFlags(roomId, credential.bearer(userTok))).toStrictEqual(PARTICIPANT);
  });

  it("Bearer room member token: RPC and REST (the token's grants, not the user's roles)", async () => {
    expect(await rpcFlags(roomId, credential.bearer(memberTok))).toStrictEqual(UI_ONLY());
    expect(await restFlags(roomId, credential.bearer(memberTok))).toStrictEqual(UI_ONLY());
  });

  it("session cookie roomgate_session=<user token> among other cookies: RPC and REST", async () => {
    expect(await rpcFlags(roomId, credential.cookie(userTok))).toStrictEqual(PARTICIPANT);
    expect(await restFlags(roomId, credential.cookie(userTok))).toStrictEqual(PARTICIPANT);
  });

  it("the REST success body is exactly seed 002's shape", async () => {
    const res = await getRoomPermissionsRest(srv, encodeURIComponent(roomId), credential.cookie(userTok));
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^application\/json/);
    expect(res.body).toStrictEqual({ httpStatusCode: 200, roomPermissions: { permissions: PARTICIPANT, roomId } });
  });

  it("the Connect JSON response writes all 24 flags, false ones included", async () => {
    const res = await fetch(`${srv.baseUrl}/room.permissions.v1.Service/GetRoomPermissions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...credential.bearer(memberTok) },
      body: JSON.stringify({ roomId }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      roomPermissions: { permissions: Record<string, boolean>; roomId: string; granted: string[] };
    };
    expect(body.roomPermissions.permissions).toStrictEqual(UI_ONLY());
    expect(body.roomPermissions.roomId).toBe(roomId);
    expect(body.roomPermissions.granted).toEqual([
      "PermissionUi",
      "PermissionUiCanSeeRoomSidebar",
      "PermissionUiCanSeeWhoReadMessageInDiscussion",
      "PermissionUiCanSeeWhoReadMessageInMainThread",
    ]);
  });
});

describe('room id rendering (seed 002 shows "roomId": 3)', () => {
  it("an all-digit id renders as a JSON number over REST and stays a string over RPC", async () => {
    const userId = await insertUser(srv);
    await insertRoom(srv, { id: "3" });
    await srv.h.memberships.setRoomRole(srv.tenantId, "3", userId, "role_room_moderator", "test", Date.now());
    const headers = credential.cookie(userToken(srv, userId));
    const res = await getRoomPermissionsRest(srv, "3", headers);
    expect(res.status).toBe(200);
    expect(res.body).toStrictEqual({ httpStatusCode: 200, roomPermissions: { permissions: ALL_TRUE, roomId: 3 } });
    const rpc = await permissionsClient(srv).getRoomPermissions({ roomId: "3" }, { headers });
    expect(rpc.roomPermissions!.roomId).toBe("3");
  });

  it("ids that would not round-trip as numbers stay strings", async () => {
    const userId = await insertUser(srv, srv.tenantId, { tenantModerator: true });
    const headers = credential.bearer(userToken(srv, userId));
    for (const id of ["007", "12345678901234567890", "42a"]) {
      await insertRoom(srv, { id });
      const res = await getRoomPermissionsRest(srv, id, headers);
      expect(res.status).toBe(200);
      expect((res.body as { roomPermissions: { roomId: unknown } }).roomPermissions.roomId).toBe(id);
    }
  });
});

describe("refused credentials", () => {
  let roomId: string;
  beforeAll(async () => {
    roomId = (await userWithRoomRole(srv, "role_room_user")).roomId;
  });

  it("no credential: REST 401 in seed 002's error shape, RPC unauthenticated", async () => {
    expectRestError(await getRoomPermissionsRest(srv, roomId), 401);
    await expectCode(permissionsClient(srv).getRoomPermissions({ roomId }), Code.Unauthenticated);
  });

  it("a garbage token (Bearer or cookie): 401 with seed 002's text, RPC unauthenticated", async () => {
    expectRestError(await getRoomPermissionsRest(srv, roomId, credential.bearer("garbage")), 401, WRONG_BEARER);
    expectRestError(await getRoomPermissionsRest(srv, roomId, credential.cookie("garbage")), 401, WRONG_BEARER);
    expectRestError(
      await getRoomPermissionsRest(srv, roomId, { authorization: "Basic dXNlcjpwYXNz" }),
      401,
      WRONG_BEARER,
    );
    await expectCode(
      permissionsClient(srv).getRoomPermissions({ roomId }, { headers: credential.bearer("garbage") }),
      Code.Unauthenticated,
    );
    await expectCode(
      permissionsClient(srv).getRoomPermissions({ roomId }, { headers: credential.cookie("garbage") }),
      Code.Unauthenticated,
    );
  });

  it("an expired user access token: 401, RPC unauthenticated", async () => {
    const userId = await insertUser(srv);
    await srv.h.memberships.setRoomRole(srv.tenantId, roomId, userId, "role_room_user", "test", Date.now());
    const past = new SubjectTokens(
      srv.h.codec,
      TokenKind.UserAccess,
      () => Date.now() - 2 * 3600_000,
      srv.h.revocations,
    );
    const expired = past.issue({ tenantId: srv.tenantId, userId, ttlSeconds: 60 }).token;
    expectRestError(await getRoomPermissionsRest(srv, roomId, credential.bearer(expired)), 401, WRONG_BEARER);
    expectRestError(await getRoomPermissionsRest(srv, roomId, credential.cookie(expired)), 401, WRONG_BEARER);
    await expectCode(
      permissionsClient(srv).getRoomPermissions({ roomId }, { headers: credential.bearer(expired) }),
      Code.Unauthenticated,
      "token expired",
    );
    // The same user with a live token is fine: it is the expiry that is refused.
    expect(await restFlags(roomId, credential.bearer(userToken(srv, userId)))).toStrictEqual(PARTICIPANT);
  });

  it("an access-link token is not an access token: 401, RPC unauthenticated", async () => {
    const link = srv.h.linkTokens.issue({ tenantId: srv.tenantId, userId: "", roomId, ttlSeconds: 3600 }).token;
    expectRestError(await getRoomPermissionsRest(srv, roomId, credential.bearer(link)), 401, WRONG_BEARER);
    expectRestError(await getRoomPermissionsRest(srv, roomId, credential.cookie(link)), 401, WRONG_BEARER);
    await expectCode(
      permissionsClient(srv).getRoomPermissions({ roomId }, { headers: credential.bearer(link) }),
      Code.Unauthenticated,
    );
  });

  it("an API key is not an end-user credential: 401, RPC unauthenticated", async () => {
    expectRestError(await getRoomPermissionsRest(srv, roomId, credential.bearer(srv.apiKey)), 401, WRONG_BEARER);
    await expectCode(
      permissionsClient(srv).getRoomPermissions({ roomId }, { headers: credential.bearer(srv.apiKey) }),
      Code.Unauthenticated,
    );
  });
});

describe("unknown rooms and bad ids", () => {
  let headers: Record<string, string>;
  beforeAll(async () => {
    headers = credential.bearer(userToken(srv, await insertUser(srv, srv.tenantId, { tenantModerator: true })));
  });

  it("an unknown room: REST 404, RPC not_found", async () => {
    expectRestError(await getRoomPermissionsRest(srv, "no-such-room", headers), 404, /not found/);
    await expectCode(permissionsClient(srv).getRoomPermissions({ roomId: "no-such-room" }, { headers }), Code.NotFound);
  });

  it("another tenant's room is not found, even for a tenant moderator and even as a room member token for it", async () => {
    const theirs = await insertRoom(srv, { tenantId: srv.otherTenantId });
    expectRestError(await getRoomPermissionsRest(srv, theirs, headers), 404);
    await expectCode(permissionsClient(srv).getRoomPermissions({ roomId: theirs }, { headers }), Code.NotFound);
    // A token the other tenant issued for its own room works there — the room is real.
    const theirToken = await memberToken(srv, "their-user", theirs, [P.PermissionOther], srv.otherKey);
    expect(await rpcFlags(theirs, credential.bearer(theirToken))).toStrictEqual({ ...ALL_FALSE, canSendNudge: true });
    // ...but a token of the other tenant does not see this tenant's rooms.
    const mine = await insertRoom(srv);
    await expectCode(
      permissionsClient(srv).getRoomPermissions({ roomId: mine }, { headers: credential.bearer(theirToken) }),
      Code.NotFound,
    );
    expectRestError(await getRoomPermissionsRest(srv, mine, credential.bearer(theirToken)), 404);
  });

  it("an empty room id: RPC invalid_argument, REST 400", async () => {
    await expectCode(
      permissionsClient(srv).getRoomPermissions({ roomId: "" }, { headers }),
      Code.InvalidArgument,
      "room_id: must not be empty",
    );
    expectRestError(await getRoomPermissionsRest(srv, "", headers), 400, /must not be empty/);
  });

  it("an oversized or control-character id: 400 / invalid_argument", async () => {
    const long = "x".repeat(300);
    expectRestError(await getRoomPermissionsRest(srv, long, headers), 400, /longer than 256 bytes/);
    expectRestError(await getRoomPermissionsRest(srv, "a%00b", headers), 400, /control characters/);
    await expectCode(permissionsClient(srv).getRoomPermissions({ roomId: long }, { headers }), Code.InvalidArgument);
  });

  it("a path that is not valid percent-encoding is a plain 404, and the server keeps serving", async () => {
    for (const bad of ["%E0%A4%A", "%", "%C0%80"]) {
      const res = await fetch(`${srv.baseUrl}/api/v1/room-permissions/${bad}`, { headers });
      expect(res.status, bad).toBe(404);
      await res.arrayBuffer();
    }
    const ok = await getRoomPermissionsRest(
      srv,
      encodeURIComponent(await insertRoom(srv, { id: "räum ✓/1" })),
      headers,
    );
    expect(ok.status).toBe(200);
    expect((ok.body as { roomPermissions: { roomId: unknown } }).roomPermissions.roomId).toBe("räum ✓/1");
  });

  it("the credential is checked before the id: no credential and a bad id is 401", async () => {
    expectRestError(await getRoomPermissionsRest(srv, ""), 401);
  });
});
