import { sql } from "drizzle-orm";
import { droppingEffects } from "../support/effects.js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { createTenantWithKey } from "../../src/domain/auth/tenants.js";
import { RoomgateError, TokenRejectedError } from "../../src/domain/errors.js";
import { EventBus } from "../../src/domain/events/event-bus.js";
import type { StoredEvent } from "../../src/domain/journal.js";
import { RestrictionIndex } from "../../src/domain/moderation/restrictions.js";
import { StreamLimits } from "../../src/domain/stream-limits.js";
import { mayAffect } from "../../src/domain/permission-watch/relevance.js";
import {
  watchRoomPermissions,
  type PermissionSnapshot,
  type PermissionWatchDeps,
  type WatchTimers,
} from "../../src/domain/permission-watch/watch.js";
import type { RoomCaller } from "../../src/domain/room-permissions.js";
import { RevocationIndex } from "../../src/domain/tokens/revocations.js";
import { SqlMembershipStore } from "../../src/store/membership-store.js";
import { SqlRoomStore } from "../../src/store/room-store.js";
import { openSqliteDatabase } from "../../src/store/sqlite-database.js";
import { SqlTenantStore } from "../../src/store/tenant-store.js";
import { SqlUserStore } from "../../src/store/user-store.js";

describe("StreamLimits", () => {
  it("bounds streams per user and per tenant, counts tenants apart, and releases each slot once", () => {
    const limits = new StreamLimits("permission streams", 2, 3);
    const a1 = limits.acquire("t", "a");
    limits.acquire("t", "a");
    expect(() => limits.acquire("t", "a")).toThrow(/for this user \(at most 2\)/);
    limits.acquire("t", "b");
    let err: unknown;
    try {
      limits.acquire("t", "c");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RoomgateError);
    expect((err as RoomgateError).kind).toBe("resource_exhausted");
    expect((err as RoomgateError).message).toBe("too many open permission streams for this tenant (at most 3)");
    limits.acquire("u", "a");
    expect(limits.open).toBe(4);
    a1();
    a1(); // a second release gives back nothing more
    expect(limits.open).toBe(3);
    limits.acquire("t", "c");
    expect(() => limits.acquire("t", "d")).toThrow(/tenant/);
  });
});

describe("mayAffect", () => {
  const e = (over: Partial<StoredEvent>): StoredEvent => ({
    id: 1,
    tenantId: "t",
    type: EventType.MUTED,
    actor: "system",
    at: 0,
    ...over,
  });
  it.each([
    ["the member in the room", e({ userId: "u", roomId: "r" }), true],
    [
      "the member, no room (space role, RevokeUser, deletion)",
      e({ type: EventType.ROLE_REVOKED, userId: "u", roomId: "" }),
      true,
    ],
    ["nobody in particular, the room (RevokeRoom)", e({ type: EventType.TOKEN_REVOKED, roomId: "r" }), true],
    ["another member in the room", e({ userId: "v", roomId: "r" }), false],
    ["the member in another room", e({ userId: "u", roomId: "r2" }), false],
    ["a deleted message about the member", e({ type: EventType.MESSAGE_DELETED, userId: "u", roomId: "r" }), false],
    ["an API key revoked", e({ type: EventType.API_KEY_REVOKED }), false],
  ])("%s → %s", (_name, event, expected) => {
    expect(mayAffect(event, "u", "r")).toBe(expected);
  });
});

describe("watchRoomPermissions", () => {
  let db: ReturnType<typeof openSqliteDatabase>;
  let tenantId: string;
  let now = 1_700_000_000_000;
  const bus = new EventBus();
  const restrictions = new RestrictionIndex();
  const revocations = new RevocationIndex();
  /** Pending timers, fired by hand. */
  const pending = new Map<number, { fn: () => void; ms: number }>();
  let seq = 0;
  const timers: WatchTimers = {
    set: (fn, ms) => {
      pending.set(++seq, { fn, ms });
      return seq;
    },
    clear: (h) => void pending.delete(h as number),
  };
  let deps: PermissionWatchDeps;
  let eventId = 0;

  beforeAll(async () => {
    db = openSqliteDatabase(":memory:");
    tenantId = (await createTenantWithKey(new SqlTenantStore(db), "t", now)).tenant.id;
    await droppingEffects(new SqlUserStore(db)).ensureRoom(tenantId, "r", now);
    await db.run(
      sql`insert into users (id, tenant_id, kind, username, tenant_moderator, created_at) values (${"u"}, ${tenantId}, ${"registered"}, ${"u"}, ${false}, ${now})`,
    );
    const memberships = droppingEffects(new SqlMembershipStore(db));
    await memberships.setRoomRole(tenantId, "r", "u", "role_room_user", "test", now);
    deps = {
      rooms: new SqlRoomStore(db),
      memberships,
      restrictions,
      revocations,
      clock: () => now,
      bus,
      appliedId: () => eventId,
      timers,
    };
  });
  afterAll(() => db?.close());

  const caller = (expiresAt: number): RoomCaller => ({
    kind: "user",
    tenantId,
    userId: "u",
    roomScope: undefined,
    issuedAt: now - 1,
    credential: { tokenId: "a".repeat(32), roomId: "", issuedAt: now - 1, expiresAt },
  });
  const publish = (over: Partial<StoredEvent>) =>
    bus.publish([
      { id: ++eventId, tenantId, type: EventType.MUTED, actor: "system", at: now, userId: "u", roomId: "r", ...over },
    ]);

  it("folds events that arrive during a computation into one answer, arms a timer at expiry, and ends with expired", async () => {
    const ctl = new AbortController();
    const w = watchRoomPermissions(caller(now + 60_000), "r", deps, ctl.signal);
    const first = await w.next();
    expect((first.value as PermissionSnapshot).permissions.length).toBeGreaterThan(0);
    expect(bus.size).toBe(1);
    // Two changes before the watch reads again: one answer, reflecting both.
    restrictions.set({ tenantId, roomId: "r", userId: "u", kind: "mute", until: null });
    publish({});
    restrictions.set({ tenantId, roomId: "r", userId: "u", kind: "chat_block", until: null });
    publish({ type: EventType.CHAT_BLOCKED });
    const second = (await w.next()).value as PermissionSnapshot;
    expect(second.eventId).toBe(eventId);
    expect(second.permissions).toEqual(
      restrictions.apply((first.value as PermissionSnapshot).permissions, tenantId, "r", "u", now),
    );
    const next = w.next();
    // Waiting now: one timer, at the credential's expiry.
    await vi.waitFor(() => expect([...pending.values()].map((t) => t.ms)).toEqual([60_000]));
    now += 60_000;
    for (const t of [...pending.values()]) t.fn();
    await expect(next).rejects.toBeInstanceOf(TokenRejectedError);
    await expect(next).rejects.toMatchObject({ rejection: "expired" });
    // Ended: unsubscribed, no timer left.
    expect(bus.size).toBe(0);
    expect(pending.size).toBe(0);
    restrictions.lift(tenantId, "r", "u", "mute");
    restrictions.lift(tenantId, "r", "u", "chat_block");
  });

  it("a far expiry is reached in steps of setTimeout's largest delay; abort ends the watch quietly", async () => {
    const ctl = new AbortController();
    const w = watchRoomPermissions(caller(now + 40 * 86_400_000), "r", deps, ctl.signal);
    await w.next();
    const next = w.next();
    await vi.waitFor(() => expect([...pending.values()].map((t) => t.ms)).toEqual([2 ** 31 - 1]));
    ctl.abort();
    expect(await next).toEqual({ done: true, value: undefined });
    expect(bus.size).toBe(0);
    expect(pending.size).toBe(0);
  });

  it("an unrelated event costs no answer; a revocation ends the watch with revoked", async () => {
    const w = watchRoomPermissions(caller(now + 60_000), "r", deps, new AbortController().signal);
    await w.next();
    const next = w.next();
    publish({ userId: "someone-else" });
    revocations.add({ kind: "user", tenantId, userId: "u", at: now });
    publish({ type: EventType.TOKEN_REVOKED, roomId: "" });
    await expect(next).rejects.toMatchObject({ rejection: "revoked" });
  });
});
