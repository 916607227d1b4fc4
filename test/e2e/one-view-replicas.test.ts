import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as Permissions } from "../../gen/room/permissions/v1/service_pb.js";
import { getFresh, postFresh, RPC, type JsonAnswer } from "../support/json-calls.js";
import { startReplicas, type Replica, type ReplicaSet } from "../support/replicas.js";
import { connectTransport } from "../support/clients.js";

/**
 * Issue 16 across replicas: every read that takes a consistency token
 * honours it for everything it reads, the credential included — resolved
 * after the wait, never before. Replica B polls its feed once a minute, so
 * without the wait it would serve what it loaded. Each read of B answers
 * the state after the write whose event id it carries, or `unavailable`;
 * never older state.
 */

const SEND = "PermissionCanSendMessagesInMainThread";
const VERIFY_ACCESS_TOKEN = "/room.users.private.v1.Service/VerifyAccessToken";

/** The member's state after a write: what every read must show. */
type State = "open" | "muted" | "blocked" | "revoked";

interface Member {
  readonly userId: string;
  readonly roomId: string;
  /** A room member token for the room. */
  readonly roomToken: string;
  /** A user access token (Login). */
  readonly accessToken: string;
}

async function ok(p: Promise<JsonAnswer>): Promise<any> {
  const r = await p;
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json;
}

/** A user with a room role, signed in, and a room member token for that room; all written on `a`. */
async function member(a: Replica, key: string, tenantId: string, tag: string): Promise<Member> {
  const password = "pw-one-view-secret-1";
  const username = `viewer-${READS.findIndex((r) => r.what === tag)}`;
  const { id: userId } = await ok(
    postFresh(a.port, "/room.users.private.v1.Service/CreateUser", key, {
      email: `${username}@example.test`,
      username,
      password,
    }),
  );
  const spaces = "/room.spaces.private.v1.Service";
  const { id: spaceId } = await ok(postFresh(a.port, `${spaces}/CreateSpace`, key, { name: "s", isPublic: false }));
  const { id: roomId } = await ok(
    postFresh(a.port, `${spaces}/CreateRoom`, key, { spaceId, name: "r", isPublic: false }),
  );
  await ok(
    postFresh(a.port, `${spaces}/GrantRole`, key, { spaceId, roomId, targetUserId: userId, role: "role_room_user" }),
  );
  const login = await ok(postFresh(a.port, "/room.users.v1.Service/Login", "", { tenantId, username, password }));
  const created = await ok(
    postFresh(a.port, RPC.create, key, { arguments: [{ userId, roomId, permissions: [SEND] }] }),
  );
  return { userId, roomId, roomToken: created.tokens[0], accessToken: login.accessToken };
}

/** One read of `b` with a consistency token: its answer, and whether the member may send per that answer. */
interface Read {
  readonly what: string;
  /** Only judged in these states (a user access token is not about one room). */
  readonly states?: readonly State[];
  call(b: Replica, key: string, m: Member, minEventId: string): Promise<JsonAnswer>;
  canSend(json: any): boolean;
}

const flags = (json: any) => json.roomPermissions.permissions.canSendMessagesInMainThread as boolean;
const grp =
  (bearer: (m: Member) => string, headers: (m: Member) => Record<string, string> = () => ({})) =>
  (b: Replica, _key: string, m: Member, minEventId: string) =>
    postFresh(b.port, RPC.permissions, bearer(m), { roomId: m.roomId, minEventId }, headers(m));

/** Every read that takes a consistency token, for every credential kind. */
const READS: readonly Read[] = [
  {
    what: "Verify",
    call: (b, key, m, minEventId) => postFresh(b.port, RPC.verify, key, { token: m.roomToken, minEventId }),
    canSend: (j) => j.permissions.includes(SEND),
  },
  { what: "GetRoomPermissions (room member token)", call: grp((m) => m.roomToken), canSend: flags },
  { what: "GetRoomPermissions (user access token)", call: grp((m) => m.accessToken), canSend: flags },
  {
    what: "GetRoomPermissions (session cookie)",
    call: grp(
      () => "",
      (m) => ({ cookie: `roomgate_session=${m.accessToken}` }),
    ),
    canSend: flags,
  },
  {
    what: "GET room-permissions (header, user access token)",
    call: (b, _key, m, minEventId) =>
      getFresh(b.port, `/api/v1/room-permissions/${m.roomId}`, {
        authorization: `Bearer ${m.accessToken}`,
        "roomgate-min-event-id": minEventId,
      }),
    canSend: flags,
  },
  {
    what: "GET room-permissions (query, session cookie)",
    call: (b, _key, m, minEventId) =>
      getFresh(b.port, `/api/v1/room-permissions/${m.roomId}?minEventId=${minEventId}`, {
        cookie: `roomgate_session=${m.accessToken}`,
      }),
    canSend: flags,
  },
  {
    what: "GET room-permissions (header, room member token)",
    call: (b, _key, m, minEventId) =>
      getFresh(b.port, `/api/v1/room-permissions/${m.roomId}`, {
        authorization: `Bearer ${m.roomToken}`,
        "roomgate-min-event-id": minEventId,
      }),
    canSend: flags,
  },
  {
    what: "Watch (user access token, its first answer)",
    call: (b, _key, m, minEventId) => firstWatchAnswer(b, m, BigInt(minEventId)),
    canSend: flags,
  },
  {
    what: "VerifyAccessToken",
    states: ["open", "revoked"],
    call: (b, key, m, minEventId) => postFresh(b.port, VERIFY_ACCESS_TOKEN, key, { token: m.accessToken, minEventId }),
    canSend: () => true,
  },
];

const CODE_STATUS: Partial<Record<Code, number>> = {
  [Code.Unauthenticated]: 401,
  [Code.PermissionDenied]: 403,
  [Code.Unavailable]: 503,
};

/** A permission Watch on `b` with the consistency token: its first answer (as a 200), or how it ended (as the status of its code). */
async function firstWatchAnswer(b: Replica, m: Member, minEventId: bigint): Promise<JsonAnswer> {
  const client = createClient(Permissions, connectTransport(b.baseUrl));
  const ctl = new AbortController();
  try {
    for await (const answer of client.watch(
      { roomId: m.roomId, minEventId },
      { headers: { authorization: `Bearer ${m.accessToken}` }, signal: ctl.signal },
    )) {
      return { status: 200, json: { roomPermissions: { permissions: answer.roomPermissions?.permissions } } };
    }
    return { status: 500, json: { message: "the stream ended without an answer" } };
  } catch (err) {
    const e = ConnectError.from(err);
    return { status: CODE_STATUS[e.code] ?? 500, json: { code: Code[e.code], message: e.rawMessage } };
  } finally {
    ctl.abort();
  }
}

/** A breach of `read`'s answer against `state`, or undefined; `unavailable` (not fresh enough yet) is never one. */
function judge(read: Read, r: JsonAnswer, minEventId: string, state: State): string | undefined {
  if (r.status === 503) return undefined;
  const expected = state === "revoked" ? 401 : state === "blocked" ? 403 : 200;
  const shown = `${read.what} after event ${minEventId} (${state}): ${r.status} ${JSON.stringify(r.json)}`;
  if (r.status !== expected) return shown;
  if (expected === 200 && read.canSend(r.json) !== (state === "open")) return shown;
  return undefined;
}

/** The bootstrap tenant's id, from the first replica's start-up log. */
function tenantIdOf(set: ReplicaSet): string {
  const m = /"tenantId":"([^"]+)"[^\n]*bootstrap tenant/.exec(set.replicas[0]!.output());
  if (!m) throw new Error(`no bootstrap tenant in the log: ${set.replicas[0]!.output()}`);
  return m[1]!;
}

describe("a replica whose feed polls once a minute: reads with min_event_id are fresh or unavailable, never stale", () => {
  let set: ReplicaSet;
  beforeAll(async () => {
    set = await startReplicas(1);
    // Its lease is short, so removing writes on A (which wait for it) stay quick: it confirms every 100 ms, never in between.
    await set.add({ ROOMGATE_FEED_POLL_MS: "60000", ROOMGATE_REPLICA_LEASE_MS: "400" });
  }, 120_000);
  afterAll(async () => {
    await set?.close();
  });

  it.each(READS.map((r) => [r.what, r] as const))(
    "%s on B right after each of mute, unmute, room block, unblock, RevokeUser on A",
    async (_what, read) => {
      const [a, b] = set.replicas as [Replica, Replica];
      const key = set.apiKey;
      const m = await member(a, key, tenantIdOf(set), read.what);
      const act = (action: string) =>
        ok(postFresh(a.port, RPC.act, key, { action, roomId: m.roomId, targetUserId: m.userId }));
      const steps: [() => Promise<any>, State][] = [
        [() => act("ACTION_CHAT_MUTE"), "muted"],
        [() => act("ACTION_CHAT_UNMUTE"), "open"],
        [() => act("ACTION_ROOM_BLOCK"), "blocked"],
        [() => act("ACTION_ROOM_UNBLOCK"), "open"],
        [() => ok(postFresh(a.port, RPC.revokeUser, key, { userId: m.userId })), "revoked"],
      ];
      const breaches: string[] = [];
      let answered = 0;
      for (const [write, state] of steps) {
        const { eventId } = await write();
        expect(BigInt(eventId)).toBeGreaterThan(0n);
        if (read.states && !read.states.includes(state)) continue;
        const r = await read.call(b, key, m, eventId);
        if (r.status !== 503) answered++;
        const breach = judge(read, r, eventId, state);
        if (breach !== undefined) breaches.push(breach);
      }
      expect(breaches).toEqual([]);
      // Waiting, not refusing, is the rule while B can catch up.
      expect(answered).toBeGreaterThan(0);
    },
  );
});
