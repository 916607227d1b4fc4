import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { afterEach, describe, expect, it } from "vitest";
import { openSqliteFile } from "../../src/store/sqlite-file.js";
import { testStore } from "../support/server.js";

// Issue 9 makes spaces.owner_user_id nullable. On SQLite that rebuilds the
// spaces table, inside the migrator's transaction where foreign keys stay
// on: the committed migration keeps the rows that reference spaces aside
// and puts them back. This upgrades a database holding spaces, rooms,
// members and invites and checks nothing was lost. (PostgreSQL drops NOT
// NULL in place.)

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(testStore() !== "sqlite")("the spaces_management migration on SQLite", () => {
  it("keeps every space, room, member and invite of an existing database", () => {
    const dir = mkdtempSync(join(tmpdir(), "roomgate-migration-"));
    dirs.push(dir);
    // The migrations as they were before issue 9.
    const before = join(dir, "migrations");
    cpSync("migrations", before, { recursive: true });
    const journal = JSON.parse(readFileSync(join(before, "meta", "_journal.json"), "utf8")) as {
      entries: { tag: string }[];
    };
    const at = journal.entries.findIndex((e) => e.tag.endsWith("_spaces_management"));
    expect(at).toBeGreaterThan(0);
    journal.entries = journal.entries.slice(0, at);
    writeFileSync(join(before, "meta", "_journal.json"), JSON.stringify(journal));

    const path = join(dir, "roomgate.db");
    const old = new Database(path);
    old.pragma("foreign_keys = ON");
    migrate(drizzle(old), { migrationsFolder: before });
    old.exec(`
      insert into tenants (id, name, created_at) values ('t', 't', 1);
      insert into users (id, tenant_id, kind, username, created_at) values ('u', 't', 'registered', 'u', 1), ('v', 't', 'registered', 'v', 1);
      insert into spaces (id, tenant_id, name, is_public, owner_user_id, created_at) values ('s', 't', 'S', 1, 'u', 2);
      insert into rooms (tenant_id, id, space_id, name, is_public, creator_user_id, created_at) values ('t', 'r', 's', 'R', 0, 'u', 3), ('t', 'bare', null, '', 0, null, 3);
      insert into space_members (tenant_id, space_id, user_id, role, created_at) values ('t', 's', 'u', 'role_space_owner', 2), ('t', 's', 'v', 'role_space_user', 4);
      insert into invites (id, tenant_id, space_id, role, created_by, created_at, used_by, used_at) values ('i1', 't', 's', 'role_space_user', 'u', 4, 'v', 5), ('i2', 't', 's', 'role_space_moderator', 'u', 6, null, null);
    `);
    const snapshot = (db: Database.Database) => ({
      spaces: db.prepare("select id, tenant_id, name, is_public, owner_user_id, created_at from spaces").all(),
      rooms: db.prepare("select * from rooms order by id").all(),
      // Named columns: later migrations add columns (issue 19's expires_at) that the old database lacks.
      members: db
        .prepare("select tenant_id, space_id, user_id, role, created_at from space_members order by user_id")
        .all(),
      invites: db.prepare("select id, space_id, role, created_by, used_by, used_at from invites order by id").all(),
    });
    const was = snapshot(old);
    old.close();

    const sqlite = openSqliteFile(path);
    try {
      expect(snapshot(sqlite)).toEqual(was);
      expect(sqlite.pragma("foreign_key_check")).toEqual([]);
      expect(sqlite.prepare("select revoked_at from invites where id = 'i2'").get()).toEqual({
        revoked_at: null,
      });
      // The new shape: a space without an owner; foreign keys still hold.
      sqlite.exec(
        "insert into spaces (id, tenant_id, name, is_public, owner_user_id, created_at) values ('s2', 't', 'S2', 0, null, 7)",
      );
      expect(() =>
        sqlite.exec(
          "insert into rooms (tenant_id, id, space_id, name, is_public, created_at) values ('t', 'x', 'nope', '', 0, 8)",
        ),
      ).toThrow(/FOREIGN KEY/);
      // Members and invites still follow their space (rooms.space_id was
      // added by ALTER TABLE in 0001, without the cascade, and stays so).
      sqlite.exec("delete from rooms where space_id = 's'");
      sqlite.exec("delete from spaces where id = 's'");
      expect(sqlite.prepare("select count(*) as n from space_members").get()).toEqual({ n: 0 });
      expect(sqlite.prepare("select count(*) as n from invites").get()).toEqual({ n: 0 });
    } finally {
      sqlite.close();
    }
  });
});
