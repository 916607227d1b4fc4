import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { RoomgateError } from "../../src/domain/errors.js";
import type { NewUser } from "../../src/domain/users/users.js";
import type { Database } from "../../src/store/database-port.js";
import { SqlTenantStore } from "../../src/store/tenant-store.js";
import { SqlUserStore } from "../../src/store/user-store.js";
import { isUniqueViolation } from "../../src/store/sql-errors.js";
import { DATABASES } from "./databases.js";
import { newUser } from "../support/builders.js";

const tenantId = "acme";

async function setup(db: Database): Promise<void> {
  await new SqlTenantStore(db).createTenant(
    { id: tenantId, name: "acme", createdAt: 1 },
    { id: "k", hash: new Uint8Array(32), label: "t" },
  );
}

function row(id: string, username: string, createdAt: number, kind: NewUser["kind"] = "registered"): NewUser {
  return newUser(id, tenantId, { kind, username, createdAt });
}

/** A row as written before usernames had a key: no username_key, around the store. */
async function insertLegacy(db: Database, r: NewUser): Promise<void> {
  await db.run(
    sql`insert into users (id, tenant_id, kind, username, tenant_moderator, created_at)
        values (${r.id}, ${r.tenantId}, ${r.kind}, ${r.username}, ${false}, ${r.createdAt})`,
  );
}

async function keys(db: Database): Promise<Record<string, unknown>> {
  const rows = await db.all(sql`select id as "id", username_key as "k" from users`);
  return Object.fromEntries(rows.map((x) => [x.id, x.k]));
}

describe.each(DATABASES)("username_key on %s (issue 7 point 16)", (_name, open) => {
  it("the unique index refuses a case variant even without the store's checks (the race between writers)", async () => {
    const db = await open();
    await setup(db);
    const s = new SqlUserStore(db);
    await s.insertUser(row("u1", "Ann", 1));
    // Around the store: the index itself, not a check, refuses it.
    let err: unknown;
    try {
      await db.run(
        sql`insert into users (id, tenant_id, kind, username, username_key, tenant_moderator, created_at)
            values (${"u2"}, ${tenantId}, ${"registered"}, ${"aNN"}, ${"ann"}, ${false}, ${2})`,
      );
    } catch (e) {
      err = e;
    }
    expect(isUniqueViolation(err)).toBe(true);
    // Through the store: already_exists naming the field.
    err = undefined;
    try {
      await s.insertUser(row("u3", "aNN", 3));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RoomgateError);
    expect([(err as RoomgateError).kind, (err as RoomgateError).message]).toEqual([
      "already_exists",
      "username: already taken",
    ]);
    // Guests and seed 003 users carry display names: no key, no uniqueness.
    await s.insertUser(row("g1", "ann", 4, "guest"));
    await s.insertUser(row("c1", "ann", 5, "consumer"));
    expect((await keys(db)).g1).toBeNull();
    expect((await s.findRegisteredByUsername(tenantId, "ANN"))?.id).toBe("u1");
  });

  it("backfillUsernameKeys gives old rows their key; the oldest of two case variants wins, the other still logs in by its exact name", async () => {
    const db = await open();
    await setup(db);
    for (const r of [
      row("old-Ann", "Ann", 1),
      row("old-ann", "ann", 2),
      row("old-bob", "Bob", 3),
      row("c", "Carl", 4, "consumer"),
    ])
      await insertLegacy(db, r);
    const s = new SqlUserStore(db);
    expect(await s.backfillUsernameKeys()).toBe(2);
    const after = await keys(db);
    expect(after).toEqual({ "old-Ann": "ann", "old-ann": null, "old-bob": "bob", c: null });
    expect((await s.findRegisteredByUsername(tenantId, "ann"))?.id).toBe("old-ann");
    expect((await s.findRegisteredByUsername(tenantId, "Ann"))?.id).toBe("old-Ann");
    expect((await s.findRegisteredByUsername(tenantId, "ANN"))?.id).toBe("old-Ann");
    expect((await s.findRegisteredByUsername(tenantId, "bOB"))?.id).toBe("old-bob");
    expect(await s.registeredUsernameTaken(tenantId, "BOB")).toBe(true);
    expect(await s.registeredUsernameTaken(tenantId, "carl")).toBe(false);
    // The legacy variant without a key still counts as taken by its exact name.
    let err: unknown;
    try {
      await s.insertUser(row("new-ann", "ann", 9));
    } catch (e) {
      err = e;
    }
    expect((err as RoomgateError).message).toBe("username: already taken");
    // Running it again changes nothing.
    expect(await s.backfillUsernameKeys()).toBe(0);
    expect(await keys(db)).toEqual(after);
  });
});
