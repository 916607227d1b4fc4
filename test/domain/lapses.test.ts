import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import type { App } from "../../src/app/create-app.js";
import { startHarnessedApp, type Harness } from "../support/harness.js";
import { loadConfig } from "../../src/config/config.js";
import type { StoredEvent } from "../../src/domain/journal.js";
import type { ModerationAction } from "../../src/domain/moderation/moderation.js";
import { generateTokenKey } from "../../src/domain/tokens/keyring.js";

// The lapse timer, driven by vitest's fake timers (Node's setTimeout and
// Date), on the real app over an in-memory SQLite store. Its store calls
// settle in microtasks, so a fired timer's work is done by the next
// macrotask (setImmediate is not faked).

const DAY = 86_400_000;
const ROOM = "room-1";

let app: App;
let h: Harness;
let tenantId: string;
let seen: StoredEvent[];

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"], now: Date.UTC(2030, 0, 1) });
  const config = loadConfig({ ROOMGATE_DB_PATH: ":memory:", ROOMGATE_API_KEY: "lapse-test-key-0123456789" });
  ({ app, h } = await startHarnessedApp(config, pino({ level: "silent" }), {
    clock: () => Date.now(),
    tokenKeys: [{ ...generateTokenKey(Date.now()), state: "active" }],
    lapseTimer: true,
  }));
  // One replica: each write catches the feed up itself. Its poll (for other
  // replicas' writes) would be a fake timer due every 50 ms of fake time.
  h.feed.stop();
  // Nor its lease renewals (a fake timer every 500 ms); a call past the
  // lease confirms the feed first, which works with the feed stopped.
  await h.lease.stop();
  tenantId = app.bootstrap.tenantId!;
  seen = [];
  h.bus.subscribe(tenantId, (e) => seen.push(e));
});
afterEach(async () => {
  await app.close();
  vi.useRealTimers();
});

/** Moves the fake clock, then lets what the fired timers started finish. */
async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await new Promise((r) => setImmediate(r));
}

/** Makes `userId` a member of ROOM (an issued token) and applies `action`. */
async function act(userId: string, action: ModerationAction, durationSeconds = 0): Promise<void> {
  await h.grants.recordGrants([
    {
      id: `g-${userId}-${Date.now()}-${seen.length}`,
      tenantId,
      userId,
      roomId: ROOM,
      permissions: [P.PermissionMessaging],
      metadata: {},
      issuedAt: Date.now(),
      expiresAt: Date.now() + DAY,
      issuedBy: "k",
    },
  ]);
  await h.moderation.act({
    tenantId,
    actor: "key:k",
    caller: "api_key",
    action,
    roomId: ROOM,
    targetUserId: userId,
    durationSeconds,
    reason: "",
  });
}

const lapses = () => seen.filter((e) => e.actor === "system");

describe("the lapse timer", () => {
  it("fires at the end, not a millisecond before, and sends one event", async () => {
    const start = Date.now();
    await act("u1", "chat_mute", 60);
    expect(h.lapses.nextWake).toBe(start + 60_000);
    await advance(59_999);
    expect(lapses()).toEqual([]);
    await advance(1);
    expect(lapses()).toMatchObject([{ type: EventType.UNMUTED, userId: "u1", reason: "lapsed", at: start + 60_000 }]);
    expect(h.lapses.nextWake).toBeUndefined();
    await advance(DAY);
    expect(lapses()).toHaveLength(1);
  });

  it("moves earlier for a sooner end, re-arms for the later one after firing", async () => {
    const start = Date.now();
    await act("late", "room_block", 3600);
    await act("soon", "chat_block", 10);
    expect(h.lapses.nextWake).toBe(start + 10_000);
    await advance(10_000);
    expect(lapses().map((e) => [e.type, e.userId])).toEqual([[EventType.CHAT_UNBLOCKED, "soon"]]);
    expect(h.lapses.nextWake).toBe(start + 3_600_000);
    await advance(3_590_000);
    expect(lapses().map((e) => [e.type, e.userId])).toEqual([
      [EventType.CHAT_UNBLOCKED, "soon"],
      [EventType.ROOM_UNBLOCKED, "late"],
    ]);
  });

  it("a lift or a longer re-set makes the timer fire early and find nothing", async () => {
    const start = Date.now();
    await act("lifted", "chat_mute", 60);
    await act("extended", "chat_mute", 60);
    await advance(10_000);
    await act("lifted", "chat_unmute");
    await act("extended", "chat_mute", 120); // now ends at start + 130 s
    await advance(50_000);
    expect(lapses()).toEqual([]);
    expect(h.lapses.nextWake).toBe(start + 130_000);
    await advance(70_000);
    expect(lapses().map((e) => e.userId)).toEqual(["extended"]);
  });

  it("a 366-day mute (beyond setTimeout's 24.8-day limit) lapses at its end, not early", async () => {
    const start = Date.now();
    await act("u1", "chat_mute", 366 * 86_400);
    const end = start + 366 * DAY;
    await advance(365 * DAY);
    expect(lapses()).toEqual([]);
    expect(h.lapses.nextWake).toBe(end);
    await advance(DAY - 1);
    expect(lapses()).toEqual([]);
    await advance(1);
    expect(lapses()).toMatchObject([{ type: EventType.UNMUTED, userId: "u1", at: end }]);
  });

  it("the shutdown signal clears the timer: nothing fires after it", async () => {
    await act("u1", "chat_mute", 60);
    expect(vi.getTimerCount()).toBe(1);
    app.shutdown.abort();
    expect(vi.getTimerCount()).toBe(0);
    expect(h.lapses.nextWake).toBeUndefined();
    await advance(DAY);
    expect(lapses()).toEqual([]);
  });
});
