import { fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { and, eq } from "drizzle-orm";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Service as Audit } from "../../gen/room/audit/private/v1/service_pb.js";
import { EventType, Service as Events, type Event } from "../../gen/room/events/private/v1/service_pb.js";
import { Action, Service as ModerationPrivate } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { serve } from "../../src/app/serve.js";
import { startHarnessedApp } from "../support/harness.js";
import { generateTokenKey, type TokenKey } from "../../src/domain/tokens/keyring.js";
import { auditLog, events, restrictions } from "../../src/store/schema.js";
import { bearer, connectTransport, grpcTransport, tokensClient } from "../support/clients.js";
import { insertRoom, memberToken } from "../support/permissions-fixtures.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { rowCount } from "../support/spaces-clients.js";
import type { LapseWorkerInput, LapseWorkerOutput } from "./lapse-worker.js";

// Issue 7, point 14: a timed mute or block that lapsed sent no event. Now it
// is recorded like the lift a moderator would make (UNMUTED, CHAT_UNBLOCKED,
// ROOM_UNBLOCKED) by actor "system" with reason "lapsed", exactly once.

const TARGET_PERMS = [P.PermissionMessaging, P.PermissionFiles];
const KINDS = [
  {
    name: "mute",
    set: Action.CHAT_MUTE,
    lift: Action.CHAT_UNMUTE,
    event: EventType.UNMUTED,
    audit: "moderation.chat_unmute",
  },
  {
    name: "chat block",
    set: Action.CHAT_BLOCK,
    lift: Action.CHAT_UNBLOCK,
    event: EventType.CHAT_UNBLOCKED,
    audit: "moderation.chat_unblock",
  },
  {
    name: "room block",
    set: Action.ROOM_BLOCK,
    lift: Action.ROOM_UNBLOCK,
    event: EventType.ROOM_UNBLOCKED,
    audit: "moderation.room_unblock",
  },
] as const;

const WATCH_TRANSPORTS: ReadonlyArray<{ name: string; make: (baseUrl: string) => Transport }> = [
  { name: "Connect", make: (baseUrl) => connectTransport(baseUrl) },
  { name: "gRPC", make: (baseUrl) => grpcTransport(baseUrl) },
];

/** Waits until `cond` holds (a watch subscribes asynchronously); fails instead of hanging. */
async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  await vi.waitFor(() => expect(cond(), what).toBe(true), { timeout: ms, interval: 2 });
}

/** One open Watch call, read event by event. */
interface Watch {
  next(ms?: number): Promise<Event>;
  close(): void;
}

const openWatches: Watch[] = [];

/** Opens Watch and waits until the server has subscribed it to the bus (open them one at a time). */
async function watch(
  s: TestServer,
  transport: Transport,
  req: { roomId?: string; afterEventId?: bigint },
): Promise<Watch> {
  const ctl = new AbortController();
  const before = s.h.bus.size;
  const it = createClient(Events, transport)
    .watch(req, { ...bearer(s.apiKey), signal: ctl.signal })
    [Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<{ event?: Event }>> | undefined = it.next();
  const w: Watch = {
    async next(ms = 5_000) {
      const p = pending ?? it.next();
      pending = undefined;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
      });
      try {
        const r = await Promise.race([p, timeout]);
        if (r.done) throw new Error("the stream ended");
        return r.value.event!;
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      ctl.abort();
      pending?.catch(() => {});
    },
  };
  openWatches.push(w);
  await waitFor(() => s.h.bus.size > before, "the watch to subscribe");
  return w;
}

afterEach(() => {
  for (const w of openWatches.splice(0)) w.close();
});

/** A fresh room with one member holding a token from the real Create RPC. */
async function scene(s: TestServer): Promise<{ roomId: string; target: string; token: string }> {
  const roomId = await insertRoom(s);
  const target = `member-${randomUUID()}`;
  return { roomId, target, token: await memberToken(s, target, roomId, TARGET_PERMS) };
}

function moderation(s: TestServer): Client<typeof ModerationPrivate> {
  return createClient(ModerationPrivate, grpcTransport(s.baseUrl));
}

async function act(
  s: TestServer,
  action: Action,
  roomId: string,
  targetUserId: string,
  durationSeconds = 0,
): Promise<void> {
  await moderation(s).act({ action, roomId, targetUserId, durationSeconds, reason: "test" }, bearer(s.apiKey));
}

async function restrictionKinds(s: TestServer, token: string): Promise<string[]> {
  return (await tokensClient(grpcTransport(s.baseUrl)).verify({ token }, bearer(s.apiKey))).restrictions.map(
    (r) => r.kind,
  );
}

async function lastEventId(s: TestServer): Promise<number> {
  return (await s.h.journal.eventsAfter(s.tenantId, undefined, 0, 1_000_000)).at(-1)?.id ?? 0;
}

/** Lapse events ("system", "lapsed") stored for a member. */
async function lapseEvents(s: TestServer, userId: string) {
  return (await s.h.journal.eventsAfter(s.tenantId, undefined, 0, 1_000_000)).filter(
    (e) => e.userId === userId && e.actor === "system",
  );
}

async function writes(s: TestServer) {
  return {
    restrictions: await rowCount(s, restrictions),
    audit: await rowCount(s, auditLog),
    events: await rowCount(s, events),
  };
}

// ---- one server with a clock the tests move (its lapses run on runDue) ----

let now = Date.now();
const clock = () => now;
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ clock });
});
afterAll(async () => {
  await srv?.close();
});

describe("a timed restriction that lapses is announced (issue 7, point 14)", () => {
  it.each(KINDS)(
    "$name for 60 s: Watch over Connect and gRPC gets the lift by system, reason lapsed, once; audit and store agree",
    async (k) => {
      const { roomId, target, token } = await scene(srv);
      const start = now;
      await act(srv, k.set, roomId, target, 60);
      const until = start + 60_000;
      // Opened one by one: each waits for its own subscription.
      const watches: Watch[] = [];
      for (const t of WATCH_TRANSPORTS) {
        watches.push(await watch(srv, t.make(srv.baseUrl), { roomId }), await watch(srv, t.make(srv.baseUrl), {}));
      }
      const before = await writes(srv);

      now = until - 1;
      expect(await srv.h.lapses.runDue()).toEqual([]);
      expect(await writes(srv)).toStrictEqual(before);

      now = until;
      const sent = await srv.h.lapses.runDue();
      expect(sent).toHaveLength(1);
      expect(await writes(srv)).toStrictEqual({
        restrictions: before.restrictions - 1,
        audit: before.audit + 1,
        events: before.events + 1,
      });
      for (const w of watches) {
        const e = await w.next();
        expect(e).toMatchObject({
          id: BigInt(sent[0]!.id),
          type: k.event,
          roomId,
          userId: target,
          actor: "system",
          reason: "lapsed",
        });
        expect(timestampMs(e.time!)).toBe(until);
        expect(e.until).toBeUndefined();
      }
      // Verify already stopped applying it at `until`; the row is gone too.
      expect(await restrictionKinds(srv, token)).toEqual([]);
      expect(
        await rowCount(srv, restrictions, and(eq(restrictions.roomId, roomId), eq(restrictions.userId, target))),
      ).toBe(0);

      const { entries } = await createClient(Audit, grpcTransport(srv.baseUrl)).list(
        { roomId, userId: target, action: k.audit },
        bearer(srv.apiKey),
      );
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ actor: "system", reason: "lapsed", targetUserId: target });
      expect(JSON.parse(entries[0]!.detailJson)).toEqual({ lapsed: true, until });

      // Run again, later: nothing more.
      now = until + 3_600_000;
      expect(await srv.h.lapses.runDue()).toEqual([]);
      expect(await lapseEvents(srv, target)).toHaveLength(1);
    },
  );

  it("a mute re-set with a longer duration does not lapse at the first end, only at the second", async () => {
    const { roomId, target, token } = await scene(srv);
    const start = now;
    await act(srv, Action.CHAT_MUTE, roomId, target, 60);
    now = start + 10_000;
    await act(srv, Action.CHAT_MUTE, roomId, target, 120);
    const w = await watch(srv, grpcTransport(srv.baseUrl), { roomId });

    now = start + 60_000;
    expect(await srv.h.lapses.runDue()).toEqual([]);
    expect(await restrictionKinds(srv, token)).toEqual(["mute"]);
    expect(await lapseEvents(srv, target)).toEqual([]);

    now = start + 130_000;
    const [lapse, ...more] = await srv.h.lapses.runDue();
    expect(more).toEqual([]);
    expect(lapse).toMatchObject({ type: EventType.UNMUTED, userId: target, at: start + 130_000 });
    expect((await w.next()).id).toBe(BigInt(lapse!.id));
    expect(await restrictionKinds(srv, token)).toEqual([]);
  });

  it("a mute lifted by a moderator before its end does not lapse", async () => {
    const { roomId, target } = await scene(srv);
    const start = now;
    await act(srv, Action.CHAT_MUTE, roomId, target, 60);
    now = start + 10_000;
    await act(srv, Action.CHAT_UNMUTE, roomId, target);
    const before = await writes(srv);
    now = start + 60_000;
    expect(await srv.h.lapses.runDue()).toEqual([]);
    expect(await writes(srv)).toStrictEqual(before);
    expect(await lapseEvents(srv, target)).toEqual([]);
  });

  it("exactly once: runDue twice, and from a second app on the same data dir", async () => {
    const { roomId, target } = await scene(srv);
    const start = now;
    await act(srv, Action.CHAT_MUTE, roomId, target, 60);
    // A second app (its own connection and index) loaded before the end.
    const { app: other, h: otherH } = await startHarnessedApp(srv.app.config, pino({ level: "silent" }), {
      clock,
      tokenKeys: [{ ...generateTokenKey(Date.now()), state: "active" }],
    });
    try {
      now = start + 60_000;
      const runs = [
        await srv.h.lapses.runDue(),
        await srv.h.lapses.runDue(),
        await otherH.lapses.runDue(),
        await otherH.lapses.runDue(),
      ];
      expect(runs.map((r) => r.length)).toEqual([1, 0, 0, 0]);
      expect(await lapseEvents(srv, target)).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it("exactly once: two processes lapse the same 200 due restrictions at the same time", async () => {
    const roomId = await insertRoom(srv);
    const start = now;
    const targets = Array.from({ length: 200 }, (_, i) => `racer-${i}-${randomUUID()}`);
    await srv.h.grants.recordGrants(
      targets.map((userId, i) => ({
        id: `${randomUUID().replaceAll("-", "")}${i}`,
        tenantId: srv.tenantId,
        userId,
        roomId,
        permissions: TARGET_PERMS,
        metadata: {},
        issuedAt: start,
        expiresAt: start + 86_400_000,
        issuedBy: "test",
      })),
    );
    for (const [i, userId] of targets.entries()) {
      await srv.h.moderation.act({
        tenantId: srv.tenantId,
        actor: "key:test",
        caller: "api_key",
        action: i % 2 === 0 ? "chat_mute" : "room_block",
        roomId,
        targetUserId: userId,
        durationSeconds: 60,
        reason: "",
      });
    }
    const due = start + 60_000;
    const lastBefore = await lastEventId(srv);

    const children = await Promise.all(
      [0, 1].map(async () => {
        const input: LapseWorkerInput = {
          dbPath: srv.app.config.dbPath,
          databaseUrl: srv.app.config.databaseUrl,
          now: due,
        };
        const child = fork(fileURLToPath(new URL("./lapse-worker.ts", import.meta.url)), [JSON.stringify(input)], {
          execArgv: ["--import", "tsx"],
        });
        const answer = new Promise<LapseWorkerOutput>((resolve, reject) => {
          child.on("message", (m) => m !== "ready" && resolve(m as LapseWorkerOutput));
          child.once("exit", (code) => reject(new Error(`lapse worker exited with ${code} before answering`)));
        });
        await new Promise<void>((resolve) => child.on("message", (m) => m === "ready" && resolve()));
        return { child, answer };
      }),
    );
    for (const c of children) c.child.send("go");
    const answers = await Promise.all(children.map((c) => c.answer));

    const written = answers.flatMap((a) => a.eventIds);
    expect(written).toHaveLength(targets.length);
    expect(new Set(written).size).toBe(targets.length);
    const stored = await srv.h.journal.eventsAfter(srv.tenantId, roomId, lastBefore, 1_000);
    expect(stored.map((e) => e.userId).sort()).toEqual([...targets].sort());
    expect(stored.every((e) => e.actor === "system" && e.reason === "lapsed")).toBe(true);
    expect(await rowCount(srv, restrictions, eq(restrictions.roomId, roomId))).toBe(0);
    // This server's own run finds nothing left.
    now = due;
    expect((await srv.h.lapses.runDue()).filter((e) => e.roomId === roomId)).toEqual([]);
  }, 60_000);
});

describe("a lapse due while the server was down is sent after start, once", () => {
  it("restart after the end: one UNMUTED on start, replayed to a resuming Watch (Connect and gRPC); another restart sends nothing", async () => {
    let t = Date.now();
    const tClock = () => t;
    const keys: TokenKey[] = [{ ...generateTokenKey(t), state: "active" }];
    const first = await startTestServer({ clock: tClock, tokenKeys: keys });
    try {
      const { roomId, target } = await scene(first);
      const blocked = `blocked-${randomUUID()}`;
      await memberToken(first, blocked, roomId, TARGET_PERMS);
      await act(first, Action.CHAT_MUTE, roomId, target, 60);
      await act(first, Action.CHAT_BLOCK, roomId, blocked, 3600);
      const lastBefore = await lastEventId(first);
      await first.server.close();

      t += 120_000;
      const restart = async () => {
        const { app, h } = await startHarnessedApp(first.app.config, pino({ level: "silent" }), {
          clock: tClock,
          tokenKeys: keys,
        });
        const server = await serve(app);
        return { app, h, server, baseUrl: `http://127.0.0.1:${server.port}` };
      };
      const second = await restart();
      try {
        const s2 = {
          ...first,
          app: second.app,
          h: second.h,
          server: second.server,
          baseUrl: second.baseUrl,
        } satisfies TestServer;
        const stored = await second.h.journal.eventsAfter(first.tenantId, undefined, lastBefore, 100);
        expect(stored).toHaveLength(1);
        expect(stored[0]).toMatchObject({
          type: EventType.UNMUTED,
          userId: target,
          roomId,
          actor: "system",
          reason: "lapsed",
          at: t - 120_000 + 60_000,
        });
        for (const tr of WATCH_TRANSPORTS) {
          const w = await watch(s2, tr.make(second.baseUrl), { afterEventId: BigInt(lastBefore) });
          expect(await w.next()).toMatchObject({
            id: BigInt(stored[0]!.id),
            type: EventType.UNMUTED,
            userId: target,
            actor: "system",
          });
        }
        // The hour-long block is still in force, and nothing else is due.
        expect(await second.h.lapses.runDue()).toEqual([]);
        expect(second.h.restrictions.active(first.tenantId, roomId, blocked, t).map((r) => r.kind)).toEqual([
          "chat_block",
        ]);
      } finally {
        await second.server.close();
      }

      const third = await restart();
      try {
        expect(await third.h.journal.eventsAfter(first.tenantId, undefined, lastBefore, 100)).toHaveLength(1);
      } finally {
        await third.server.close();
      }
    } finally {
      // Also drops its PostgreSQL database, which the restarts reused.
      await first.close();
    }
  });
});

describe("with the real clock, the timer sends the lapse by itself", () => {
  let live: TestServer;
  beforeAll(async () => {
    live = await startTestServer();
  });
  afterAll(async () => {
    await live?.close();
  });

  it("a 1 s mute: the timer is armed for its end, moves to a sooner end, and Watch (Connect and gRPC) gets UNMUTED by system", async () => {
    const { roomId, target } = await scene(live);
    const long = `long-${randomUUID()}`;
    await memberToken(live, long, roomId, TARGET_PERMS);
    await act(live, Action.CHAT_BLOCK, roomId, long, 3600);
    const blockEnd = (await live.h.journal.eventsAfter(live.tenantId, roomId, 0, 100)).find((e) => e.userId === long)!
      .until!;
    expect(live.h.lapses.nextWake).toBe(blockEnd);

    const watches: Watch[] = [];
    for (const t of WATCH_TRANSPORTS) watches.push(await watch(live, t.make(live.baseUrl), { roomId }));
    await act(live, Action.CHAT_MUTE, roomId, target, 1);
    const muted = await Promise.all(watches.map((w) => w.next()));
    const muteEnd = timestampMs(muted[0]!.until!);
    expect(live.h.lapses.nextWake).toBe(muteEnd);

    for (const w of watches) {
      expect(await w.next(15_000)).toMatchObject({
        type: EventType.UNMUTED,
        userId: target,
        actor: "system",
        reason: "lapsed",
      });
    }
    // Re-armed for the block, which stays. The timer run re-arms after the
    // lapse is announced (it asks the store for the next end first).
    await waitFor(() => live.h.lapses.nextWake !== undefined, "the timer to re-arm");
    expect(live.h.lapses.nextWake).toBe(blockEnd);
    expect(await lapseEvents(live, target)).toHaveLength(1);
    expect(await lapseEvents(live, long)).toEqual([]);
  }, 30_000);

  it("closing the server clears the timer", async () => {
    const s = await startTestServer();
    try {
      const { roomId, target } = await scene(s);
      await act(s, Action.CHAT_MUTE, roomId, target, 3600);
      expect(s.h.lapses.nextWake).toBeGreaterThan(Date.now());
    } finally {
      await s.close();
    }
    expect(s.h.lapses.nextWake).toBeUndefined();
  });
});
