import { randomUUID } from "node:crypto";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type CallOptions, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import {
  Action as PrivateAction,
  Service as ModerationPrivate,
} from "../../gen/room/moderation/private/v1/service_pb.js";
import { Action, Service as Moderation } from "../../gen/room/moderation/v1/service_pb.js";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { createApp } from "../../src/app/create-app.js";
import { serve } from "../../src/app/serve.js";
import { apiKeyId } from "../../src/domain/auth/api-keys.js";
import { generateTokenKey, type TokenKey } from "../../src/domain/tokens/keyring.js";
import type { StoredEvent } from "../../src/domain/journal.js";
import { auditLog, events, grants, restrictions, revocations, rooms } from "../../src/store/schema.js";
import {
  bearer,
  connectTransport,
  expectCode,
  grpcTransport,
  tokensClient,
  type TokensClient,
} from "../support/clients.js";
import {
  insertRoom,
  insertUser,
  memberToken,
  permissionsClient,
  userToken,
  userWithRoomRole,
} from "../support/permissions-fixtures.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { as, rowCount } from "../support/spaces-clients.js";
import { expectRoomAccessDenied } from "../support/room-access.js";

// ---- the actions, as the contract names them and the domain records them ----

const ACTIONS = [
  {
    name: "chat_block",
    action: Action.CHAT_BLOCK,
    perm: P.PermissionChatBlock,
    event: EventType.CHAT_BLOCKED,
    sets: "chat_block",
  },
  {
    name: "chat_unblock",
    action: Action.CHAT_UNBLOCK,
    perm: P.PermissionChatUnblock,
    event: EventType.CHAT_UNBLOCKED,
    lifts: "chat_block",
  },
  { name: "chat_mute", action: Action.CHAT_MUTE, perm: P.PermissionChatMute, event: EventType.MUTED, sets: "mute" },
  {
    name: "chat_unmute",
    action: Action.CHAT_UNMUTE,
    perm: P.PermissionChatUnmute,
    event: EventType.UNMUTED,
    lifts: "mute",
  },
  {
    name: "chat_kick",
    action: Action.CHAT_KICK,
    perm: P.PermissionChatKick,
    event: EventType.CHAT_KICKED,
    kicks: true,
  },
  {
    name: "room_block",
    action: Action.ROOM_BLOCK,
    perm: P.PermissionRoomBlock,
    event: EventType.ROOM_BLOCKED,
    sets: "room_block",
  },
  {
    name: "room_unblock",
    action: Action.ROOM_UNBLOCK,
    perm: P.PermissionRoomUnblock,
    event: EventType.ROOM_UNBLOCKED,
    lifts: "room_block",
  },
  {
    name: "room_kick",
    action: Action.ROOM_KICK,
    perm: P.PermissionRoomKick,
    event: EventType.ROOM_KICKED,
    kicks: true,
  },
] as const satisfies ReadonlyArray<{
  name: string;
  action: Action;
  perm: P;
  event: EventType;
  sets?: string;
  lifts?: string;
  kicks?: true;
}>;
type ActionCase = (typeof ACTIONS)[number];

/** The action each lifting action undoes, to have something to lift. */
const SETTER: Partial<Record<ActionCase["name"], Action>> = {
  chat_unblock: Action.CHAT_BLOCK,
  chat_unmute: Action.CHAT_MUTE,
  room_unblock: Action.ROOM_BLOCK,
};

/** Every moderation permission, one by one (no group: it would imply them all). */
const ALL_MODERATION: readonly P[] = [...ACTIONS.map((a) => a.perm), P.PermissionChatMessageDelete];

/** What the targets' tokens carry: sending, reacting, files and one unrelated flag. */
const TARGET_PERMS = [P.PermissionMessaging, P.PermissionFiles, P.PermissionCanShareScreen];

// ---- one server for the file, with a clock the tests move ----

let now = Date.now();
const clock = () => now;
let srv: TestServer;
let endUser: Client<typeof Moderation>;
let backend: Client<typeof ModerationPrivate>;
let tokens: TokensClient;
let keyActor: string;

beforeAll(async () => {
  srv = await startTestServer({ clock });
  endUser = createClient(Moderation, connectTransport(srv.baseUrl));
  backend = createClient(ModerationPrivate, grpcTransport(srv.baseUrl));
  tokens = tokensClient(grpcTransport(srv.baseUrl));
  keyActor = `key:${apiKeyId(srv.apiKey)}`;
});
afterAll(async () => {
  await srv?.close();
});

/** Request fields shared by both surfaces; `action` is a wire number on purpose. */
interface ActInit {
  action: number;
  roomId: string;
  targetUserId: string;
  durationSeconds?: number;
  reason?: string;
}

/** Somebody who calls moderation: the backend with its key or an end user with a token. */
interface Caller {
  readonly label: string;
  readonly actor: string;
  act(req: ActInit): Promise<{ eventId: bigint }>;
  deleteMessage(req: { roomId: string; messageId: string; reason?: string }): Promise<{ eventId: bigint }>;
}

function apiKeyCaller(key = srv.apiKey, actor = keyActor): Caller {
  const opts: CallOptions = bearer(key);
  return {
    label: "API key",
    actor,
    act: (req) => backend.act({ ...req, action: req.action as PrivateAction }, opts),
    deleteMessage: (req) => backend.deleteMessage(req, opts),
  };
}

function endUserCaller(token: string, userId: string, label: string): Caller {
  const opts = as(token);
  return {
    label,
    actor: `user:${userId}`,
    act: (req) => endUser.act({ ...req, action: req.action as Action }, opts),
    deleteMessage: (req) => endUser.deleteMessage(req, opts),
  };
}

/** A room member token from the real Create RPC, for a fresh moderator of `roomId`. */
async function memberTokenCaller(
  roomId: string,
  permissions: P[] = [P.PermissionChat, P.PermissionRoom],
): Promise<Caller> {
  const userId = `mod-${randomUUID()}`;
  return endUserCaller(await memberToken(srv, userId, roomId, permissions), userId, "room member token");
}

/** A registered user holding role_room_moderator in `roomId`, with a user access token. */
async function roomModeratorCaller(roomId: string): Promise<Caller> {
  const userId = await insertUser(srv);
  await srv.h.memberships.setRoomRole(srv.tenantId, roomId, userId, "role_room_moderator", "test", Date.now());
  return endUserCaller(userToken(srv, userId), userId, "room moderator's user access token");
}

const CALLERS: ReadonlyArray<[string, (roomId: string) => Caller | Promise<Caller>]> = [
  ["the API key (gRPC, private surface)", () => apiKeyCaller()],
  ["a room member token with PermissionChat + PermissionRoom (Connect JSON)", (roomId) => memberTokenCaller(roomId)],
  ["a room moderator's user access token (Connect JSON)", (roomId) => roomModeratorCaller(roomId)],
];

/** A fresh room with one member holding a token from the real Create RPC. */
async function scene(): Promise<{ roomId: string; target: string; targetToken: string }> {
  const roomId = await insertRoom(srv);
  const target = `member-${randomUUID()}`;
  return { roomId, target, targetToken: await memberToken(srv, target, roomId, TARGET_PERMS) };
}

/** Rows in every table moderation, revocation and issue can write. */
async function writes() {
  return {
    restrictions: await rowCount(srv, restrictions),
    revocations: await rowCount(srv, revocations),
    audit: await rowCount(srv, auditLog),
    events: await rowCount(srv, events),
    grants: await rowCount(srv, grants),
    rooms: await rowCount(srv, rooms),
  };
}

/** The call must fail with `code` and leave every table as it was. */
async function expectRefused(call: () => Promise<unknown>, code: Code, message?: string | RegExp): Promise<void> {
  const before = await writes();
  await expectCode(call(), code, message);
  expect(await writes()).toStrictEqual(before);
}

async function verify(token: string) {
  return tokens.verify({ token }, bearer(srv.apiKey));
}

/** The member's seed 002 flags in `roomId`, asked with their own token. */
async function flags(token: string, roomId: string) {
  const res = await permissionsClient(srv).getRoomPermissions({ roomId }, as(token));
  return res.roomPermissions!.permissions!;
}

async function lastEventId(): Promise<number> {
  return (await srv.h.journal.eventsAfter(srv.tenantId, undefined, 0, 1_000_000)).at(-1)?.id ?? 0;
}

// ---------------------------------------------------------------------------

describe("every action is permitted with the API key, a room member token and a room moderator's user access token", () => {
  for (const [callerName, makeCaller] of CALLERS) {
    describe(callerName, () => {
      it.each(ACTIONS)("$name: applied, one audit entry, one event, effect visible in Verify", async (a) => {
        const { roomId, target, targetToken } = await scene();
        const caller = await makeCaller(roomId);
        const setter = SETTER[a.name];
        if (setter !== undefined) await apiKeyCaller().act({ action: setter, roomId, targetUserId: target });

        const before = await writes();
        const lastEvent = await lastEventId();
        const announced: StoredEvent[] = [];
        const stop = srv.h.bus.subscribe(srv.tenantId, (e) => announced.push(e));
        let res: Awaited<ReturnType<typeof caller.act>>;
        try {
          res = await caller.act({ action: a.action, roomId, targetUserId: target, reason: `reason for ${a.name}` });
        } finally {
          stop();
        }

        // Exactly one audit entry and one event; the restriction / revocation rows as the action says.
        const after = await writes();
        expect(after).toStrictEqual({
          ...before,
          audit: before.audit + 1,
          events: before.events + 1,
          restrictions: before.restrictions + ("sets" in a ? 1 : "lifts" in a ? -1 : 0),
          revocations: before.revocations + ("kicks" in a ? 1 : 0),
        });
        const newEvents = await srv.h.journal.eventsAfter(srv.tenantId, undefined, lastEvent, 10);
        expect(newEvents).toHaveLength(1);
        const e = newEvents[0]!;
        expect(typeof res.eventId).toBe("bigint");
        expect(res.eventId).toBe(BigInt(e.id));
        expect(e).toMatchObject({
          type: a.event,
          roomId,
          userId: target,
          actor: caller.actor,
          reason: `reason for ${a.name}`,
          until: null,
        });
        expect(announced.map((x) => x.id)).toEqual([e.id]);

        const [audit] = await srv.h.journal.listAudit({ tenantId: srv.tenantId, limit: 1 });
        expect(audit).toMatchObject({
          action: `moderation.${a.name}`,
          actor: caller.actor,
          targetUserId: target,
          roomId,
          reason: `reason for ${a.name}`,
        });

        // The effect on the member's current token.
        if ("kicks" in a) {
          await expectCode(verify(targetToken), Code.Unauthenticated, "token revoked");
        } else if ("sets" in a && a.sets === "room_block") {
          // A room block denies access: Verify refuses, with the reason as a detail.
          await expectRoomAccessDenied(verify(targetToken), "room_blocked", roomId, null);
        } else {
          const v = await verify(targetToken);
          expect(v.restrictions.map((r) => r.kind)).toEqual("sets" in a ? [a.sets] : []);
        }
      });
    });
  }

  it("the Connect JSON wire: the enum by name, the event id as a decimal string", async () => {
    const { roomId, target } = await scene();
    const mod = await roomModeratorCaller(roomId);
    const token = userToken(srv, mod.actor.slice("user:".length));
    const res = await fetch(`${srv.baseUrl}/room.moderation.v1.Service/Act`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({
        action: "ACTION_CHAT_MUTE",
        roomId,
        targetUserId: target,
        durationSeconds: 60,
        reason: "spam",
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { eventId: string };
    expect(Object.keys(body)).toEqual(["eventId"]);
    expect(body.eventId).toMatch(/^[1-9][0-9]*$/);
    expect(Number(body.eventId)).toBe(await lastEventId());
  });
});

describe("refusals: exact code, nothing written", () => {
  it.each(ACTIONS)(
    "$name: permission_denied for a room member token that has every moderation permission but this one",
    async (a) => {
      const { roomId, target, targetToken } = await scene();
      const caller = await memberTokenCaller(
        roomId,
        ALL_MODERATION.filter((p) => p !== a.perm),
      );
      await expectRefused(
        () => caller.act({ action: a.action, roomId, targetUserId: target }),
        Code.PermissionDenied,
        new RegExp(`needs ${P[a.perm]}\\b`),
      );
      expect((await verify(targetToken)).restrictions).toEqual([]);
      // Control: the same token does take an action it has the permission for.
      const other = a.action === Action.CHAT_MUTE ? Action.CHAT_BLOCK : Action.CHAT_MUTE;
      await caller.act({ action: other, roomId, targetUserId: target });
    },
  );

  it("permission_denied for a room member token and a moderator's user access token of ANOTHER room", async () => {
    const { roomId, target, targetToken } = await scene();
    const elsewhere = await insertRoom(srv);
    const byToken = await memberTokenCaller(elsewhere);
    const byRole = await roomModeratorCaller(elsewhere);
    for (const caller of [byToken, byRole]) {
      for (const a of ACTIONS) {
        await expectRefused(
          () => caller.act({ action: a.action, roomId, targetUserId: target }),
          Code.PermissionDenied,
        );
      }
      await expectRefused(() => caller.deleteMessage({ roomId, messageId: "m-1" }), Code.PermissionDenied);
    }
    expect((await verify(targetToken)).restrictions).toEqual([]);
    // Control: in their own room both may act.
    const there = `member-${randomUUID()}`;
    await memberToken(srv, there, elsewhere, TARGET_PERMS);
    await byToken.act({ action: Action.CHAT_MUTE, roomId: elsewhere, targetUserId: there });
    await byRole.act({ action: Action.CHAT_UNMUTE, roomId: elsewhere, targetUserId: there });
  });

  it("permission_denied for a plain role_room_user, for every action and for DeleteMessage", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
    const target = `member-${randomUUID()}`;
    await memberToken(srv, target, roomId, TARGET_PERMS);
    const caller = endUserCaller(userToken(srv, userId), userId, "room user");
    for (const a of ACTIONS) {
      await expectRefused(
        () => caller.act({ action: a.action, roomId, targetUserId: target }),
        Code.PermissionDenied,
        new RegExp(P[a.perm]),
      );
    }
    await expectRefused(
      () => caller.deleteMessage({ roomId, messageId: "m-1" }),
      Code.PermissionDenied,
      /PermissionChatMessageDelete/,
    );
  });

  it("a target who is not a member of the room → not_found, for every caller", async () => {
    const { roomId, target } = await scene();
    const stranger = await insertUser(srv);
    // A member of another room is not a member of this one either.
    const elsewhere = `member-${randomUUID()}`;
    await memberToken(srv, elsewhere, await insertRoom(srv), TARGET_PERMS);
    const callers = [apiKeyCaller(), await memberTokenCaller(roomId), await roomModeratorCaller(roomId)];
    for (const caller of callers) {
      for (const who of [stranger, elsewhere, `nobody-${randomUUID()}`]) {
        await expectRefused(
          () => caller.act({ action: Action.ROOM_BLOCK, roomId, targetUserId: who }),
          Code.NotFound,
          /is not a member of room/,
        );
      }
    }
    // Control: the room's member is found.
    await callers[0]!.act({ action: Action.ROOM_BLOCK, roomId, targetUserId: target });
  });

  it("another tenant's room → not_found (its key on our room, our key and our users on its room)", async () => {
    const { roomId, target } = await scene();
    const theirRoom = `room-${randomUUID()}`;
    const theirMember = `member-${randomUUID()}`;
    await memberToken(srv, theirMember, theirRoom, TARGET_PERMS, srv.otherKey);
    const theirKey = apiKeyCaller(srv.otherKey, "key:other");
    for (const a of ACTIONS) {
      await expectRefused(
        () => theirKey.act({ action: a.action, roomId, targetUserId: target }),
        Code.NotFound,
        /not found/,
      );
    }
    await expectRefused(() => theirKey.deleteMessage({ roomId, messageId: "m-1" }), Code.NotFound);

    const tenantModerator = await insertUser(srv, srv.tenantId, { tenantModerator: true });
    const ours = [apiKeyCaller(), endUserCaller(userToken(srv, tenantModerator), tenantModerator, "tenant moderator")];
    for (const caller of ours) {
      await expectRefused(
        () => caller.act({ action: Action.CHAT_MUTE, roomId: theirRoom, targetUserId: theirMember }),
        Code.NotFound,
      );
      await expectRefused(() => caller.deleteMessage({ roomId: theirRoom, messageId: "m-1" }), Code.NotFound);
    }
    // Control: their key acts on their room; our tenant moderator acts on ours.
    await theirKey.act({ action: Action.CHAT_MUTE, roomId: theirRoom, targetUserId: theirMember });
    await ours[1]!.act({ action: Action.CHAT_MUTE, roomId, targetUserId: target });
  });

  it("ACTION_UNSPECIFIED and an unknown action number → invalid_argument on both surfaces", async () => {
    const { roomId, target } = await scene();
    for (const caller of [apiKeyCaller(), await roomModeratorCaller(roomId)]) {
      await expectRefused(
        () => caller.act({ action: Action.UNSPECIFIED, roomId, targetUserId: target }),
        Code.InvalidArgument,
        /ACTION_UNSPECIFIED/,
      );
      await expectRefused(
        () => caller.act({ action: 99, roomId, targetUserId: target }),
        Code.InvalidArgument,
        /unknown action 99/,
      );
    }
  });

  it("a misspelled action name in Connect JSON → invalid_argument", async () => {
    const { roomId, target } = await scene();
    const moderator = (await roomModeratorCaller(roomId)).actor.slice(5);
    const before = await writes();
    const res = await fetch(`${srv.baseUrl}/room.moderation.v1.Service/Act`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${userToken(srv, moderator)}`,
      },
      body: JSON.stringify({ action: "ACTION_MUTE", roomId, targetUserId: target }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("invalid_argument");
    expect(await writes()).toStrictEqual(before);
  });

  it("a duration on a kick (or on a lift) → invalid_argument on both surfaces", async () => {
    const { roomId, target, targetToken } = await scene();
    for (const caller of [apiKeyCaller(), await memberTokenCaller(roomId)]) {
      for (const action of [Action.CHAT_KICK, Action.ROOM_KICK, Action.CHAT_UNMUTE, Action.ROOM_UNBLOCK]) {
        await expectRefused(
          () => caller.act({ action, roomId, targetUserId: target, durationSeconds: 60 }),
          Code.InvalidArgument,
          /duration_seconds applies to block and mute only/,
        );
      }
    }
    // Still not kicked.
    expect((await verify(targetToken)).userId).toBe(target);
  });

  it("bad ids and oversized input → invalid_argument", async () => {
    const { roomId, target } = await scene();
    const key = apiKeyCaller();
    const cases: ActInit[] = [
      { action: Action.CHAT_MUTE, roomId: "", targetUserId: target },
      { action: Action.CHAT_MUTE, roomId, targetUserId: "" },
      { action: Action.CHAT_MUTE, roomId, targetUserId: "x".repeat(257) },
      { action: Action.CHAT_MUTE, roomId, targetUserId: "a\nb" },
      { action: Action.CHAT_MUTE, roomId, targetUserId: target, reason: "r".repeat(1025) },
      { action: Action.CHAT_MUTE, roomId, targetUserId: target, durationSeconds: 366 * 86_400 + 1 },
    ];
    for (const c of cases) await expectRefused(() => key.act(c), Code.InvalidArgument);
    await expectRefused(() => key.deleteMessage({ roomId, messageId: "" }), Code.InvalidArgument, /message_id/);
    const someone = await insertUser(srv);
    await expectRefused(
      () => endUser.act({ action: Action.CHAT_MUTE, roomId: "", targetUserId: target }, as(userToken(srv, someone))),
      Code.InvalidArgument,
    );
  });

  it("credentials: none, or the wrong kind → unauthenticated", async () => {
    const { roomId, target, targetToken } = await scene();
    const req = { action: Action.CHAT_MUTE, roomId, targetUserId: target };
    await expectRefused(() => endUser.act(req), Code.Unauthenticated);
    await expectRefused(() => backend.act({ ...req, action: PrivateAction.CHAT_MUTE }), Code.Unauthenticated);
    // A member token is not an API key, and an API key is not an end-user token.
    await expectRefused(
      () => backend.act({ ...req, action: PrivateAction.CHAT_MUTE }, bearer(targetToken)),
      Code.Unauthenticated,
    );
    await expectRefused(() => endUser.act(req, as(srv.apiKey)), Code.Unauthenticated);
  });
});

describe("effects, seen through Verify and GetRoomPermissions", () => {
  it("mute drops sending (not reacting) and lists restriction mute; unmute restores", async () => {
    const { roomId, target, targetToken } = await scene();
    const full = await verify(targetToken);
    expect(full.permissions).toContain(P.PermissionCanSendMessagesInMainThread);
    expect((await flags(targetToken, roomId)).canSendMessagesInMainThread).toBe(true);

    await apiKeyCaller().act({ action: Action.CHAT_MUTE, roomId, targetUserId: target });
    const muted = await verify(targetToken);
    expect(muted.restrictions.map((r) => ({ kind: r.kind, until: r.until }))).toEqual([
      { kind: "mute", until: undefined },
    ]);
    for (const p of [
      P.PermissionMessaging,
      P.PermissionCanSendMessagesInMainThread,
      P.PermissionCanSendMessagesInDiscussion,
      P.PermissionCanSendFilesIntoRoomInMainThread,
    ]) {
      expect(muted.permissions).not.toContain(p);
    }
    expect(muted.permissions).toContain(P.PermissionCanReactToMessagesWithEmojiInMainThread);
    expect(muted.permissions).toContain(P.PermissionCanShareScreen);
    const mutedFlags = await flags(targetToken, roomId);
    expect(mutedFlags.canSendMessagesInMainThread).toBe(false);
    expect(mutedFlags.canSendMessagesInDiscussion).toBe(false);
    expect(mutedFlags.canReactToMessagesWithEmojiInMainThread).toBe(true);

    await (await memberTokenCaller(roomId)).act({ action: Action.CHAT_UNMUTE, roomId, targetUserId: target });
    const restored = await verify(targetToken);
    expect(restored.restrictions).toEqual([]);
    expect(restored.permissions).toEqual(full.permissions);
    expect((await flags(targetToken, roomId)).canSendMessagesInMainThread).toBe(true);
  });

  it("chat block drops the messaging and files ranges; chat unblock restores", async () => {
    const { roomId, target, targetToken } = await scene();
    const full = await verify(targetToken);
    await (await roomModeratorCaller(roomId)).act({ action: Action.CHAT_BLOCK, roomId, targetUserId: target });
    const blocked = await verify(targetToken);
    expect(blocked.restrictions.map((r) => r.kind)).toEqual(["chat_block"]);
    expect(blocked.permissions.filter((p) => p >= 300 && p < 500)).toEqual([]);
    expect(blocked.permissions).toEqual([P.PermissionCanShareScreen]);
    const f = await flags(targetToken, roomId);
    expect(f.canReactToMessagesWithEmojiInMainThread).toBe(false);
    expect(f.canSendFilesIntoRoomInMainThread).toBe(false);
    expect(f.canShareScreen).toBe(true);

    await apiKeyCaller().act({ action: Action.CHAT_UNBLOCK, roomId, targetUserId: target });
    expect((await verify(targetToken)).permissions).toEqual(full.permissions);
    expect((await flags(targetToken, roomId)).canReactToMessagesWithEmojiInMainThread).toBe(true);
  });

  it("room block: no permissions, restriction room_block, all flags false, new tokens refused; room unblock restores", async () => {
    // A registered user with a room role and a room member token: the block covers both.
    const { userId: target, roomId } = await userWithRoomRole(srv, "role_room_user");
    const targetToken = await memberToken(srv, target, roomId, TARGET_PERMS);
    const roleToken = userToken(srv, target);
    expect((await flags(roleToken, roomId)).canSendMessagesInMainThread).toBe(true);
    const full = await verify(targetToken);

    await (await memberTokenCaller(roomId)).act({
      action: Action.ROOM_BLOCK,
      roomId,
      targetUserId: target,
      reason: "abuse",
    });
    await expectRoomAccessDenied(verify(targetToken), "room_blocked", roomId, null);
    for (const t of [targetToken, roleToken]) {
      await expectRoomAccessDenied(
        permissionsClient(srv).getRoomPermissions({ roomId }, as(t)),
        "room_blocked",
        roomId,
        null,
      );
    }
    await expectRefused(
      () =>
        tokens.create(
          { arguments: [{ userId: target, roomId, permissions: [P.PermissionMessaging] }] },
          bearer(srv.apiKey),
        ),
      Code.FailedPrecondition,
      /blocked from room/,
    );
    // Other members of the room still get tokens.
    await memberToken(srv, `member-${randomUUID()}`, roomId, TARGET_PERMS);

    await (await roomModeratorCaller(roomId)).act({ action: Action.ROOM_UNBLOCK, roomId, targetUserId: target });
    expect((await verify(targetToken)).permissions).toEqual(full.permissions);
    const fresh = await memberToken(srv, target, roomId, [P.PermissionMessaging]);
    expect((await verify(fresh)).permissions).toContain(P.PermissionCanSendMessagesInMainThread);
  });

  it.each([
    ["room kick", Action.ROOM_KICK],
    ["chat kick", Action.CHAT_KICK],
  ])(
    "%s: the current token is revoked at once; a token issued after the kick verifies; other rooms untouched",
    async (_n, action) => {
      const { roomId, target, targetToken } = await scene();
      const otherRoom = await insertRoom(srv);
      const otherToken = await memberToken(srv, target, otherRoom, TARGET_PERMS);
      await (await memberTokenCaller(roomId)).act({ action, roomId, targetUserId: target });

      await expectCode(verify(targetToken), Code.Unauthenticated, "token revoked");
      // The revoked token is refused as an end-user credential as well.
      await expectCode(
        permissionsClient(srv).getRoomPermissions({ roomId }, as(targetToken)),
        Code.Unauthenticated,
        "token revoked",
      );
      expect((await verify(otherToken)).roomId).toBe(otherRoom);

      now += 1;
      const fresh = await memberToken(srv, target, roomId, TARGET_PERMS);
      expect((await verify(fresh)).userId).toBe(target);
      await expectCode(verify(targetToken), Code.Unauthenticated, "token revoked");
    },
  );
});

describe("durations lift on time (injected clock)", () => {
  it("mute for 60 s: muted at +59.999 s, not at +60 s, without any write", async () => {
    const { roomId, target, targetToken } = await scene();
    const start = now;
    await apiKeyCaller().act({ action: Action.CHAT_MUTE, roomId, targetUserId: target, durationSeconds: 60 });
    const [e] = await srv.h.journal.eventsAfter(srv.tenantId, roomId, (await lastEventId()) - 1, 1);
    expect(e).toMatchObject({ type: EventType.MUTED, until: start + 60_000 });
    const [audit] = await srv.h.journal.listAudit({ tenantId: srv.tenantId, limit: 1 });
    expect(audit!.detail).toEqual({ until: start + 60_000, durationSeconds: 60 });
    const before = await writes();

    now = start + 59_000;
    let v = await verify(targetToken);
    expect(v.restrictions.map((r) => r.kind)).toEqual(["mute"]);
    expect(timestampMs(v.restrictions[0]!.until!)).toBe(start + 60_000);
    expect(v.permissions).not.toContain(P.PermissionCanSendMessagesInMainThread);
    expect((await flags(targetToken, roomId)).canSendMessagesInMainThread).toBe(false);

    now = start + 59_999;
    expect((await verify(targetToken)).restrictions.map((r) => r.kind)).toEqual(["mute"]);

    now = start + 60_000;
    v = await verify(targetToken);
    expect(v.restrictions).toEqual([]);
    expect(v.permissions).toContain(P.PermissionCanSendMessagesInMainThread);
    expect((await flags(targetToken, roomId)).canSendMessagesInMainThread).toBe(true);
    expect(await writes()).toStrictEqual(before);
  });

  it("room block for 30 s: new tokens refused until it lifts by itself", async () => {
    const { roomId, target, targetToken } = await scene();
    const start = now;
    await (await roomModeratorCaller(roomId)).act({
      action: Action.ROOM_BLOCK,
      roomId,
      targetUserId: target,
      durationSeconds: 30,
    });
    now = start + 29_999;
    await expectRoomAccessDenied(verify(targetToken), "room_blocked", roomId, start + 30_000);
    await expectRefused(
      () =>
        tokens.create(
          { arguments: [{ userId: target, roomId, permissions: [P.PermissionMessaging] }] },
          bearer(srv.apiKey),
        ),
      Code.FailedPrecondition,
    );
    now = start + 30_000;
    expect((await verify(targetToken)).restrictions).toEqual([]);
    const fresh = await memberToken(srv, target, roomId, [P.PermissionMessaging]);
    expect((await verify(fresh)).permissions).toContain(P.PermissionMessaging);
  });
});

describe("DeleteMessage", () => {
  it("permitted with the API key, PermissionChatMessageDelete alone, or a room moderator; records MESSAGE_DELETED with the message id", async () => {
    const { roomId } = await scene();
    const callers = [
      apiKeyCaller(),
      await memberTokenCaller(roomId, [P.PermissionChatMessageDelete]),
      await roomModeratorCaller(roomId),
    ];
    for (const [i, caller] of callers.entries()) {
      const messageId = `msg-${i}-${randomUUID()}`;
      const before = await writes();
      const lastEvent = await lastEventId();
      const res = await caller.deleteMessage({ roomId, messageId, reason: "off-topic" });
      expect(await writes()).toStrictEqual({ ...before, audit: before.audit + 1, events: before.events + 1 });
      const evs = await srv.h.journal.eventsAfter(srv.tenantId, undefined, lastEvent, 10);
      expect(evs).toHaveLength(1);
      expect(res.eventId).toBe(BigInt(evs[0]!.id));
      expect(evs[0]).toMatchObject({
        type: EventType.MESSAGE_DELETED,
        roomId,
        messageId,
        actor: caller.actor,
        reason: "off-topic",
      });
      const [audit] = await srv.h.journal.listAudit({ tenantId: srv.tenantId, limit: 1 });
      expect(audit).toMatchObject({
        action: "moderation.message_delete",
        actor: caller.actor,
        roomId,
        target: messageId,
        reason: "off-topic",
      });
    }
  });

  it("refused with permission_denied without PermissionChatMessageDelete (every other moderation permission held)", async () => {
    const { roomId } = await scene();
    const caller = await memberTokenCaller(
      roomId,
      ALL_MODERATION.filter((p) => p !== P.PermissionChatMessageDelete),
    );
    await expectRefused(
      () => caller.deleteMessage({ roomId, messageId: "m-1" }),
      Code.PermissionDenied,
      /needs PermissionChatMessageDelete/,
    );
  });
});

describe("restrictions and kicks survive a restart", () => {
  it("a second app on the same data dir and keys: Verify still reflects mute, room block and kick; lifts stay lifted", async () => {
    let t = Date.now();
    const tClock = () => t;
    const keys: TokenKey[] = [{ ...generateTokenKey(t), state: "active" }];
    const first = await startTestServer({ clock: tClock, tokenKeys: keys });
    try {
      const key = bearer(first.apiKey);
      const mod = createClient(ModerationPrivate, grpcTransport(first.baseUrl));
      const roomId = await insertRoom(first);
      const issue = async (userId: string) => {
        const {
          tokens: [tok],
        } = await tokensClient(grpcTransport(first.baseUrl)).create(
          { arguments: [{ userId, roomId, permissions: TARGET_PERMS }] },
          key,
        );
        return tok!;
      };
      const muted = await issue("muted");
      const blocked = await issue("blocked");
      const kicked = await issue("kicked");
      const unmuted = await issue("unmuted");
      await mod.act({ action: PrivateAction.CHAT_MUTE, roomId, targetUserId: "muted" }, key);
      const t0 = t;
      await mod.act({ action: PrivateAction.ROOM_BLOCK, roomId, targetUserId: "blocked", durationSeconds: 3600 }, key);
      await mod.act({ action: PrivateAction.ROOM_KICK, roomId, targetUserId: "kicked" }, key);
      await mod.act({ action: PrivateAction.CHAT_MUTE, roomId, targetUserId: "unmuted" }, key);
      await mod.act({ action: PrivateAction.CHAT_UNMUTE, roomId, targetUserId: "unmuted" }, key);
      await first.server.close();

      t += 1;
      const app = await createApp(first.app.config, pino({ level: "silent" }), { clock: tClock, tokenKeys: keys });
      const second = await serve(app);
      try {
        const tok = tokensClient(createGrpcTransport({ baseUrl: `http://127.0.0.1:${second.port}` }));
        const m = await tok.verify({ token: muted }, key);
        expect(m.restrictions.map((r) => r.kind)).toEqual(["mute"]);
        expect(m.permissions).not.toContain(P.PermissionCanSendMessagesInMainThread);
        await expectRoomAccessDenied(tok.verify({ token: blocked }, key), "room_blocked", roomId, t0 + 3600 * 1000);
        await expectCode(
          tok.create({ arguments: [{ userId: "blocked", roomId, permissions: [P.PermissionMessaging] }] }, key),
          Code.FailedPrecondition,
        );
        await expectCode(tok.verify({ token: kicked }, key), Code.Unauthenticated, "token revoked");
        const u = await tok.verify({ token: unmuted }, key);
        expect(u.restrictions).toEqual([]);
        expect(u.permissions).toContain(P.PermissionCanSendMessagesInMainThread);
        // A re-issued token for the kicked member works; the timed block still lifts on time.
        const {
          tokens: [again],
        } = await tok.create({ arguments: [{ userId: "kicked", roomId, permissions: TARGET_PERMS }] }, key);
        expect((await tok.verify({ token: again! }, key)).userId).toBe("kicked");
        t += 3600 * 1000;
        expect((await tok.verify({ token: blocked }, key)).restrictions).toEqual([]);
      } finally {
        await second.close();
      }
    } finally {
      // Closes the first server if still open, drops its PostgreSQL database, removes its data dir.
      await first.close();
    }
  });
});

describe("hierarchy is judged under the write lock", () => {
  it("a promotion that commits while a mute waits for the lock wins: the mute is refused and writes nothing", async () => {
    const roomId = await insertRoom(srv);
    const target = await insertUser(srv);
    await srv.h.memberships.setRoomRole(srv.tenantId, roomId, target, "role_room_user", "test", Date.now());
    const moderator = await roomModeratorCaller(roomId);
    const before = await writes();
    // Hold the write lock with the promotion inside it; the mute starts
    // meanwhile, so whatever it reads outside the lock sees a plain member.
    let entered!: () => void;
    let release!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const held = srv.h.transact(async () => {
      await srv.h.memberships.setRoomRole(srv.tenantId, roomId, target, "role_room_moderator", "test", Date.now());
      entered();
      await new Promise<void>((r) => (release = r));
    });
    await inside;
    const muting = moderator.act({ action: Action.CHAT_MUTE, roomId, targetUserId: target, reason: "" });
    // The mute really waits on the lock (else the race is not tested): it
    // is queued behind the promotion before the promotion commits.
    await vi.waitFor(async () => expect(await srv.h.writersWaiting()).toBe(1), { timeout: 10_000, interval: 5 });
    release();
    await held;
    await expectCode(muting, Code.PermissionDenied, /higher rank/);
    // The promotion's one write: its room role, carried to memory by one effects-only event.
    expect(await writes()).toStrictEqual({ ...before, events: before.events + 1 });
  });
});
