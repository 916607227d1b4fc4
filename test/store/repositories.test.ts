// Every repository against a real store, through its public methods and
// plain `db.all(sql…)` only, so the same file runs on each dialect: the
// vitest "sqlite" project on SQLite, the "postgres" project on PostgreSQL
// (DATABASES follows ROOMGATE_TEST_STORE).
import { droppingEffects } from "../support/effects.js";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { RoomgateError } from "../../src/domain/errors.js";
import type { TimedRestriction } from "../../src/domain/moderation/lapses.js";
import type { AccessLinkRecord } from "../../src/domain/spaces/store.js";
import type { GrantRecord } from "../../src/domain/tokens/room-tokens.js";
import type { NewUser } from "../../src/domain/users/users.js";
import { num, type Database } from "../../src/store/database-port.js";
import { SqlGrantStore } from "../../src/store/grant-store.js";
import { SqlJournal } from "../../src/store/journal-store.js";
import { pruneInBatches, SqlMaintenanceStore } from "../../src/store/maintenance-store.js";
import { SqlMembershipStore } from "../../src/store/membership-store.js";
import { SqlModerationStore } from "../../src/store/moderation-store.js";
import { SqlRoomStore } from "../../src/store/room-store.js";
import { SqlSpaceStore } from "../../src/store/space-store.js";
import { isForeignKeyViolation, isUniqueViolation } from "../../src/store/sql-errors.js";
import { SqlTenantStore } from "../../src/store/tenant-store.js";
import { SqlUserStore } from "../../src/store/user-store.js";
import { DATABASES } from "./databases.js";
import { newUser } from "../support/builders.js";

const T1 = "t1";
const T2 = "t2";

function key(id: string, fill = 7): { id: string; hash: Uint8Array; label: string } {
  return { id, hash: new Uint8Array(32).fill(fill), label: `label-${id}` };
}

/** Two tenants with one key each. */
async function seedTenants(db: Database): Promise<SqlTenantStore> {
  const tenants = new SqlTenantStore(db);
  await tenants.createTenant({ id: T1, name: "one", createdAt: 10 }, key("k1", 1));
  await tenants.createTenant({ id: T2, name: "two", createdAt: 20 }, key("k2", 2));
  return tenants;
}

async function count(db: Database, table: string): Promise<number> {
  const row = await db.get(sql`select count(*) as "n" from ${sql.raw(table)}`);
  return num(row!.n);
}

function user(id: string, over: Partial<NewUser> = {}): NewUser {
  return newUser(id, T1, over);
}

function grant(id: string, over: Partial<GrantRecord> = {}): GrantRecord {
  return {
    id,
    tenantId: T1,
    userId: "u1",
    roomId: "r1",
    permissions: [200, 201],
    metadata: { note: "x", nested: { n: 1, list: [true, null] } },
    issuedAt: 1_700_000_000_000,
    expiresAt: 1_700_000_600_000,
    issuedBy: "k1",
    ...over,
  };
}

function link(id: string, over: Partial<AccessLinkRecord> = {}): AccessLinkRecord {
  return {
    id,
    tenantId: T1,
    roomId: "r1",
    username: `guest-${id}`,
    role: "user",
    externalUserId: "",
    isPermanent: false,
    expiresAt: 9_000,
    createdBy: "user:owner",
    createdAt: 100,
    guestUserId: null,
    useCount: 0,
    revokedAt: null,
    ...over,
  };
}

/** Runs `fn` and returns what it threw (fails the test when it did not throw). */
async function thrown(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

function already(err: unknown): string {
  expect(err).toBeInstanceOf(RoomgateError);
  expect((err as RoomgateError).kind).toBe("already_exists");
  return (err as RoomgateError).message;
}

describe.each(DATABASES)("repositories on %s", (_name, open) => {
  describe("Database.write", () => {
    it("a write that throws leaves nothing, across repositories, and joins when nested", async () => {
      const db = await open();
      await seedTenants(db);
      const grants = droppingEffects(new SqlGrantStore(db));
      const journal = new SqlJournal(db);
      const spaces = droppingEffects(new SqlSpaceStore(db));
      const users = droppingEffects(new SqlUserStore(db));
      const err = await thrown(() =>
        db.write(async () => {
          expect(db.inTransaction).toBe(true);
          await users.insertUser(user("owner"));
          await spaces.insertSpace({ id: "s1", tenantId: T1, name: "s", isPublic: false, ownerUserId: "owner" }, 5);
          await grants.recordGrants([grant("g1"), grant("g2")]);
          await journal.record(
            [{ tenantId: T1, at: 1, actor: "key:k1", action: "test" }],
            [{ tenantId: T1, type: EventType.MEMBER_JOINED, actor: "key:k1", at: 1 }],
          );
          // The nested writes joined this transaction: their rows are visible here…
          expect(await grants.countGrants(T1)).toBe(2);
          throw new Error("boom");
        }),
      );
      expect((err as Error).message).toBe("boom");
      expect(db.inTransaction).toBe(false);
      // …and gone with it.
      for (const table of ["users", "spaces", "space_members", "grants", "rooms", "audit_log", "events"])
        expect(await count(db, table)).toBe(0);
      expect(await count(db, "tenants")).toBe(2);
    });

    it("insertRows: many rows in chunks, booleans and nulls bound, a suffix clause, rows changed, and the caller's transaction", async () => {
      const db = await open();
      await seedTenants(db);
      const columns = ["tenant_id", "id", "created_at", "is_public", "space_id"];
      const rows = Array.from({ length: 700 }, (_, i) => [T1, `room-${i}`, i, i % 2 === 0, null]);
      expect(await db.insertRows("rooms", columns, rows, "on conflict (tenant_id, id) do nothing")).toBe(700);
      // The suffix applies to every chunk: conflicts are skipped, new rows counted.
      expect(
        await db.insertRows(
          "rooms",
          columns,
          [...rows.slice(0, 600), [T1, "room-new", 1, true, null]],
          "on conflict (tenant_id, id) do nothing",
        ),
      ).toBe(1);
      const r = await db.all(
        sql`select id as "id", created_at as "at", is_public as "pub", space_id as "space" from rooms where id in ('room-3', 'room-4') order by id`,
      );
      expect(r.map((x) => [x.id, num(x.at), Boolean(x.pub), x.space])).toEqual([
        ["room-3", 3, false, null],
        ["room-4", 4, true, null],
      ]);
      const err = await thrown(() =>
        db.write(async () => {
          await db.insertRows("rooms", columns, [[T2, "rolled-back", 1, false, null]]);
          throw new Error("boom");
        }),
      );
      expect((err as Error).message).toBe("boom");
      expect(await count(db, "rooms")).toBe(701);
    });
  });

  describe("sql-errors", () => {
    it("classifies real driver errors by code, also when wrapped", async () => {
      const db = await open();
      const tenants = await seedTenants(db);
      const dup = await thrown(() => tenants.createTenant({ id: T1, name: "again", createdAt: 1 }, key("k-new")));
      expect(isUniqueViolation(dup)).toBe(true);
      expect(isForeignKeyViolation(dup)).toBe(false);
      expect(isUniqueViolation(new Error("wrapper", { cause: dup }))).toBe(true);
      const fk = await thrown(() => tenants.addApiKey("no-such-tenant", key("k-fk"), 1));
      expect(isForeignKeyViolation(fk)).toBe(true);
      expect(isUniqueViolation(fk)).toBe(false);
      expect(isUniqueViolation(new Error("UNIQUE constraint failed"))).toBe(false);
      expect(isUniqueViolation(undefined)).toBe(false);
    });
  });

  describe("SqlTenantStore", () => {
    it("round-trips tenants and keys; a failed createTenant leaves no tenant", async () => {
      const db = await open();
      const tenants = await seedTenants(db);
      expect(await tenants.countTenants()).toBe(2);
      expect(await tenants.findTenant(T1)).toEqual({ id: T1, name: "one", createdAt: 10 });
      expect(await tenants.findTenant("nope")).toBeUndefined();
      const k = await tenants.findApiKey("k1");
      expect(k).toEqual({ id: "k1", tenantId: T1, hash: expect.any(Uint8Array), revokedAt: null });
      expect(Buffer.from(k!.hash).equals(Buffer.alloc(32, 1))).toBe(true);
      expect(await tenants.findApiKey("nope")).toBeUndefined();
      // The key id is taken: the tenant row written before it is rolled back.
      const err = await thrown(() => tenants.createTenant({ id: "t3", name: "three", createdAt: 30 }, key("k1")));
      expect(isUniqueViolation(err)).toBe(true);
      expect(await tenants.findTenant("t3")).toBeUndefined();
      expect(await tenants.countTenants()).toBe(2);
    });

    it("adds, lists (oldest first, per tenant) and revokes keys once", async () => {
      const db = await open();
      const tenants = await seedTenants(db);
      await tenants.addApiKey(T1, key("k1b"), 5);
      await tenants.addApiKey(T1, key("k1c"), 50);
      expect((await tenants.listApiKeys(T1)).map((k) => k.id)).toEqual(["k1b", "k1", "k1c"]);
      expect((await tenants.listApiKeys()).map((k) => k.id)).toEqual(["k1b", "k1", "k2", "k1c"]);
      expect((await tenants.listApiKeys(T2))[0]).toEqual({
        id: "k2",
        tenantId: T2,
        label: "label-k2",
        createdAt: 20,
        revokedAt: null,
      });
      expect(await tenants.revokeApiKey("k1b", 77)).toBe(true);
      expect(await tenants.revokeApiKey("k1b", 88)).toBe(false);
      expect(await tenants.revokeApiKey("nope", 88)).toBe(false);
      expect((await tenants.findApiKey("k1b"))?.revokedAt).toBe(77);
      expect((await tenants.listApiKeys(T1)).find((k) => k.id === "k1b")?.revokedAt).toBe(77);
    });
  });

  describe("SqlGrantStore", () => {
    it("records a batch larger than one statement with its rooms, and round-trips JSON columns", async () => {
      const db = await open();
      await seedTenants(db);
      const grants = droppingEffects(new SqlGrantStore(db));
      // A room that exists already keeps its row (created_at 1).
      await droppingEffects(new SqlUserStore(db)).ensureRoom(T1, "r0", 1);
      const batch = Array.from({ length: 1_100 }, (_, i) =>
        grant(`g${String(i).padStart(4, "0")}`, { roomId: `r${i % 3}`, userId: `u${i}` }),
      );
      await grants.recordGrants(batch);
      expect(await grants.countGrants(T1)).toBe(1_100);
      expect(await grants.countGrants(T2)).toBe(0);
      expect(await grants.countGrants()).toBe(1_100);
      expect(await grants.findGrant("g0999")).toEqual(batch[999]);
      expect(await grants.findGrant("nope")).toBeUndefined();
      const rooms = await db.all(sql`select id as "id", created_at as "createdAt" from rooms order by id`);
      expect(rooms.map((r) => [r.id, num(r.createdAt)])).toEqual([
        ["r0", 1],
        ["r1", batch[1]!.issuedAt],
        ["r2", batch[2]!.issuedAt],
      ]);
      await grants.recordGrants([]);
      expect(await grants.countGrants()).toBe(1_100);
    });

    it("writes nothing when any row of a batch fails", async () => {
      const db = await open();
      await seedTenants(db);
      const grants = droppingEffects(new SqlGrantStore(db));
      // The duplicate id fails the batch's last statement after the others ran.
      const batch = [...Array.from({ length: 600 }, (_, i) => grant(`g${i}`)), grant("g0")];
      expect(isUniqueViolation(await thrown(() => grants.recordGrants(batch)))).toBe(true);
      expect(await grants.countGrants()).toBe(0);
      expect(await count(db, "rooms")).toBe(0);
      expect(
        isForeignKeyViolation(await thrown(() => grants.recordGrants([grant("a", { tenantId: "no-such-tenant" })]))),
      ).toBe(true);
    });
  });

  describe("SqlUserStore", () => {
    it("inserts users; every taken field is already_exists naming it, and nothing is written", async () => {
      const db = await open();
      await seedTenants(db);
      const users = droppingEffects(new SqlUserStore(db));
      await users.insertUser(user("u1", { username: "Ann", email: "ann@example.test", passwordHash: "h1" }));
      await users.insertUser(user("c1", { kind: "consumer", username: "ann", uniqueUserIdentifier: "uui-1" }));
      const before = await count(db, "users");
      expect(already(await thrown(() => users.insertUser(user("u2", { username: "aNN" }))))).toBe(
        "username: already taken",
      );
      expect(
        already(await thrown(() => users.insertUser(user("u3", { username: "bob", email: "ann@example.test" })))),
      ).toBe("email: already registered");
      expect(
        already(await thrown(() => users.insertUser(user("c2", { kind: "consumer", uniqueUserIdentifier: "uui-1" })))),
      ).toBe("unique_user_identifier: already in use");
      // No check foresees a duplicate id: the unique violation itself answers.
      expect(already(await thrown(() => users.insertUser(user("u1", { username: "carl" }))))).toBe(
        "user already exists",
      );
      expect(await count(db, "users")).toBe(before);
      // The same name and identifier are free in another tenant.
      await users.insertUser(
        user("u4", { tenantId: T2, username: "ann", email: "ann@example.test", uniqueUserIdentifier: "uui-1" }),
      );
    });

    it("finds registered users by name in any case, and answers what is taken", async () => {
      const db = await open();
      await seedTenants(db);
      const users = droppingEffects(new SqlUserStore(db));
      await users.insertUser(user("u1", { username: "Ann", email: "ann@example.test", passwordHash: "h1" }));
      await users.insertUser(user("g1", { kind: "guest", username: "zed" }));
      expect(await users.findRegisteredByUsername(T1, "ANN")).toEqual({ id: "u1", passwordHash: "h1" });
      expect(await users.findRegisteredByUsername(T2, "Ann")).toBeUndefined();
      expect(await users.findRegisteredByUsername(T1, "zed")).toBeUndefined();
      expect(await users.registeredUsernameTaken(T1, "aNn")).toBe(true);
      expect(await users.registeredUsernameTaken(T1, "zed")).toBe(false);
      expect(await users.registeredEmailTaken(T1, "ann@example.test")).toBe(true);
      expect(await users.registeredEmailTaken(T2, "ann@example.test")).toBe(false);
      expect(await users.tenantExists(T1)).toBe(true);
      expect(await users.tenantExists("nope")).toBe(false);
    });

    it("finds and patches seed 003 users; ensureRoom is idempotent", async () => {
      const db = await open();
      await seedTenants(db);
      const users = droppingEffects(new SqlUserStore(db));
      await users.insertUser(
        user("c1", {
          kind: "consumer",
          username: "carl",
          uniqueUserIdentifier: "uui-1",
          tenantModerator: true,
          email: "c@x.test",
        }),
      );
      await users.insertUser(user("r1", { username: "reg" }));
      expect(await users.findConsumerByIdentifier(T1, "uui-1")).toEqual({
        id: "c1",
        username: "carl",
        tenantModerator: true,
      });
      expect(await users.findConsumerByIdentifier(T2, "uui-1")).toBeUndefined();
      await users.updateConsumer(T1, "c1", { username: "carla", tenantModerator: false, meta: "{}", email: undefined });
      await users.updateConsumer(T1, "c1", {});
      expect(await users.findConsumerByIdentifier(T1, "uui-1")).toEqual({
        id: "c1",
        username: "carla",
        tenantModerator: false,
      });
      const row = await db.get(
        sql`select email as "email", meta as "meta", profile_pic as "pic" from users where id = ${"c1"}`,
      );
      expect(row).toEqual({ email: "c@x.test", meta: "{}", pic: null });
      // Only seed 003 users are patched.
      await users.updateConsumer(T1, "r1", { username: "hacked" });
      expect((await users.findRegisteredByUsername(T1, "reg"))?.id).toBe("r1");
      await users.ensureRoom(T1, "room", 5);
      await users.ensureRoom(T1, "room", 6);
      expect((await db.all(sql`select created_at as "at" from rooms`)).map((r) => num(r.at))).toEqual([5]);
    });
  });

  describe("SqlMembershipStore and SqlRoomStore", () => {
    it("answers the roles that apply to a room; upserts and removes them", async () => {
      const db = await open();
      await seedTenants(db);
      const users = droppingEffects(new SqlUserStore(db));
      const spaces = droppingEffects(new SqlSpaceStore(db));
      const members = droppingEffects(new SqlMembershipStore(db));
      const rooms = new SqlRoomStore(db);
      await users.insertUser(user("owner"));
      await users.insertUser(user("m", { kind: "consumer", tenantModerator: true }));
      await spaces.insertSpace({ id: "s1", tenantId: T1, name: "s", isPublic: false, ownerUserId: "owner" }, 1);
      await spaces.insertRoom({
        tenantId: T1,
        id: "r1",
        spaceId: "s1",
        name: "room",
        isPublic: true,
        creatorUserId: "owner",
        createdAt: 2,
      });
      expect(await rooms.roomExists(T1, "r1")).toBe(true);
      expect(await rooms.roomExists(T2, "r1")).toBe(false);
      expect(await rooms.roomExists(T1, "r2")).toBe(false);

      const none = { roomRole: undefined, spaceRole: undefined, tenantModerator: false, roomIsPublic: false };
      expect(await members.roomRolesOf(T1, "nobody", "r1")).toEqual(none);
      expect(await members.roomRolesOf(T1, "m", "r1")).toEqual({ ...none, tenantModerator: true, roomIsPublic: true });
      expect(await members.roomRolesOf(T1, "owner", "r1")).toEqual({
        ...none,
        spaceRole: "role_space_owner",
        roomIsPublic: true,
      });
      expect(await members.roomRolesOf(T1, "owner", "elsewhere")).toEqual(none);

      await members.setRoomRole(T1, "r1", "m", "role_room_user", "key:k1", 3);
      await members.setRoomRole(T1, "r1", "m", "role_room_moderator", "user:owner", 4);
      expect((await members.roomRolesOf(T1, "m", "r1")).roomRole).toBe("role_room_moderator");
      const rm = await db.all(sql`select role as "role", granted_by as "by", created_at as "at" from room_members`);
      expect(rm.map((r) => [r.role, r.by, num(r.at)])).toEqual([["role_room_moderator", "user:owner", 3]]);
      expect(await members.removeRoomRole(T1, "r1", "m")).toBe(true);
      expect(await members.removeRoomRole(T1, "r1", "m")).toBe(false);
      expect((await members.roomRolesOf(T1, "m", "r1")).roomRole).toBeUndefined();

      await members.setSpaceRole(T1, "s1", "m", "role_space_user", 5);
      await members.setSpaceRole(T1, "s1", "m", "role_space_moderator", 6);
      expect((await members.roomRolesOf(T1, "m", "r1")).spaceRole).toBe("role_space_moderator");
      expect(await count(db, "space_members")).toBe(2);
    });
  });

  describe("SqlSpaceStore", () => {
    it("round-trips spaces, rooms and users", async () => {
      const db = await open();
      await seedTenants(db);
      const spaces = droppingEffects(new SqlSpaceStore(db));
      await droppingEffects(new SqlUserStore(db)).insertUser(user("owner"));
      expect(await spaces.userExists(T1, "owner")).toBe(true);
      expect(await spaces.userExists(T2, "owner")).toBe(false);
      await spaces.insertSpace({ id: "s1", tenantId: T1, name: "space", isPublic: true, ownerUserId: "owner" }, 1);
      expect(await spaces.findSpace(T1, "s1")).toEqual({
        id: "s1",
        tenantId: T1,
        name: "space",
        isPublic: true,
        ownerUserId: "owner",
      });
      expect(await spaces.findSpace(T2, "s1")).toBeUndefined();
      expect(await spaces.spaceRoleOf(T1, "s1", "owner")).toBe("role_space_owner");
      expect(await spaces.spaceRoleOf(T1, "s1", "other")).toBeUndefined();
      await spaces.insertRoom({
        tenantId: T1,
        id: "r1",
        spaceId: "s1",
        name: "room",
        isPublic: false,
        creatorUserId: "owner",
        createdAt: 2,
      });
      expect(await spaces.findRoom(T1, "r1")).toEqual({
        tenantId: T1,
        id: "r1",
        spaceId: "s1",
        name: "room",
        isPublic: false,
        creatorUserId: "owner",
      });
      // A room first named by token Create has no space, name or creator.
      await droppingEffects(new SqlUserStore(db)).ensureRoom(T1, "r-token", 3);
      expect(await spaces.findRoom(T1, "r-token")).toEqual({
        tenantId: T1,
        id: "r-token",
        spaceId: null,
        name: "",
        isPublic: false,
        creatorUserId: null,
      });
      expect(await spaces.findRoom(T1, "nope")).toBeUndefined();
      await spaces.insertGuestUser({ tenantId: T1, id: "g1", username: "guest", externalUserId: "", createdAt: 4 });
      await spaces.insertGuestUser({ tenantId: T1, id: "g2", username: "guest", externalUserId: "ext", createdAt: 5 });
      const guests = await db.all(
        sql`select id as "id", kind as "kind", external_user_id as "ext", username_key as "k" from users where kind = 'guest' order by id`,
      );
      expect(guests).toEqual([
        { id: "g1", kind: "guest", ext: null, k: null },
        { id: "g2", kind: "guest", ext: "ext", k: null },
      ]);
    });

    it("claims an invite exactly once, also when claims race", async () => {
      const db = await open();
      await seedTenants(db);
      const spaces = droppingEffects(new SqlSpaceStore(db));
      await droppingEffects(new SqlUserStore(db)).insertUser(user("owner"));
      await spaces.insertSpace({ id: "s1", tenantId: T1, name: "space", isPublic: false, ownerUserId: "owner" }, 1);
      const invite = {
        id: "i1",
        tenantId: T1,
        spaceId: "s1",
        role: "role_space_user",
        createdBy: "owner",
        createdAt: 2,
        usedBy: null,
        usedAt: null,
        revokedAt: null,
      };
      await spaces.insertInvite(invite);
      await spaces.insertInvite({ ...invite, id: "i2" });
      expect(await spaces.findInvite(T1, "i1")).toEqual(invite);
      expect(await spaces.findInvite(T2, "i1")).toBeUndefined();
      expect(await spaces.claimInvite(T1, "i1", "a", 3)).toBe(true);
      expect(await spaces.claimInvite(T1, "i1", "b", 4)).toBe(false);
      expect(await spaces.findInvite(T1, "i1")).toEqual({ ...invite, usedBy: "a", usedAt: 3 });
      const claimers = Array.from({ length: 20 }, (_, i) => `c${i}`);
      const won = await Promise.all(claimers.map((c) => db.write(() => spaces.claimInvite(T1, "i2", c, 5))));
      expect(won.filter(Boolean)).toHaveLength(1);
      expect((await spaces.findInvite(T1, "i2"))?.usedBy).toBe(claimers[won.indexOf(true)]);
    });

    it("claims a one-time link once (also racing), a permanent one every time; guest and revocation set once", async () => {
      const db = await open();
      await seedTenants(db);
      const spaces = droppingEffects(new SqlSpaceStore(db));
      await spaces.insertAccessLink(link("once"));
      await spaces.insertAccessLink(link("race"));
      await spaces.insertAccessLink(link("perm", { isPermanent: true, role: "moderator", externalUserId: "ext" }));
      expect(await spaces.findAccessLink(T1, "perm")).toEqual(
        link("perm", { isPermanent: true, role: "moderator", externalUserId: "ext" }),
      );
      expect(await spaces.findAccessLink(T2, "perm")).toBeUndefined();

      expect(await spaces.claimAccessLink(T1, "once", 10)).toBe(true);
      expect(await spaces.claimAccessLink(T1, "once", 11)).toBe(false);
      expect((await spaces.findAccessLink(T1, "once"))?.useCount).toBe(1);
      const won = await Promise.all(
        Array.from({ length: 20 }, () => db.write(() => spaces.claimAccessLink(T1, "race", 12))),
      );
      expect(won.filter(Boolean)).toHaveLength(1);

      expect(await spaces.claimAccessLink(T1, "perm", 20)).toBe(true);
      expect(await spaces.claimAccessLink(T1, "perm", 21)).toBe(true);
      const perm = await db.get(
        sql`select used_at as "usedAt", use_count as "n" from access_links where id = ${"perm"}`,
      );
      expect([num(perm!.usedAt), num(perm!.n)]).toEqual([20, 2]);

      expect(await spaces.setAccessLinkGuest(T1, "perm", "g1")).toBe(true);
      expect(await spaces.setAccessLinkGuest(T1, "perm", "g2")).toBe(false);
      expect(await spaces.revokeAccessLink(T1, "perm", 30)).toBe(true);
      expect(await spaces.revokeAccessLink(T1, "perm", 31)).toBe(false);
      expect(await spaces.revokeAccessLink(T2, "once", 31)).toBe(false);
      const after = await spaces.findAccessLink(T1, "perm");
      expect([after?.guestUserId, after?.revokedAt, after?.useCount]).toEqual(["g1", 30, 2]);
    });

    it("pages a room's links newest first (time, then id) without gaps or repeats", async () => {
      const db = await open();
      await seedTenants(db);
      const spaces = droppingEffects(new SqlSpaceStore(db));
      const times = [100, 300, 200, 300, 100, 300, 50];
      for (const [i, at] of times.entries()) await spaces.insertAccessLink(link(`l${i}`, { createdAt: at }));
      await spaces.insertAccessLink(link("other-room", { roomId: "r2", createdAt: 1_000 }));
      await spaces.insertAccessLink(link("other-tenant", { tenantId: T2, createdAt: 1_000 }));
      const expected = times
        .map((at, i) => ({ at, id: `l${i}` }))
        .sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1))
        .map((x) => x.id);
      const seen: string[] = [];
      let after: { at: number; id: string } | undefined;
      for (;;) {
        const page = await spaces.listAccessLinks(T1, "r1", after, 2);
        seen.push(...page.map((l) => l.id));
        if (page.length < 2) break;
        const last = page[page.length - 1]!;
        after = { at: last.createdAt, id: last.id };
      }
      expect(seen).toEqual(expected);
      expect(seen.slice(0, 3)).toEqual(["l5", "l3", "l1"]);
    });
  });

  describe("SqlModerationStore", () => {
    const r = (userId: string, kind: "chat_block" | "mute" | "room_block", until: number | null) => ({
      tenantId: T1,
      roomId: "r1",
      userId,
      kind,
      until,
    });

    it("sets, replaces and lifts restrictions; answers the active and the due ones", async () => {
      const db = await open();
      await seedTenants(db);
      const m = new SqlModerationStore(db);
      expect(await m.nextRestrictionEnd()).toBeUndefined();
      await m.setRestriction(r("a", "mute", 500), "key:k1", 1);
      await m.setRestriction(r("a", "mute", 300), "key:k1", 2);
      await m.setRestriction(r("b", "chat_block", 100), "key:k1", 3);
      await m.setRestriction(r("c", "room_block", null), "key:k1", 4);
      await m.setRestriction(r("d", "mute", 200), "key:k1", 5);
      expect(await count(db, "restrictions")).toBe(4);
      const sort = (xs: Array<{ userId: string }>) => [...xs].sort((x, y) => x.userId.localeCompare(y.userId));
      expect(sort(await m.activeRestrictions(150))).toEqual([
        r("a", "mute", 300),
        r("c", "room_block", null),
        r("d", "mute", 200),
      ]);
      expect(await m.dueRestrictions(1_000, 2)).toEqual([r("b", "chat_block", 100), r("d", "mute", 200)]);
      expect(await m.dueRestrictions(150, 10)).toEqual([r("b", "chat_block", 100)]);
      expect(await m.nextRestrictionEnd()).toBe(100);
      expect(await m.liftRestriction(T1, "r1", "c", "room_block")).toBe(true);
      expect(await m.liftRestriction(T1, "r1", "c", "room_block")).toBe(false);
      expect(await m.liftRestriction(T1, "r1", "a", "chat_block")).toBe(false);
    });

    it("deletes a lapsed restriction only while it still ends then, exactly once when lapses race", async () => {
      const db = await open();
      await seedTenants(db);
      const m = new SqlModerationStore(db);
      await m.setRestriction(r("a", "mute", 100), "key:k1", 1);
      const due = (await m.dueRestrictions(100, 10))[0]!;
      // Re-set meanwhile: another end, so not this lapse.
      await m.setRestriction(r("a", "mute", 400), "key:k1", 2);
      expect(await m.deleteLapsed(due)).toBe(false);
      const now: TimedRestriction = { ...due, until: 400 };
      const won = await Promise.all(Array.from({ length: 20 }, () => db.write(() => m.deleteLapsed(now))));
      expect(won.filter(Boolean)).toHaveLength(1);
      expect(await m.deleteLapsed(now)).toBe(false);
      expect(await count(db, "restrictions")).toBe(0);
    });

    it("stores revocations and loads the live ones (watermarks always, tokens until they expire)", async () => {
      const db = await open();
      await seedTenants(db);
      const m = new SqlModerationStore(db);
      await m.addRevocation({ kind: "token", tenantId: T1, tokenId: "expired", at: 1 }, 50);
      await m.addRevocation({ kind: "token", tenantId: T1, tokenId: "live", at: 2 }, 500);
      await m.addRevocation({ kind: "user", tenantId: T1, userId: "u", at: 3 }, null);
      await m.addRevocation({ kind: "user_room", tenantId: T1, userId: "u", roomId: "r", at: 4 }, null);
      await m.addRevocation({ kind: "room", tenantId: T2, roomId: "r", at: 5 }, null);
      expect(await m.liveRevocations(100)).toEqual([
        { kind: "token", tenantId: T1, tokenId: "live", at: 2 },
        { kind: "user", tenantId: T1, userId: "u", at: 3 },
        { kind: "user_room", tenantId: T1, userId: "u", roomId: "r", at: 4 },
        { kind: "room", tenantId: T2, roomId: "r", at: 5 },
      ]);
      const cols = await db.all(
        sql`select token_id as "t", user_id as "u", room_id as "r" from revocations where kind = 'user'`,
      );
      expect(cols).toEqual([{ t: null, u: "u", r: null }]);
    });

    it("finds grants per tenant and tells rooms and members", async () => {
      const db = await open();
      await seedTenants(db);
      const m = new SqlModerationStore(db);
      const users = droppingEffects(new SqlUserStore(db));
      const spaces = droppingEffects(new SqlSpaceStore(db));
      const members = droppingEffects(new SqlMembershipStore(db));
      await droppingEffects(new SqlGrantStore(db)).recordGrants([grant("g1", { roomId: "r-token", userId: "holder" })]);
      expect(await m.findGrant(T1, "g1")).toEqual({
        userId: "holder",
        roomId: "r-token",
        expiresAt: grant("g1").expiresAt,
      });
      expect(await m.findGrant(T2, "g1")).toBeUndefined();
      expect(await m.roomExists(T1, "r-token")).toBe(true);
      expect(await m.roomExists(T2, "r-token")).toBe(false);

      for (const id of ["owner", "roled", "spaced", "stranger"]) await users.insertUser(user(id));
      await spaces.insertSpace({ id: "s1", tenantId: T1, name: "s", isPublic: false, ownerUserId: "owner" }, 1);
      await spaces.insertSpace({ id: "s2", tenantId: T1, name: "s2", isPublic: false, ownerUserId: "owner" }, 1);
      await spaces.insertRoom({
        tenantId: T1,
        id: "r1",
        spaceId: "s1",
        name: "",
        isPublic: true,
        creatorUserId: "owner",
        createdAt: 1,
      });
      await spaces.insertRoom({
        tenantId: T1,
        id: "r-private",
        spaceId: "s1",
        name: "",
        isPublic: false,
        creatorUserId: "owner",
        createdAt: 1,
      });
      await members.setRoomRole(T1, "r1", "roled", "role_room_user", "key:k1", 1);
      await members.setSpaceRole(T1, "s1", "spaced", "role_space_user", 1);
      await members.setSpaceRole(T1, "s2", "stranger", "role_space_user", 1);
      expect(await m.isMember(T1, "r-token", "holder")).toBe(true);
      expect(await m.isMember(T1, "r1", "holder")).toBe(false);
      expect(await m.isMember(T1, "r1", "roled")).toBe(true);
      expect(await m.isMember(T1, "r1", "spaced")).toBe(true);
      expect(await m.isMember(T1, "r1", "owner")).toBe(true);
      expect(await m.isMember(T1, "r1", "stranger")).toBe(false);
      // A space role makes its holder a member of the space's public rooms only.
      expect(await m.isMember(T1, "r-private", "spaced")).toBe(false);
      expect(await m.isMember(T2, "r1", "roled")).toBe(false);
    });
  });

  describe("SqlJournal", () => {
    it("records audit and events (ids in the order given), lists events after an id and audit pages newest first", async () => {
      const db = await open();
      await seedTenants(db);
      const j = new SqlJournal(db);
      const stored = await j.record(
        [
          {
            tenantId: T1,
            at: 1,
            actor: "key:k1",
            action: "token.issue",
            roomId: "r1",
            targetUserId: "u1",
            target: "g1",
            reason: "why",
            detail: { n: [1, "x"] },
          },
          { tenantId: T1, at: 2, actor: "user:u9", action: "role.grant" },
        ],
        [
          { tenantId: T1, type: EventType.MEMBER_JOINED, roomId: "r1", userId: "u1", actor: "key:k1", at: 1 },
          {
            tenantId: T1,
            type: EventType.ROLE_GRANTED,
            roomId: "r2",
            actor: "system",
            at: 2,
            reason: "lapsed",
            until: 99,
            role: "x",
            tokenId: "t",
            messageId: "m",
            spaceId: "s2",
            inviteId: "i2",
          },
          { tenantId: T2, type: EventType.CHAT_KICKED, roomId: "r1", actor: "key:k2", at: 3 },
        ],
      );
      expect(stored.map((e) => e.id)).toEqual([...stored.map((e) => e.id)].sort((a, b) => a - b));
      expect(new Set(stored.map((e) => e.id)).size).toBe(3);
      const [e1, e2] = stored;
      const all = await j.eventsAfter(T1, undefined, 0, 10);
      expect(all).toEqual([
        {
          id: e1!.id,
          tenantId: T1,
          type: EventType.MEMBER_JOINED,
          roomId: "r1",
          userId: "u1",
          actor: "key:k1",
          at: 1,
          reason: "",
          tokenId: "",
          messageId: "",
          role: "",
          until: null,
          spaceId: "",
          inviteId: "",
        },
        {
          id: e2!.id,
          tenantId: T1,
          type: EventType.ROLE_GRANTED,
          roomId: "r2",
          userId: "",
          actor: "system",
          at: 2,
          reason: "lapsed",
          tokenId: "t",
          messageId: "m",
          role: "x",
          until: 99,
          spaceId: "s2",
          inviteId: "i2",
        },
      ]);
      expect((await j.eventsAfter(T1, "r2", 0, 10)).map((e) => e.id)).toEqual([e2!.id]);
      expect((await j.eventsAfter(T1, undefined, e1!.id, 10)).map((e) => e.id)).toEqual([e2!.id]);
      expect((await j.eventsAfter(T1, undefined, 0, 1)).map((e) => e.id)).toEqual([e1!.id]);

      const audit = await j.listAudit({ tenantId: T1, limit: 10 });
      expect(audit.map((a) => a.action)).toEqual(["role.grant", "token.issue"]);
      expect(audit[1]).toEqual({
        id: audit[1]!.id,
        tenantId: T1,
        at: 1,
        actor: "key:k1",
        action: "token.issue",
        roomId: "r1",
        targetUserId: "u1",
        target: "g1",
        reason: "why",
        detail: { n: [1, "x"] },
      });
      expect(audit[0]).toMatchObject({ roomId: "", targetUserId: "", target: "", reason: "", detail: {} });
      expect(await j.record([], [])).toEqual([]);
    });

    it("filters and pages a large audit log by id", async () => {
      const db = await open();
      await seedTenants(db);
      const j = new SqlJournal(db);
      const rows = Array.from({ length: 1_050 }, (_, i) => ({
        tenantId: i % 10 === 0 ? T2 : T1,
        at: i,
        actor: "key:k1" as const,
        action: i % 2 === 0 ? "even" : "odd",
        roomId: i % 3 === 0 ? "r3" : "r",
        targetUserId: `u${i % 5}`,
      }));
      await j.record(rows, []);
      expect(await count(db, "audit_log")).toBe(1_050);
      const want = rows.filter(
        (a) =>
          a.tenantId === T1 &&
          a.action === "odd" &&
          a.roomId === "r3" &&
          a.targetUserId === "u1" &&
          a.at >= 100 &&
          a.at < 900,
      );
      const got: number[] = [];
      let beforeId: number | undefined;
      for (;;) {
        const page = await j.listAudit({
          tenantId: T1,
          action: "odd",
          roomId: "r3",
          userId: "u1",
          since: 100,
          until: 900,
          beforeId,
          limit: 4,
        });
        got.push(...page.map((a) => a.at));
        if (page.length < 4) break;
        beforeId = page[page.length - 1]!.id;
      }
      expect(got).toEqual(want.map((a) => a.at).reverse());
      expect(got.length).toBeGreaterThan(4);
    });

    it("concurrent writers each get their own id; the log returns every event once, in id order", async () => {
      const db = await open();
      await seedTenants(db);
      const j = new SqlJournal(db);
      const writers = 40;
      const ids = await Promise.all(
        Array.from({ length: writers }, (_, i) =>
          db.write(async () => {
            const [e] = await j.record(
              [],
              [{ tenantId: T1, type: EventType.MEMBER_JOINED, actor: "key:k1", at: i, messageId: `w${i}` }],
            );
            return e!.id;
          }),
        ),
      );
      expect(new Set(ids).size).toBe(writers);
      const log = await j.eventsAfter(T1, undefined, 0, 1_000);
      expect(log.map((e) => e.id)).toEqual([...ids].sort((a, b) => a - b));
      expect(new Set(log.map((e) => e.messageId)).size).toBe(writers);
    });
  });

  describe("SqlMaintenanceStore", () => {
    it("prunes expired grants and token revocations in batches, keeping live rows and watermarks", async () => {
      const db = await open();
      await seedTenants(db);
      await droppingEffects(new SqlGrantStore(db)).recordGrants([
        ...Array.from({ length: 10 }, (_, i) => grant(`old${i}`, { expiresAt: 100 + i })),
        grant("at-now", { expiresAt: 200 }),
        grant("live", { expiresAt: 201 }),
      ]);
      const m = new SqlModerationStore(db);
      await m.addRevocation({ kind: "token", tenantId: T1, tokenId: "old", at: 1 }, 150);
      await m.addRevocation({ kind: "token", tenantId: T1, tokenId: "live", at: 1 }, 500);
      await m.addRevocation({ kind: "user", tenantId: T1, userId: "u", at: 1 }, null);
      const maintenance = new SqlMaintenanceStore(db);
      const target = maintenance.expiredGrants(200);
      expect(target.name).toBe("grants");
      expect(await target.count()).toBe(11);
      const progress: Array<[number, number]> = [];
      const pauses: number[] = [];
      const n = await pruneInBatches(
        target,
        4,
        (done, total) => progress.push([done, total]),
        async (ms) => void pauses.push(ms),
      );
      expect(n).toBe(11);
      expect(progress).toEqual([
        [4, 11],
        [8, 11],
        [11, 11],
      ]);
      expect(pauses).toHaveLength(2);
      expect(await droppingEffects(new SqlGrantStore(db)).countGrants()).toBe(1);
      expect(await droppingEffects(new SqlGrantStore(db)).findGrant("live")).toBeDefined();

      expect(
        await pruneInBatches(maintenance.expiredTokenRevocations(200), 100, undefined, async () => undefined),
      ).toBe(1);
      expect((await m.liveRevocations(0)).map((r) => r.kind)).toEqual(["token", "user"]);
      await expect(pruneInBatches(target, 0)).rejects.toThrow(RangeError);
    });

    it("prunes audit entries and events older than a cutoff", async () => {
      const db = await open();
      await seedTenants(db);
      const j = new SqlJournal(db);
      await j.record(
        Array.from({ length: 6 }, (_, i) => ({ tenantId: T1, at: i * 10, actor: "key:k1" as const, action: "a" })),
        Array.from({ length: 6 }, (_, i) => ({
          tenantId: T1,
          type: EventType.MEMBER_JOINED,
          actor: "key:k1" as const,
          at: i * 10,
        })),
      );
      const m = new SqlMaintenanceStore(db);
      expect(await m.auditBefore(30).count()).toBe(3);
      expect(await m.auditBefore(30).deleteBatch(2)).toBe(2);
      expect(await m.auditBefore(30).deleteBatch(2)).toBe(1);
      expect((await j.listAudit({ tenantId: T1, limit: 10 })).map((a) => a.at)).toEqual([50, 40, 30]);
      expect(await pruneInBatches(m.eventsBefore(40), 10, undefined, async () => undefined)).toBe(4);
      expect((await j.eventsAfter(T1, undefined, 0, 10)).map((e) => e.at)).toEqual([40, 50]);
    });
  });
});
