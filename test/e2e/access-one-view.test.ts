import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type JsonAnswer, postFresh, RPC } from "../support/json-calls.js";
import { startReplicas, type ReplicaSet } from "../support/replicas.js";

/**
 * Check as users run it: `serve --workers 2` (one server, one view) and two
 * replicas over one store ("taking access away is global when
 * acknowledged"). Every call is a fresh connection, so a cluster hands each
 * to any worker. Each round gives a way in, sees Check allow it on the
 * other process (replicas: with the write's consistency token; workers:
 * without, one server is one view), takes it away on the first process —
 * Revoke, RevokeUser, kick, mute, room block, RevokeRole, DeleteUser — and
 * asks Check on the next fresh connection of the other: never allowed.
 */

const SEND = "PermissionCanSendMessagesInMainThread";
const KINDS = ["revoke", "revokeUser", "kick", "mute", "roomBlock", "revokeRole", "deleteUser"] as const;
type Kind = (typeof KINDS)[number];
const REASON: Record<Kind, string> = {
  revoke: "removed",
  revokeUser: "removed",
  kick: "removed",
  mute: "mute",
  roomBlock: "room_blocked",
  revokeRole: "no_way_in",
  deleteUser: "no_way_in",
};

const ROUNDS = Number(process.env["ROOMGATE_TEST_ACCESS_ROUNDS"] ?? 70);

interface Way {
  readonly userId: string;
  readonly roomId: string;
  /** The write's consistency token. */
  readonly minEventId: string;
  readonly tokenId?: string;
}

/** The way in of one round: a token (Create) or a room role (seed 003 CreateUser with chatRoom). */
async function giveWay(port: number, key: string, kind: Kind, tag: string): Promise<Way> {
  const roomId = `${tag}-room`;
  if (kind === "revokeRole" || kind === "deleteUser") {
    const made = await postFresh(port, RPC.consumerCreateUser, key, {
      chatRoom: roomId,
      externalUserId: tag,
      username: tag,
    });
    expect(made.status, JSON.stringify(made.json)).toBe(200);
    return { userId: made.json.userId, roomId, minEventId: "0" };
  }
  const userId = `${tag}-user`;
  const made = await postFresh(port, RPC.create, key, { arguments: [{ userId, roomId, permissions: [SEND] }] });
  expect(made.status, JSON.stringify(made.json)).toBe(200);
  const verified = await postFresh(port, RPC.verify, key, { token: made.json.tokens[0] });
  const minEventId = String(made.headers?.["roomgate-event-id"]);
  expect(minEventId).toMatch(/^\d+$/);
  return { userId, roomId, minEventId, tokenId: verified.json.tokenId };
}

/** The removing write of one round. */
function takeAway(port: number, key: string, kind: Kind, w: Way): Promise<JsonAnswer> {
  const member = { roomId: w.roomId, targetUserId: w.userId };
  switch (kind) {
    case "revoke":
      return postFresh(port, RPC.revoke, key, { tokenId: w.tokenId });
    case "revokeUser":
      return postFresh(port, RPC.revokeUser, key, { userId: w.userId });
    case "kick":
      return postFresh(port, RPC.act, key, { action: "ACTION_ROOM_KICK", ...member });
    case "mute":
      return postFresh(port, RPC.act, key, { action: "ACTION_CHAT_MUTE", ...member });
    case "roomBlock":
      return postFresh(port, RPC.act, key, { action: "ACTION_ROOM_BLOCK", ...member });
    case "revokeRole":
      return postFresh(port, RPC.revokeRole, key, member);
    case "deleteUser":
      return postFresh(port, RPC.deleteUser, key, { userId: w.userId });
  }
}

const check = (port: number, key: string, w: Way, minEventId = "0") =>
  postFresh(port, RPC.check, key, { userId: w.userId, roomId: w.roomId, permissions: [SEND], minEventId });

async function lane(set: ReplicaSet, tags: readonly string[]): Promise<string[]> {
  const writer = set.replicas[0]!.port;
  const reader = set.replicas.at(-1)!.port;
  const key = set.apiKey;
  const breaches: string[] = [];
  for (const [i, tag] of tags.entries()) {
    const kind = KINDS[i % KINDS.length]!;
    const way = await giveWay(writer, key, kind, tag);
    // Granting reaches another replica within the feed delay, at once with
    // the write's consistency token (seed 003's answer carries none: wait for it).
    await vi.waitFor(async () => {
      const before = await check(reader, key, way, way.minEventId);
      expect(before.status, JSON.stringify(before.json)).toBe(200);
      expect(before.json.answers[0], `${kind}: ${JSON.stringify(before.json)}`).toMatchObject({ allowed: true });
    });
    const done = await takeAway(writer, key, kind, way);
    expect(done.status, JSON.stringify(done.json)).toBe(200);
    const after = await check(reader, key, way);
    const answer = after.json?.answers?.[0];
    if (after.status !== 200 || answer?.allowed === true || answer?.deniedReason !== REASON[kind]) {
      breaches.push(`Check after ${kind}: ${after.status} ${JSON.stringify(after.json)}`);
    }
  }
  return breaches;
}

const LANES = 4;

async function play(set: ReplicaSet, tag: string): Promise<string[]> {
  const tags = Array.from({ length: ROUNDS }, (_, i) => `${tag}-${i}`);
  const lanes = Array.from({ length: LANES }, (_, l) => tags.filter((_t, i) => i % LANES === l));
  return (await Promise.all(lanes.map((l) => lane(set, l)))).flat();
}

describe.each([
  { name: "serve --workers 2", replicas: 1, workers: 2 },
  { name: "two replicas over one store", replicas: 2, workers: 1 },
])("$name: Check never allows what a removing write took away", ({ replicas, workers }) => {
  let set: ReplicaSet;
  beforeAll(async () => {
    set = await startReplicas(replicas, {}, { workers });
  }, 120_000);
  afterAll(() => set?.close());

  it(`${ROUNDS} rounds of ${KINDS.join(", ")}: 0 allowed after`, async () => {
    expect(await play(set, `r${replicas}w${workers}`)).toEqual([]);
  }, 300_000);
});
