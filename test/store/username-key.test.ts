import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createTenantWithKey } from "../../src/domain/auth/tenants.js";
import { RoomgateError } from "../../src/domain/errors.js";
import type { NewUser } from "../../src/domain/users/users.js";
import { openStore } from "../../src/store/db.js";
import { users } from "../../src/store/schema.js";
import { SqliteTenantStore } from "../../src/store/tenant-store.js";
import { SqliteUserStore } from "../../src/store/user-store.js";

function setup() {
  const store = openStore(":memory:");
  const { tenant } = createTenantWithKey(new SqliteTenantStore(store.db), "acme", 1);
  return { store, tenantId: tenant.id };
}

function row(tenantId: string, id: string, username: string, createdAt: number, kind: NewUser["kind"] = "registered"): NewUser {
  return {
    id,
    tenantId,
    kind,
    username,
    email: null,
    passwordHash: null,
    phone: null,
    externalUserId: null,
    uniqueUserIdentifier: null,
    profilePic: null,
    meta: null,
    tenantModerator: false,
    createdAt,
  };
}

describe("username_key (issue 7 point 16)", () => {
  it("the unique index refuses a case variant even without the pre-check (the race between workers)", () => {
    const { store, tenantId } = setup();
    const s = new SqliteUserStore(store.db);
    s.insertUser(row(tenantId, "u1", "Ann", 1));
    let err: unknown;
    try {
      s.insertUser(row(tenantId, "u2", "aNN", 2));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RoomgateError);
    expect([(err as RoomgateError).kind, (err as RoomgateError).message]).toEqual(["already_exists", "username: already taken"]);
    // Guests and seed 003 users carry display names: no key, no uniqueness.
    s.insertUser(row(tenantId, "g1", "ann", 3, "guest"));
    s.insertUser(row(tenantId, "c1", "ann", 4, "consumer"));
    expect(store.db.select({ k: users.usernameKey }).from(users).where(eq(users.id, "g1")).get()!.k).toBeNull();
    expect(s.findRegisteredByUsername(tenantId, "ANN")?.id).toBe("u1");
  });

  it("rows stored before the key get it when the store opens; the oldest of two case variants wins, the other still logs in by its exact name", () => {
    const { store, tenantId } = setup();
    // Legacy rows, written as before this change: no username_key.
    for (const r of [row(tenantId, "old-Ann", "Ann", 1), row(tenantId, "old-ann", "ann", 2), row(tenantId, "old-bob", "Bob", 3), row(tenantId, "c", "Carl", 4, "consumer")]) {
      store.db.insert(users).values(r).run();
    }
    const s = new SqliteUserStore(store.db);
    const keys = Object.fromEntries(store.db.select({ id: users.id, k: users.usernameKey }).from(users).all().map((x) => [x.id, x.k]));
    expect(keys).toEqual({ "old-Ann": "ann", "old-ann": null, "old-bob": "bob", c: null });
    expect(s.findRegisteredByUsername(tenantId, "ann")?.id).toBe("old-ann");
    expect(s.findRegisteredByUsername(tenantId, "Ann")?.id).toBe("old-Ann");
    expect(s.findRegisteredByUsername(tenantId, "ANN")?.id).toBe("old-Ann");
    expect(s.findRegisteredByUsername(tenantId, "bOB")?.id).toBe("old-bob");
    expect(s.registeredUsernameTaken(tenantId, "BOB")).toBe(true);
    expect(s.registeredUsernameTaken(tenantId, "carl")).toBe(false);
    // Opening again changes nothing.
    new SqliteUserStore(store.db);
    expect(Object.fromEntries(store.db.select({ id: users.id, k: users.usernameKey }).from(users).all().map((x) => [x.id, x.k]))).toEqual(keys);
  });
});
