import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EventType, Service as Events, type Event } from "../../gen/room/events/private/v1/service_pb.js";
import { Action, Service as ModerationPrivate } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as Spaces } from "../../gen/room/spaces/v1/service_pb.js";
import { Service as TokensPrivate } from "../../gen/room/tokens/private/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { ROOMGATE_CLI } from "../support/cli.js";
import { bearer, connectTransport, expectCode, grpcTransport } from "../support/clients.js";
import { openWatchers } from "../support/probes.js";
import { startReplicas, type Replica, type ReplicaSet } from "../support/replicas.js";
import { testStore } from "../support/server.js";

// Issue 8: replicas over one store. Real `roomgate serve` processes — three
// on PostgreSQL, two on one SQLite file — and real clients. What one replica
// acknowledges, every other one honours: at once for reads that carry the
// write's event id (the consistency token), and within the feed's delay
// for reads that do not.

const N = testStore() === "postgres" ? 3 : 2;
let set: ReplicaSet;
beforeAll(async () => {
  set = await startReplicas(N);
}, 120_000);
afterAll(async () => {
  await set?.close();
});

const key = () => bearer(set.apiKey);
const json = (r: Replica) => connectTransport(r.baseUrl);
const grpc = (r: Replica) => grpcTransport(r.baseUrl);
const tokens = (r: Replica) => createClient(TokensPrivate, grpc(r));
const moderation = (r: Replica) => createClient(ModerationPrivate, json(r));

/** Retries `probe` until it holds; the feed's polling delay bounds it (generously here). */
async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  await vi.waitFor(async () => expect(await probe(), `until ${what}`).toBe(true), { timeout: 20_000, interval: 25 });
}

async function issue(r: Replica, userId: string, roomId: string): Promise<string> {
  const {
    tokens: [t],
  } = await tokens(r).create({ arguments: [{ userId, roomId, permissions: [P.PermissionMessaging] }] }, key());
  return t!;
}

describe(`${N} replicas on ${testStore()}`, () => {
  it("a revocation on one is refused by all: at once with the consistency token, and soon without it", async () => {
    const [a, ...others] = set.replicas;
    const user = `u-${Date.now()}`;
    const t = await issue(a!, user, "room-revoke");
    for (const r of others) expect((await tokens(r).verify({ token: t }, key())).userId).toBe(user);
    const { eventId } = await tokens(a!).revokeUser({ userId: user }, key());
    for (const r of others) {
      await expectCode(
        tokens(r).verify({ token: t, minEventId: eventId }, key()),
        Code.Unauthenticated,
        "token revoked",
      );
    }
    // Without the token: within the feed's delay.
    const fresh = await issue(others[0]!, `${user}-2`, "room-revoke");
    const { eventId: e2 } = await tokens(others[0]!).revokeUser({ userId: `${user}-2` }, key());
    expect(e2).toBeGreaterThan(eventId);
    await eventually("every replica refuses the second token", async () => {
      for (const r of set.replicas) {
        try {
          await tokens(r).verify({ token: fresh }, key());
          return false;
        } catch (err) {
          if (!(err instanceof ConnectError) || err.code !== Code.Unauthenticated) throw err;
        }
      }
      return true;
    });
  });

  it("a room block on one stops Create on all; unblock on another lets it through again", async () => {
    const [a, b] = set.replicas;
    const user = `blocked-${Date.now()}`;
    await issue(b!, user, "room-block");
    await moderation(a!).act({ action: Action.ROOM_BLOCK, roomId: "room-block", targetUserId: user }, key());
    for (const r of set.replicas) {
      await expectCode(
        tokens(r).create(
          { arguments: [{ userId: user, roomId: "room-block", permissions: [P.PermissionMessaging] }] },
          key(),
        ),
        Code.FailedPrecondition,
      );
    }
    await moderation(b!).act({ action: Action.ROOM_UNBLOCK, roomId: "room-block", targetUserId: user }, key());
    for (const r of set.replicas) await issue(r, user, "room-block");
  });

  it("a Watch on one receives every replica's events, in order, once", async () => {
    const watcher = set.replicas[set.replicas.length - 1]!;
    const room = `room-watch-${Date.now()}`;
    const members = Array.from({ length: 12 }, (_, i) => `m${i}`);
    for (const m of members) await issue(set.replicas[0]!, m, room);
    const stop = new AbortController();
    const received: Event[] = [];
    const watching = await openWatchers(watcher.baseUrl);
    const stream = createClient(Events, grpc(watcher)).watch({ roomId: room }, { ...key(), signal: stop.signal });
    const reading = (async () => {
      try {
        for await (const res of stream) {
          received.push(res.event!);
          if (received.length === members.length) stop.abort();
        }
      } catch (err) {
        if (!stop.signal.aborted) throw err;
      }
    })();
    // Once the stream is subscribed (the replica's open-watchers gauge), write from every replica at once.
    await vi.waitFor(async () => expect(await openWatchers(watcher.baseUrl)).toBe(watching + 1), {
      timeout: 10_000,
      interval: 10,
    });
    const acked = await Promise.all(
      members.map((m, i) =>
        moderation(set.replicas[i % N]!).act({ action: Action.CHAT_MUTE, roomId: room, targetUserId: m }, key()),
      ),
    );
    await reading;
    const ids = received.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((x, y) => (x < y ? -1 : 1)));
    expect(new Set(ids).size).toBe(members.length);
    expect([...ids].sort()).toEqual(acked.map((r) => r.eventId).sort());
    expect(received.every((e) => e.type === EventType.MUTED)).toBe(true);
  });

  it("an invite raced across replicas has exactly one winner", async () => {
    const users = createClient(UsersPrivate, json(set.replicas[0]!));
    const stamp = Date.now();
    const login = async (r: Replica, username: string) =>
      (await createClient(Users, json(r)).login({ tenantId: tenantIdOf(), username, password: "correct-horse" }))
        .accessToken;
    const names = Array.from({ length: 8 }, (_, i) => `racer-${stamp}-${i}`);
    for (const name of names)
      await users.createUser({ email: `${name}@example.test`, username: name, password: "correct-horse" }, key());
    const ownerName = `owner-${stamp}`;
    await users.createUser(
      { email: `${ownerName}@example.test`, username: ownerName, password: "correct-horse" },
      key(),
    );
    const owner = await login(set.replicas[0]!, ownerName);
    const spaces = (r: Replica) => createClient(Spaces, json(r));
    const { id: spaceId } = await spaces(set.replicas[0]!).createSpace(
      { name: "Race", isPublic: false },
      bearer(owner),
    );
    const { id: inviteId } = await spaces(set.replicas[0]!).createInvite(
      { spaceId, role: "role_space_user" },
      bearer(owner),
    );
    const racers = await Promise.all(names.map((n, i) => login(set.replicas[i % N]!, n)));
    const results = await Promise.allSettled(
      racers.map((t, i) => spaces(set.replicas[i % N]!).activateInvite({ spaceId, inviteId }, bearer(t))),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") expect(ConnectError.from(r.reason).code).toBe(Code.FailedPrecondition);
    }
  });

  it("concurrent writes across replicas never answer internal", async () => {
    const stamp = Date.now();
    const calls = Array.from({ length: 60 }, (_, i) => {
      const r = set.replicas[i % N]!;
      const name = `w-${stamp}-${i}`;
      return i % 2 === 0
        ? createClient(UsersPrivate, json(r)).createUser(
            { email: `${name}@example.test`, username: name, password: "correct-horse" },
            key(),
          )
        : moderation(r)
            .act({ action: Action.CHAT_MUTE, roomId: "room-busy", targetUserId: name }, key())
            .catch((err: unknown) => {
              // The target is no member of the room: not_found is the right answer, internal never is.
              if (ConnectError.from(err).code === Code.NotFound) return undefined;
              throw err;
            });
    });
    const settled = await Promise.allSettled(calls);
    const failures = settled
      .filter((s) => s.status === "rejected")
      .map((s) => String((s as PromiseRejectedResult).reason));
    expect(failures).toEqual([]);
  });

  it("a replica killed with SIGKILL loses nothing it acknowledged", async () => {
    const victim = set.replicas[0]!;
    const room = `room-kill-${Date.now()}`;
    const members = Array.from({ length: 40 }, (_, i) => `k${i}`);
    for (const m of members) await issue(set.replicas[1]!, m, room);
    const acked: bigint[] = [];
    let killed = false;
    // The writes are spread over time and the kill lands among them: the
    // delays shape the load under test (some acknowledged before the kill,
    // some cut off by it), they synchronise nothing — the assertions read
    // only what was acknowledged and what the survivor serves.
    const writes = members.map(async (m, i) => {
      await new Promise((r) => setTimeout(r, i * 3));
      try {
        const res = await moderation(victim).act({ action: Action.CHAT_MUTE, roomId: room, targetUserId: m }, key());
        acked.push(res.eventId);
      } catch {
        // Refused or cut off by the kill: not acknowledged, so not promised.
      }
    });
    setTimeout(() => {
      killed = true;
      victim.proc.kill("SIGKILL");
    }, 40);
    await Promise.all(writes);
    expect(killed).toBe(true);
    // Every acknowledged event is in the log another replica serves.
    const survivor = set.replicas[1]!;
    const seen = new Set<bigint>();
    const stop = new AbortController();
    const stream = createClient(Events, grpc(survivor)).watch(
      { roomId: room, afterEventId: 1n },
      { ...key(), signal: stop.signal },
    );
    const timer = setTimeout(() => stop.abort(), 3_000);
    try {
      for await (const res of stream) {
        seen.add(res.event!.id);
        if (acked.every((id) => seen.has(id))) break;
      }
    } catch (err) {
      if (!stop.signal.aborted) throw err;
    } finally {
      clearTimeout(timer);
    }
    expect(acked.filter((id) => !seen.has(id))).toEqual([]);
    // And a new replica takes its place.
    const again = await set.add();
    await issue(again, "after-kill", room);
  });
});

/** The bootstrap tenant's id, read from the first replica's start-up log. */
function tenantIdOf(): string {
  const m = /"tenantId":"([^"]+)"[^\n]*bootstrap tenant/.exec(set.replicas[0]!.output());
  if (!m) throw new Error(`no bootstrap tenant in the log: ${set.replicas[0]!.output()}`);
  return m[1]!;
}

describe(`failed logins per account hold across ${N} replicas together`, () => {
  let limited: ReplicaSet;
  beforeAll(async () => {
    limited = await startReplicas(N, {
      ROOMGATE_LOGIN_FAILURES_PER_MINUTE: "10",
      ROOMGATE_LOGIN_ACCOUNT_FAILURES_PER_MINUTE: "10",
      ROOMGATE_LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS: "100000",
      ROOMGATE_LOGIN_ATTEMPTS_PER_SECOND_PER_TENANT: "10000",
    });
  }, 120_000);
  afterAll(async () => {
    await limited?.close();
  });

  it("10 per account in all: 30 concurrent wrong passwords spread over the replicas get 10 unauthenticated, 20 resource_exhausted", async () => {
    const first = limited.replicas[0]!;
    await createClient(UsersPrivate, json(first)).createUser(
      { email: "target@example.test", username: "target", password: "correct-horse" },
      bearer(limited.apiKey),
    );
    const m = /"tenantId":"([^"]+)"[^\n]*bootstrap tenant/.exec(first.output());
    const tenantId = m![1]!;
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        createClient(Users, json(limited.replicas[i % N]!)).login({
          tenantId,
          username: "target",
          password: `wrong-${i}`,
        }),
      ),
    );
    const codes = results.map((r) => (r.status === "fulfilled" ? "ok" : Code[ConnectError.from(r.reason).code]));
    const count = (c: string) => codes.filter((x) => x === c).length;
    expect({
      unauthenticated: count("Unauthenticated"),
      exhausted: count("ResourceExhausted"),
      other: 30 - count("Unauthenticated") - count("ResourceExhausted"),
    }).toEqual({
      unauthenticated: 10,
      exhausted: 20,
      other: 0,
    });
  });
});

describe(`an API key revoked with the CLI stops on all ${N} replicas`, () => {
  it("its calls are refused everywhere and a Watch opened with it on another replica ends with unauthenticated", async () => {
    const cli = async (...args: string[]) =>
      (await promisify(execFile)(process.execPath, [...ROOMGATE_CLI, ...args], { env: set.env })).stdout;
    const m = /"tenantId":"([^"]+)"[^\n]*bootstrap tenant/.exec(set.replicas[0]!.output());
    const created = await cli("api-keys", "create", "--tenant", m![1]!);
    const secret = /\n\s+(rgk_\S+)\n/.exec(created)![1]!;
    const keyId = /key id (\S+)/.exec(created)![1]!;
    const k2 = bearer(secret);
    // Replicas still running (an earlier test killed one with SIGKILL).
    const live = set.replicas.filter((r) => r.proc.exitCode === null && r.proc.signalCode === null);
    expect(live.length).toBeGreaterThanOrEqual(N);
    for (const r of live) await tokens(r).create({ arguments: [{ userId: "k2", roomId: "k2-room" }] }, k2);
    const watcher = live[live.length - 1]!;
    const watching = await openWatchers(watcher.baseUrl);
    const stream = createClient(Events, grpc(watcher)).watch({}, k2);
    const ended = (async () => {
      try {
        for await (const _ of stream) {
          // events of the tenant: keep reading until the stream ends
        }
        return "ended without an error";
      } catch (err) {
        return Code[ConnectError.from(err).code];
      }
    })();
    // The watch is subscribed before the key is revoked.
    await vi.waitFor(async () => expect(await openWatchers(watcher.baseUrl)).toBe(watching + 1), {
      timeout: 10_000,
      interval: 10,
    });
    await cli("api-keys", "revoke", keyId);
    expect(await ended).toBe("Unauthenticated");
    await eventually("every replica refuses the revoked key", async () => {
      for (const r of live) {
        try {
          await tokens(r).create({ arguments: [{ userId: "k2", roomId: "k2-room" }] }, k2);
          return false;
        } catch (err) {
          if (ConnectError.from(err).code !== Code.Unauthenticated) throw err;
        }
      }
      return true;
    });
  });
});
