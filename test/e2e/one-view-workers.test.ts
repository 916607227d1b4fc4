import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postFresh, RPC } from "../support/json-calls.js";
import { startReplicas, type ReplicaSet } from "../support/replicas.js";

/**
 * Issue 16, "one server is one view": `serve --workers N` as users run it,
 * each call on a fresh connection (the cluster hands each to any worker).
 * A removing write answered by one worker holds on the very next call,
 * whichever worker takes it: Verify and GetRoomPermissions never accept
 * what it took away. Rounds cycle through Revoke, RevokeUser, mute and
 * room block; before each action the token is accepted (so a refusal
 * afterwards is the action's doing, not a broken setup).
 */

const SEND = "PermissionCanSendMessagesInMainThread";
const KINDS = ["revoke", "revokeUser", "mute", "roomBlock"] as const;
type Kind = (typeof KINDS)[number];

interface Round {
  readonly kind: Kind;
  readonly userId: string;
  readonly roomId: string;
  readonly token: string;
}

/** Tokens for `n` rounds, each its own user and room, created in batches. */
async function rounds(port: number, key: string, n: number, tag: string): Promise<Round[]> {
  const out: Round[] = [];
  for (let from = 0; from < n; from += 500) {
    const size = Math.min(500, n - from);
    const args = Array.from({ length: size }, (_, j) => ({
      userId: `${tag}-u${from + j}`,
      roomId: `${tag}-r${from + j}`,
      permissions: [SEND],
    }));
    const r = await postFresh(port, RPC.create, key, { arguments: args });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    for (const [j, token] of (r.json.tokens as string[]).entries()) {
      out.push({ kind: KINDS[(from + j) % KINDS.length]!, userId: args[j]!.userId, roomId: args[j]!.roomId, token });
    }
  }
  return out;
}

/** The removing write of one round. */
function act(port: number, key: string, r: Round, tokenId: string) {
  switch (r.kind) {
    case "revoke":
      return postFresh(port, RPC.revoke, key, { tokenId });
    case "revokeUser":
      return postFresh(port, RPC.revokeUser, key, { userId: r.userId });
    case "mute":
      return postFresh(port, RPC.act, key, { action: "ACTION_CHAT_MUTE", roomId: r.roomId, targetUserId: r.userId });
    case "roomBlock":
      return postFresh(port, RPC.act, key, { action: "ACTION_ROOM_BLOCK", roomId: r.roomId, targetUserId: r.userId });
  }
}

/** What Verify and GetRoomPermissions must answer after the round's action; a description of the breach otherwise. */
function breach(
  r: Round,
  verify: { status: number; json: any },
  perms: { status: number; json: any },
): string | undefined {
  const refusal = r.kind === "roomBlock" ? 403 : 401;
  if (r.kind === "mute") {
    if (verify.status !== 200 || (verify.json.permissions ?? []).includes(SEND))
      return `Verify after mute: ${verify.status} ${JSON.stringify(verify.json)}`;
    if (perms.status !== 200 || perms.json.roomPermissions.permissions.canSendMessagesInMainThread !== false) {
      return `GetRoomPermissions after mute: ${perms.status} ${JSON.stringify(perms.json)}`;
    }
    return undefined;
  }
  if (verify.status !== refusal) return `Verify after ${r.kind}: ${verify.status} ${JSON.stringify(verify.json)}`;
  if (perms.status !== refusal)
    return `GetRoomPermissions after ${r.kind}: ${perms.status} ${JSON.stringify(perms.json)}`;
  return undefined;
}

/** Independent rounds (each its own user and room) in this many lanes; within a lane, one call after another. */
const LANES = 4;

async function playRounds(set: ReplicaSet, n: number, tag: string): Promise<string[]> {
  const port = set.replicas[0]!.port;
  const all = await rounds(port, set.apiKey, n, tag);
  const lanes = Array.from({ length: LANES }, (_, lane) => all.filter((_r, i) => i % LANES === lane));
  return (await Promise.all(lanes.map((lane) => playLane(set, lane)))).flat();
}

async function playLane(set: ReplicaSet, lane: readonly Round[]): Promise<string[]> {
  const port = set.replicas[0]!.port;
  const key = set.apiKey;
  const breaches: string[] = [];
  for (const r of lane) {
    const before = await postFresh(port, RPC.verify, key, { token: r.token });
    expect(before.status, JSON.stringify(before.json)).toBe(200);
    expect(before.json.permissions).toContain(SEND);
    const done = await act(port, key, r, before.json.tokenId);
    expect(done.status, JSON.stringify(done.json)).toBe(200);
    const verify = await postFresh(port, RPC.verify, key, { token: r.token });
    const perms = await postFresh(port, RPC.permissions, r.token, { roomId: r.roomId });
    const b = breach(r, verify, perms);
    if (b !== undefined) breaches.push(b);
  }
  return breaches;
}

/** Workers answering: which pids logged a call (LOG_LEVEL=debug logs each call with its worker's pid). */
function answeringPids(output: string): Set<number> {
  const pids = new Set<number>();
  for (const line of output.split("\n")) {
    if (!line.includes('"msg":"call"')) continue;
    const m = /"pid":(\d+)/.exec(line);
    if (m) pids.add(Number(m[1]));
  }
  return pids;
}

const ROUNDS = Number(process.env["ROOMGATE_TEST_ONE_VIEW_ROUNDS"] ?? 1000);
/** Sessions per worker count: each costs two password hashes (CreateUser, Login). */
const SESSION_ROUNDS = 60;

describe.each([2, 4])("serve --workers %i: a removing write holds on the very next call, on any worker", (workers) => {
  let set: ReplicaSet;
  beforeAll(async () => {
    set = await startReplicas(1, { LOG_LEVEL: "debug" }, { workers });
  }, 120_000);
  afterAll(async () => {
    await set?.close();
  });

  const count = workers === 2 ? ROUNDS : Math.ceil(ROUNDS / 2);
  it(`${count} rounds of Revoke, RevokeUser, mute and room block, then Verify and GetRoomPermissions on fresh connections: 0 accepted`, async () => {
    const breaches = await playRounds(set, count, `w${workers}`);
    expect(breaches).toEqual([]);
    // The rounds really went through several workers.
    expect(answeringPids(set.replicas[0]!.output()).size).toBe(workers);
  }, 300_000);

  it(`${SESSION_ROUNDS} Logouts, then VerifyAccessToken and Refresh on fresh connections: 0 accepted`, async () => {
    const port = set.replicas[0]!.port;
    const tenantId = /"tenantId":"([^"]+)"[^\n]*bootstrap tenant/.exec(set.replicas[0]!.output())![1]!;
    const lanes = Array.from({ length: LANES }, (_, lane) =>
      Array.from({ length: Math.ceil(SESSION_ROUNDS / LANES) }, (_r, i) => `w${workers}-s${lane}-${i}`),
    );
    const breaches = await Promise.all(lanes.map((names) => sessionLane(port, set.apiKey, tenantId, names)));
    expect(breaches.flat()).toEqual([]);
  }, 300_000);
});

/** Sessions ended by Logout, one after another: the ended session is refused on the very next call, on any worker. */
async function sessionLane(port: number, key: string, tenantId: string, names: readonly string[]): Promise<string[]> {
  const breaches: string[] = [];
  for (const username of names) {
    const password = "correct-horse";
    const made = await postFresh(port, RPC.createUser, key, { username, email: `${username}@example.test`, password });
    expect(made.status, JSON.stringify(made.json)).toBe(200);
    const login = await postFresh(port, RPC.login, "", { tenantId, username, password });
    expect(login.status, JSON.stringify(login.json)).toBe(200);
    const { accessToken, refreshToken } = login.json;
    expect((await postFresh(port, RPC.verifyAccessToken, key, { token: accessToken })).status).toBe(200);
    const out = await postFresh(port, RPC.logout, accessToken, {});
    expect(out.status, JSON.stringify(out.json)).toBe(200);
    const verify = await postFresh(port, RPC.verifyAccessToken, key, { token: accessToken });
    if (verify.status !== 401) breaches.push(`VerifyAccessToken after Logout: ${verify.status}`);
    const refresh = await postFresh(port, RPC.refresh, "", { refreshToken });
    if (refresh.status !== 401) breaches.push(`Refresh after Logout: ${refresh.status}`);
  }
  return breaches;
}
