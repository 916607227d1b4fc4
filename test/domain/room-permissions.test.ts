import { sql } from "drizzle-orm";
import { droppingEffects } from "../support/effects.js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { RoomPermissionFlagsSchema } from "../../gen/room/permissions/v1/service_pb.js";
import { createTenantWithKey } from "../../src/domain/auth/tenants.js";
import { RoomAccessDeniedError, RoomgateError } from "../../src/domain/errors.js";
import { RestrictionIndex } from "../../src/domain/moderation/restrictions.js";
import { RevocationIndex } from "../../src/domain/tokens/revocations.js";
import { ALL_PERMISSIONS } from "../../src/domain/permissions.js";
import {
  checkRoomId,
  effectiveRoomPermissions,
  flagOfPermission,
  permissionOfFlag,
  ROOM_PERMISSION_FLAGS,
  roomPermissionFlags,
  type RoomPermissionDeps,
} from "../../src/domain/room-permissions.js";
import { ROLES } from "../../src/domain/roles.js";
import type { Database } from "../../src/store/database-port.js";
import { SqlMembershipStore } from "../../src/store/membership-store.js";
import { SqlRoomStore } from "../../src/store/room-store.js";
import { openSqliteDatabase } from "../../src/store/sqlite-database.js";
import { SqlTenantStore } from "../../src/store/tenant-store.js";
import { SqlUserStore } from "../../src/store/user-store.js";

/** Seed 002's keys, copied from its example body in the order it prints them. */
const SEED_002_KEYS = [
  "canAttachOrDeleteFilesInOwnMessagesInDiscussion",
  "canAttachOrDeleteFilesInOwnMessagesInMainThread",
  "canChangePropertiesOfUnrelatedIssues",
  "canCreateIssues",
  "canCreateMeetings",
  "canEditOrDeleteOwnMessagesInDiscussion",
  "canEditOrDeleteOwnMessagesInMainThread",
  "canIntercomListen",
  "canIntercomStreamVideo",
  "canIntercomTalk",
  "canIntercomWatchVideo",
  "canReactToMessagesWithEmojiInDiscussion",
  "canReactToMessagesWithEmojiInMainThread",
  "canRecordMeetings",
  "canSendFilesIntoRoomInDiscussion",
  "canSendFilesIntoRoomInMainThread",
  "canSendMessagesInDiscussion",
  "canSendMessagesInMainThread",
  "canSendNudge",
  "canShareScreen",
  "canUseIntercom",
  "uiCanSeeRoomSidebar",
  "uiCanSeeWhoReadMessageInDiscussion",
  "uiCanSeeWhoReadMessageInMainThread",
];

/** Each seed 002 key and its catalog number, as the proto comments pair them. */
const SEED_002_NUMBER: Readonly<Record<string, number>> = {
  canSendMessagesInDiscussion: 301,
  canSendMessagesInMainThread: 302,
  canEditOrDeleteOwnMessagesInDiscussion: 303,
  canEditOrDeleteOwnMessagesInMainThread: 304,
  canReactToMessagesWithEmojiInDiscussion: 305,
  canReactToMessagesWithEmojiInMainThread: 306,
  canAttachOrDeleteFilesInOwnMessagesInDiscussion: 401,
  canAttachOrDeleteFilesInOwnMessagesInMainThread: 402,
  canSendFilesIntoRoomInDiscussion: 403,
  canSendFilesIntoRoomInMainThread: 404,
  canUseIntercom: 501,
  canIntercomListen: 502,
  canIntercomStreamVideo: 503,
  canIntercomTalk: 504,
  canIntercomWatchVideo: 505,
  canShareScreen: 506,
  canCreateIssues: 601,
  canCreateMeetings: 602,
  canChangePropertiesOfUnrelatedIssues: 603,
  canRecordMeetings: 604,
  uiCanSeeRoomSidebar: 701,
  uiCanSeeWhoReadMessageInDiscussion: 702,
  uiCanSeeWhoReadMessageInMainThread: 703,
  canSendNudge: 801,
};

/** The seed 002 members of ranges 300–800, by number. */
const SEED_002_NUMBERS = [
  301, 302, 303, 304, 305, 306, 401, 402, 403, 404, 501, 502, 503, 504, 505, 506, 601, 602, 603, 604, 701, 702, 703,
  801,
];

describe("seed 002 flag ↔ catalog permission mapping", () => {
  it("maps all 24 seed flags one-to-one onto the non-group members of ranges 300–800", () => {
    expect(SEED_002_KEYS).toHaveLength(24);
    expect(ROOM_PERMISSION_FLAGS.map((f) => f.name)).toEqual(SEED_002_KEYS);
    expect(ROOM_PERMISSION_FLAGS.map((f) => f.permission).sort((a, b) => a - b)).toEqual(SEED_002_NUMBERS);
    expect(new Set(ROOM_PERMISSION_FLAGS.map((f) => f.permission)).size).toBe(24);
    expect(Object.keys(SEED_002_NUMBER).sort()).toEqual(SEED_002_KEYS);
    expect(Object.values(SEED_002_NUMBER).sort((a, b) => a - b)).toEqual(SEED_002_NUMBERS);
    for (const key of SEED_002_KEYS) {
      expect(permissionOfFlag(key), key).toBe(SEED_002_NUMBER[key]);
      expect(flagOfPermission(SEED_002_NUMBER[key]!)).toBe(key);
    }
  });

  it("pairs names as the proto comments do", () => {
    expect(permissionOfFlag("canSendMessagesInDiscussion")).toBe(P.PermissionCanSendMessagesInDiscussion);
    expect(permissionOfFlag("uiCanSeeRoomSidebar")).toBe(P.PermissionUiCanSeeRoomSidebar);
    expect(permissionOfFlag("uiCanSeeWhoReadMessageInMainThread")).toBe(P.PermissionUiCanSeeWhoReadMessageInMainThread);
    expect(permissionOfFlag("canSendNudge")).toBe(P.PermissionCanSendNudge);
    expect(permissionOfFlag("canIntercomStreamVideo")).toBe(503);
    expect(permissionOfFlag("canChangePropertiesOfUnrelatedIssues")).toBe(603);
  });

  it("gives no flag to groups or seed 000 permissions, and no permission to unknown names", () => {
    for (const p of ALL_PERMISSIONS.filter((p) => p < 300 || p % 100 === 0))
      expect(flagOfPermission(p), String(p)).toBeUndefined();
    expect(permissionOfFlag("canKick")).toBeUndefined();
    expect(permissionOfFlag("CanSendNudge")).toBeUndefined();
    expect(permissionOfFlag("messaging")).toBeUndefined();
  });

  it("matches the contract's RoomPermissionFlags fields (JSON names are the seed keys)", () => {
    expect(RoomPermissionFlagsSchema.fields.map((f) => f.jsonName)).toEqual(SEED_002_KEYS);
    expect(RoomPermissionFlagsSchema.fields.map((f) => f.localName)).toEqual(SEED_002_KEYS);
  });
});

describe("roomPermissionFlags", () => {
  it("always has all 24 keys in seed order; nothing granted → all false", () => {
    const flags = roomPermissionFlags([]);
    expect(Object.keys(flags)).toEqual(SEED_002_KEYS);
    expect(Object.values(flags).every((v) => v === false)).toBe(true);
  });

  it("a group turns on its whole range and nothing else", () => {
    const flags = roomPermissionFlags([P.PermissionUi]);
    expect(
      Object.entries(flags)
        .filter(([, v]) => v)
        .map(([k]) => k),
    ).toEqual(["uiCanSeeRoomSidebar", "uiCanSeeWhoReadMessageInDiscussion", "uiCanSeeWhoReadMessageInMainThread"]);
  });

  it("property: a flag is true exactly when its permission or its range's group is in the set", () => {
    fc.assert(
      fc.property(fc.subarray([...ALL_PERMISSIONS]), (perms) => {
        const flags = roomPermissionFlags(perms);
        expect(Object.keys(flags)).toHaveLength(24);
        const given = new Set<number>(perms);
        for (const [key, value] of Object.entries(flags)) {
          const n = SEED_002_NUMBER[key]!;
          expect(value, key).toBe(given.has(n) || given.has(n - (n % 100)));
        }
        // And the true flags are exactly the expanded members of 300–800.
        const trueNumbers = Object.entries(flags)
          .filter(([, v]) => v)
          .map(([k]) => permissionOfFlag(k)!)
          .sort((a, b) => a - b);
        const expected = SEED_002_NUMBERS.filter((n) => given.has(n) || given.has(n - (n % 100)));
        expect(trueNumbers).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});

describe("effectiveRoomPermissions over the real store", () => {
  let db: Database;
  let tenantId: string;
  let otherTenantId: string;
  let deps: RoomPermissionDeps;
  const now = Date.now();

  async function addUser(id: string, tenant = tenantId): Promise<void> {
    await db.run(
      sql`insert into users (id, tenant_id, kind, username, tenant_moderator, created_at) values (${id}, ${tenant}, ${"registered"}, ${id}, ${false}, ${now})`,
    );
  }

  beforeAll(async () => {
    db = openSqliteDatabase(":memory:");
    const tenants = new SqlTenantStore(db);
    tenantId = (await createTenantWithKey(tenants, "t", now)).tenant.id;
    otherTenantId = (await createTenantWithKey(tenants, "o", now)).tenant.id;
    const userStore = droppingEffects(new SqlUserStore(db));
    await userStore.ensureRoom(tenantId, "r1", now);
    await userStore.ensureRoom(tenantId, "r2", now);
    await userStore.ensureRoom(otherTenantId, "theirs", now);
    await addUser("alice");
    const memberships = droppingEffects(new SqlMembershipStore(db));
    await memberships.setRoomRole(tenantId, "r1", "alice", "role_room_user", "test", now);
    deps = {
      rooms: new SqlRoomStore(db),
      memberships,
      restrictions: new RestrictionIndex(),
      revocations: new RevocationIndex(),
      clock: () => now,
    };
  });
  afterAll(() => db?.close());

  const credential = { tokenId: "0".repeat(32), roomId: "", issuedAt: now - 1000, expiresAt: now + 3_600_000 };
  const alice = () => ({
    kind: "user" as const,
    tenantId,
    userId: "alice",
    roomScope: undefined,
    issuedAt: now - 1000,
    credential,
  });

  it("a user access token gets its room role's permissions, nothing in a room without a role", async () => {
    expect(await effectiveRoomPermissions(alice(), "r1", deps)).toEqual(ROLES.role_room_user.permissions);
    expect(await effectiveRoomPermissions(alice(), "r2", deps)).toEqual([]);
  });

  it("a token scoped to another room gets nothing; scoped to this room, its roles", async () => {
    expect(await effectiveRoomPermissions({ ...alice(), roomScope: "r2" }, "r1", deps)).toEqual([]);
    expect(await effectiveRoomPermissions({ ...alice(), roomScope: "r1" }, "r1", deps)).toEqual(
      ROLES.role_room_user.permissions,
    );
  });

  it("a room member token gives its expanded permissions only in its own room", async () => {
    const member = {
      kind: "member" as const,
      tenantId,
      userId: "bob",
      roomId: "r1",
      permissions: [P.PermissionOther, P.PermissionChatKick],
      credential: { ...credential, roomId: "r1" },
    };
    expect(await effectiveRoomPermissions(member, "r1", deps)).toEqual([
      P.PermissionChatKick,
      P.PermissionOther,
      P.PermissionCanSendNudge,
    ]);
    expect(await effectiveRoomPermissions(member, "r2", deps)).toEqual([]);
  });

  it("unknown room and another tenant's room are not_found; bad ids are invalid_argument", async () => {
    const kindOf = async (f: () => unknown) => {
      try {
        await f();
      } catch (e) {
        return e instanceof RoomgateError ? e.kind : "other";
      }
      return "none";
    };
    expect(await kindOf(() => effectiveRoomPermissions(alice(), "nope", deps))).toBe("not_found");
    expect(await kindOf(() => effectiveRoomPermissions(alice(), "theirs", deps))).toBe("not_found");
    expect(await kindOf(() => effectiveRoomPermissions(alice(), "", deps))).toBe("invalid_argument");
    expect(await kindOf(() => checkRoomId("x".repeat(257)))).toBe("invalid_argument");
    expect(await kindOf(() => checkRoomId("a\u0000b"))).toBe("invalid_argument");
    expect(await kindOf(() => checkRoomId("x".repeat(256)))).toBe("none");
  });

  it("live restrictions are applied last: a mute takes sending away, a room block refuses with its detail", async () => {
    const restrictions = new RestrictionIndex();
    restrictions.set({ tenantId, roomId: "r1", userId: "alice", kind: "mute", until: null });
    const out = await effectiveRoomPermissions(alice(), "r1", { ...deps, restrictions });
    expect(out).not.toContain(P.PermissionCanSendMessagesInDiscussion);
    expect(out).toContain(P.PermissionCanSendNudge);
    restrictions.set({ tenantId, roomId: "r1", userId: "alice", kind: "room_block", until: now + 5000 });
    let caught: unknown;
    try {
      await effectiveRoomPermissions(alice(), "r1", { ...deps, restrictions });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(RoomAccessDeniedError);
    expect((caught as RoomAccessDeniedError).reason).toBe("room_blocked");
    expect((caught as RoomAccessDeniedError).until).toBe(now + 5000);
  });

  it("a kick after the credential was issued takes that room only; a newer credential is back in", async () => {
    const revocations = new RevocationIndex();
    revocations.add({ kind: "user_room", tenantId, userId: "alice", roomId: "r1", at: now - 500 });
    const d = { ...deps, revocations };
    await expect(effectiveRoomPermissions(alice(), "r1", d)).rejects.toThrow(RoomAccessDeniedError);
    expect(await effectiveRoomPermissions({ ...alice(), issuedAt: now - 100 }, "r1", d)).toEqual(
      ROLES.role_room_user.permissions,
    );
    expect(await effectiveRoomPermissions(alice(), "r2", d)).toEqual([]);
  });
});
