import { sql } from "drizzle-orm";
import { randomBytes } from "node:crypto";
import { describe, expect, it, onTestFinished } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { RevocationIndex } from "../../src/domain/tokens/revocations.js";
import { SubjectTokens } from "../../src/domain/auth/subject-tokens.js";
import { createTenantWithKey } from "../../src/domain/auth/tenants.js";
import { RoomgateError } from "../../src/domain/errors.js";
import { ConsumerUsers } from "../../src/domain/users/consumer.js";
import {
  hashPassword,
  passwordChecksStarted,
  SCRYPT_PARAMS,
  verifyPassword,
} from "../../src/domain/users/passwords.js";
import { Sessions } from "../../src/domain/users/sessions.js";
import { LOGIN_FAILED, Users } from "../../src/domain/users/users.js";
import {
  validateEmail,
  validateMeta,
  validatePassword,
  validatePhone,
  validateProfilePic,
  validateUsername,
} from "../../src/domain/users/validation.js";
import { Keyring } from "../../src/domain/tokens/keyring.js";
import { generateTokenKey } from "../../src/domain/tokens/keyring.js";
import { TokenCodec, TokenKind } from "../../src/domain/tokens/token-codec.js";
import { num } from "../../src/store/database-port.js";
import { SqlMembershipStore } from "../../src/store/membership-store.js";
import { SqlModerationStore } from "../../src/store/moderation-store.js";
import { SqlSessionStore } from "../../src/store/session-store.js";
import { SqlTenantStore } from "../../src/store/tenant-store.js";
import { SqlUserStore } from "../../src/store/user-store.js";
import { DATABASES } from "../store/databases.js";
import { newUser } from "../support/builders.js";
import { wireDomain } from "../support/domain-kit.js";

/** The RoomgateError `fn` throws (sync or async), or a test failure. */
async function errorOf(fn: () => unknown): Promise<RoomgateError> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(err, "should have thrown").toBeInstanceOf(RoomgateError);
  return err as RoomgateError;
}

const open = DATABASES[0]![1];

/**
 * The domain over a fresh store with one tenant, wired as a replica wires
 * it: one write transaction, the journal, and the change feed announcing
 * what was written (to `announced`).
 */
async function setup() {
  const db = await open();
  const tenants = new SqlTenantStore(db);
  const { tenant, keyId } = await createTenantWithKey(tenants, "acme", 1);
  const codec = new TokenCodec(new Keyring([{ ...generateTokenKey(1), state: "active" }]));
  const userTokens = new SubjectTokens(codec, TokenKind.UserAccess, Date.now, new RevocationIndex());
  const userStore = new SqlUserStore(db);
  const memberships = new SqlMembershipStore(db);
  const { feed, sink, transact, announced: announcedOf } = wireDomain(db);
  const announced = announcedOf(tenant.id);
  onTestFinished(() => feed.stop());
  const opts = { tokenTtlSeconds: 3600 };
  const clock = () => 1_000;
  return {
    db,
    tenantId: tenant.id,
    keyId,
    userTokens,
    memberships,
    userStore,
    announced,
    users: new Users(
      userStore,
      new Sessions({
        ...{ store: new SqlSessionStore(db), revocationStore: new SqlModerationStore(db) },
        ...{ revocations: new RevocationIndex(), tokens: userTokens, transact, sink, clock },
        options: { accessTtlSeconds: 3600, sessionTtlSeconds: 86_400, longestTokenTtlSeconds: 3600 },
      }),
      { accessTtlSeconds: 3600, sessionTtlSeconds: 86_400 },
      clock,
      transact,
    ),
    consumers: new ConsumerUsers(userStore, memberships, userTokens, opts, clock, sink, transact),
    userCount: async () => num((await db.get(sql`select count(*) as "n" from users`))!.n),
  };
}

describe("passwords", () => {
  it("hashes with salted scrypt in the documented format", async () => {
    const h = await hashPassword("gmi28abc");
    const parts = h.split("$");
    expect(parts).toHaveLength(6);
    expect(parts.slice(0, 4)).toEqual([
      "scrypt",
      String(SCRYPT_PARAMS.N),
      String(SCRYPT_PARAMS.r),
      String(SCRYPT_PARAMS.p),
    ]);
    expect(parts.slice(0, 4)).toEqual(["scrypt", "16384", "8", "1"]);
    expect(Buffer.from(parts[4]!, "base64url")).toHaveLength(16);
    expect(Buffer.from(parts[5]!, "base64url")).toHaveLength(32);
    expect(h).not.toContain("gmi28abc");
  });

  it("salts: the same password hashes differently each time", async () => {
    const [a, b] = await Promise.all([hashPassword("same password"), hashPassword("same password")]);
    expect(a).not.toBe(b);
    expect(a.split("$")[4]).not.toBe(b.split("$")[4]);
  });

  it("verifies the right password only", async () => {
    const h = await hashPassword("correct horse");
    expect(await verifyPassword("correct horse", h)).toBe(true);
    expect(await verifyPassword("correct hors", h)).toBe(false);
    expect(await verifyPassword("correct horse ", h)).toBe(false);
    expect(await verifyPassword("Correct horse", h)).toBe(false);
  });

  it("says no, without throwing, for no hash or a malformed or tampered one", async () => {
    const h = await hashPassword("correct horse");
    expect(await verifyPassword("correct horse", undefined)).toBe(false);
    expect(await verifyPassword("correct horse", "")).toBe(false);
    expect(await verifyPassword("correct horse", "plain:correct horse")).toBe(false);
    expect(await verifyPassword("correct horse", h.replace("scrypt$16384", "scrypt$16383"))).toBe(false);
    // A huge N in a tampered row must not make the login allocate gigabytes.
    expect(await verifyPassword("correct horse", h.replace("scrypt$16384", "scrypt$1073741824"))).toBe(false);
    const parts = h.split("$");
    parts[5] = Buffer.alloc(32).toString("base64url");
    expect(await verifyPassword("correct horse", parts.join("$"))).toBe(false);
  });

  it("checks the stored parameters, not the defaults (older hashes keep working)", async () => {
    // A hash made with other parameters, built by hand from node:crypto.
    const { scryptSync } = await import("node:crypto");
    const salt = randomBytes(16);
    const hash = scryptSync("legacy pw!", salt, 32, { N: 1024, r: 8, p: 1 });
    const stored = `scrypt$1024$8$1$${salt.toString("base64url")}$${hash.toString("base64url")}`;
    expect(await verifyPassword("legacy pw!", stored)).toBe(true);
    expect(await verifyPassword("legacy pw?", stored)).toBe(false);
  });
});

describe("validation", () => {
  it("usernames: 1–64 characters, no control characters", () => {
    expect(validateUsername("Some Username Here")).toBe("Some Username Here");
    expect(validateUsername("x".repeat(64))).toHaveLength(64);
    // 64 astral characters are 128 UTF-16 units but 64 characters.
    expect(validateUsername("😀".repeat(64))).toBe("😀".repeat(64));
    expect(() => validateUsername("")).toThrow("username: must not be empty");
    expect(() => validateUsername("   ")).toThrow("username: must not be empty");
    expect(() => validateUsername("x".repeat(65))).toThrow("username: must be at most 64 characters");
    expect(() => validateUsername("bad\nname")).toThrow("username: must not contain control characters");
    expect(() => validateUsername("bad\u0000name")).toThrow(/control/);
    // A bidi override would let "nimda" render as "admin".
    expect(() => validateUsername("bad\u202Ename")).toThrow(/control/);
    expect(() => validateUsername("Zoë Ω")).not.toThrow();
  });

  it("usernames are NFC-normalised", () => {
    expect(validateUsername("Jose\u0301")).toBe("Jos\u00e9");
  });

  it("passwords: 8–256 characters", () => {
    expect(validatePassword("gmi28abc")).toBe("gmi28abc");
    expect(validatePassword("p".repeat(256))).toHaveLength(256);
    expect(() => validatePassword("gmi28ab")).toThrow("password: must be at least 8 characters");
    expect(() => validatePassword("")).toThrow(/at least 8/);
    expect(() => validatePassword("p".repeat(257))).toThrow("password: must be at most 256 characters");
  });

  it("emails: sane addresses only, lower-cased", () => {
    for (const ok of [
      "a@b.co",
      "first.last+tag@mail.example.com",
      "X_Y@Sub-Domain.Example.ORG",
      "u@xn--p1ai.xn--p1ai",
    ]) {
      expect(validateEmail(ok)).toBe(ok.toLowerCase());
    }
    for (const bad of [
      "",
      "plain",
      "@example.com",
      "user@",
      "user@localhost",
      "user@@example.com",
      "us er@example.com",
      ".user@example.com",
      "user.@example.com",
      "us..er@example.com",
      "user@-example.com",
      "user@example..com",
      "user@example.com.",
      "user@1.2.3.4",
      "User <user@example.com>",
      "user@example.com\n",
      `${"a".repeat(65)}@example.com`,
      `a@${"b".repeat(250)}.com`,
    ]) {
      expect(() => validateEmail(bad), bad).toThrow(RoomgateError);
    }
  });

  it("phones: E.164 or nothing", () => {
    expect(validatePhone("")).toBeUndefined();
    expect(validatePhone("+79671234567")).toBe("+79671234567");
    for (const bad of [
      "79671234567",
      "+0123456789",
      "+12345",
      "+1234567890123456",
      "+7 967 123 45 67",
      "+7-967-1234567",
    ]) {
      expect(() => validatePhone(bad), bad).toThrow("phone: must be in E.164 form, e.g. +79671234567");
    }
  });

  it("profile pictures: https URLs only", () => {
    expect(validateProfilePic("")).toBeUndefined();
    expect(validateProfilePic("https://cdn.example.com/a.png")).toBe("https://cdn.example.com/a.png");
    for (const bad of [
      "http://cdn.example.com/a.png",
      "javascript:alert(1)",
      "data:image/png;base64,AAAA",
      "//cdn.example.com/a.png",
      "not a url",
      "https://user:pw@cdn.example.com/a.png",
    ]) {
      expect(() => validateProfilePic(bad), bad).toThrow(RoomgateError);
    }
  });

  it("meta: at most 4096 bytes of UTF-8", () => {
    expect(validateMeta("m".repeat(4096))).toHaveLength(4096);
    expect(() => validateMeta("m".repeat(4097))).toThrow("meta: must be at most 4096 bytes");
    // 2,049 two-byte characters are 4,098 bytes.
    expect(() => validateMeta("é".repeat(2049))).toThrow(/4096 bytes/);
  });
});

describe("Users (registered, seed 001)", () => {
  it("registers, then logs in with the password only", async () => {
    const d = await setup();
    const { id } = await d.users.register(d.tenantId, {
      email: "Jon@Example.com",
      username: "jon",
      password: "gmi28abc",
      phone: "+79671234567",
    });
    const row = (await d.db.get(
      sql`select id as "id", tenant_id as "tenantId", kind as "kind", username as "username", email as "email", phone as "phone",
                 password_hash as "passwordHash" from users`,
    ))!;
    expect(row).toMatchObject({
      id,
      tenantId: d.tenantId,
      kind: "registered",
      username: "jon",
      email: "jon@example.com",
      phone: "+79671234567",
    });
    expect(row.passwordHash).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(row.passwordHash).not.toContain("gmi28abc");

    const r = await d.users.login(d.tenantId, "jon", "gmi28abc");
    expect(r.userId).toBe(id);
    expect(r.ttlSeconds).toBe(3600);
    expect(d.userTokens.verify(r.accessToken)).toMatchObject({ tenantId: d.tenantId, userId: id, roomId: "" });
  });

  it("a wrong password and an unknown user fail alike", async () => {
    const d = await setup();
    await d.users.register(d.tenantId, { email: "a@example.com", username: "ann", password: "password-1", phone: "" });
    const wrong = await errorOf(() => d.users.login(d.tenantId, "ann", "password-2"));
    const unknown = await errorOf(() => d.users.login(d.tenantId, "bob", "password-1"));
    const otherTenant = await errorOf(() => d.users.login("no-such-tenant", "ann", "password-1"));
    for (const e of [wrong, unknown, otherTenant]) {
      expect(e.kind).toBe("unauthenticated");
      expect(e.message).toBe(LOGIN_FAILED);
    }
  });

  it("an unknown user costs a hash too, so timing does not tell which usernames exist", async () => {
    const d = await setup();
    await d.users.register(d.tenantId, { email: "a@example.com", username: "ann", password: "password-1", phone: "" });
    // Each login runs one scrypt check at our cost parameters, whether the
    // user exists or not (the dummy hash); the times themselves are
    // measured by bench/login-timing.ts.
    const checks = async (username: string) => {
      const before = passwordChecksStarted();
      await errorOf(() => d.users.login(d.tenantId, username, "wrong-password"));
      return passwordChecksStarted() - before;
    };
    for (let i = 0; i < 5; i++) {
      expect(await checks("ann")).toBe(1);
      expect(await checks(`nobody-${i}`)).toBe(1);
    }
  });

  it("refuses duplicates per tenant and writes nothing for any refusal", async () => {
    const d = await setup();
    await d.users.register(d.tenantId, { email: "a@example.com", username: "ann", password: "password-1", phone: "" });
    const before = await d.userCount();
    const dupName = await errorOf(() =>
      d.users.register(d.tenantId, { email: "b@example.com", username: "ann", password: "password-1", phone: "" }),
    );
    expect([dupName.kind, dupName.message]).toEqual(["already_exists", "username: already taken"]);
    const dupMail = await errorOf(() =>
      d.users.register(d.tenantId, { email: "A@EXAMPLE.COM", username: "bob", password: "password-1", phone: "" }),
    );
    expect([dupMail.kind, dupMail.message]).toEqual(["already_exists", "email: already registered"]);
    const badPhone = await errorOf(() =>
      d.users.register(d.tenantId, { email: "c@example.com", username: "cid", password: "password-1", phone: "12" }),
    );
    expect(badPhone.kind).toBe("invalid_argument");
    expect(await d.userCount()).toBe(before);
  });

  it("the store maps a unique-index violation to already_exists (the race the pre-check cannot see)", async () => {
    const d = await setup();
    const store = d.userStore;
    const user = (id: string, username: string, email: string) =>
      newUser(id, d.tenantId, { username, email, passwordHash: "scrypt$x" });
    await store.insertUser(user("u1", "ann", "a@example.com"));
    let err: unknown;
    try {
      await store.insertUser(user("u2", "ann", "b@example.com"));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RoomgateError);
    expect((err as RoomgateError).kind).toBe("already_exists");
    expect((err as RoomgateError).message).toBe("username: already taken");
    try {
      await store.insertUser(user("u3", "bob", "a@example.com"));
    } catch (e) {
      err = e;
    }
    expect((err as RoomgateError).message).toBe("email: already registered");
  });
});

describe("Users: concurrent registrations", () => {
  it("one name raced by many registrations (any case): exactly one wins, the others are already_exists, one row", async () => {
    const d = await setup();
    const names = ["ann", "Ann", "ANN", "aNn", "ann", "anN", "AnN", "ann"];
    const outcomes = await Promise.allSettled(
      names.map((username, i) =>
        d.users.register(d.tenantId, { email: `a${i}@example.com`, username, password: "password-1", phone: "" }),
      ),
    );
    const won = outcomes.filter((o) => o.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const o of outcomes) {
      if (o.status === "rejected") {
        expect(o.reason).toBeInstanceOf(RoomgateError);
        expect([(o.reason as RoomgateError).kind, (o.reason as RoomgateError).message]).toEqual([
          "already_exists",
          "username: already taken",
        ]);
      }
    }
    expect(await d.userCount()).toBe(1);
  });
});

describe("ConsumerUsers (seed 003)", () => {
  const base = {
    chatRoom: "",
    externalUserId: "",
    isModerator: false,
    email: "",
    profilePic: "",
    meta: "",
    username: "jon",
    uniqueUserIdentifier: "",
  };

  it("room moderator, tenant moderator and room user", async () => {
    const d = await setup();
    const caller = { tenantId: d.tenantId, keyId: d.keyId };
    const roomMod = await d.consumers.createOrLogin(caller, { ...base, isModerator: true, chatRoom: "room-1" });
    expect(roomMod.isModerator).toBe(true);
    expect(await d.memberships.roomRolesOf(d.tenantId, roomMod.userId, "room-1")).toMatchObject({
      roomRole: "consumer_room_moderator",
      spaceRole: undefined,
      tenantModerator: false,
    });
    expect((await d.memberships.roomRolesOf(d.tenantId, roomMod.userId, "room-2")).roomRole).toBeUndefined();

    const tenantMod = await d.consumers.createOrLogin(caller, { ...base, isModerator: true });
    expect((await d.memberships.roomRolesOf(d.tenantId, tenantMod.userId, "any-room")).tenantModerator).toBe(true);

    const user = await d.consumers.createOrLogin(caller, { ...base, chatRoom: "room-1" });
    expect(user.isModerator).toBe(false);
    expect(await d.memberships.roomRolesOf(d.tenantId, user.userId, "room-1")).toMatchObject({
      roomRole: "role_room_user",
      spaceRole: undefined,
      tenantModerator: false,
    });
  });

  it("the same identifier is the same user; isModerator false demotes a tenant moderator", async () => {
    const d = await setup();
    const caller = { tenantId: d.tenantId, keyId: d.keyId };
    const first = await d.consumers.createOrLogin(caller, {
      ...base,
      isModerator: true,
      uniqueUserIdentifier: "ext-1",
    });
    const again = await d.consumers.createOrLogin(caller, { ...base, username: "", uniqueUserIdentifier: "ext-1" });
    expect(again.userId).toBe(first.userId);
    expect(again.created).toBe(false);
    expect(again.username).toBe("jon");
    expect(again.accessToken).not.toBe(first.accessToken);
    expect((await d.memberships.roomRolesOf(d.tenantId, first.userId, "r")).tenantModerator).toBe(false);
    expect(await d.userCount()).toBe(1);
  });

  it("validates before writing: a refused request writes nothing", async () => {
    const d = await setup();
    const caller = { tenantId: d.tenantId, keyId: d.keyId };
    for (const [input, message] of [
      [{ ...base, profilePic: "http://x.example/a.png" }, "profile_pic: must be an https URL"],
      [{ ...base, meta: "m".repeat(4097) }, "meta: must be at most 4096 bytes"],
      [{ ...base, username: "" }, "username: must not be empty"],
      [{ ...base, username: "x".repeat(65) }, "username: must be at most 64 characters"],
      [{ ...base, email: "nope" }, "email: not a valid email address"],
      [{ ...base, chatRoom: "r".repeat(257) }, "chat_room: longer than 256 bytes"],
    ] as const) {
      const e = await errorOf(() => d.consumers.createOrLogin(caller, input));
      expect([e.kind, e.message]).toEqual(["invalid_argument", message]);
    }
    expect(await d.userCount()).toBe(0);
  });

  it("one identifier raced by many calls: one user, created once, its room role granted and announced once", async () => {
    const d = await setup();
    const caller = { tenantId: d.tenantId, keyId: d.keyId };
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        d.consumers.createOrLogin(caller, { ...base, uniqueUserIdentifier: "ext-race", chatRoom: "room-1" }),
      ),
    );
    expect(new Set(results.map((r) => r.userId)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await d.userCount()).toBe(1);
    expect((await d.memberships.roomRolesOf(d.tenantId, results[0]!.userId, "room-1")).roomRole).toBe("role_room_user");
    expect(d.announced.map((e) => [e.type, e.userId, e.roomId, e.role])).toEqual([
      [EventType.ROLE_GRANTED, results[0]!.userId, "room-1", "role_room_user"],
    ]);
  });
});
