import { describe, expect, it } from "vitest";
import { type Column, getTableName } from "drizzle-orm";
import { getTableConfig as pgConfig, type PgTable } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import * as pgSchema from "../../src/store/pg/schema.js";
import * as sqliteSchema from "../../src/store/schema.js";
import { defineTables } from "../../src/store/tables/index.js";
import { sqliteBuilders } from "../../src/store/tables/sqlite-builders.js";

// Both dialects' tables come from one definition (src/store/tables/), and CI
// checks that drizzle-kit generates no migration from either (the drift
// check). What is left to hold together: that each schema module exports
// every defined table (drizzle-kit sees only exports), and that the two
// dialects' builders agree on everything but the column types.

/** A column as both dialects must agree on it. */
function columnShape(col: Column, generated: boolean) {
  return { name: col.name, notNull: col.notNull, hasDefault: col.hasDefault || generated, primary: col.primary };
}

/** What both dialects must agree on in a table: columns, keys and indexes, not types. */
function sqliteShape(table: SQLiteTable) {
  const c = sqliteConfig(table);
  return {
    // INTEGER PRIMARY KEY is SQLite's rowid: the database assigns it.
    columns: c.columns.map((col) => columnShape(col, col.primary && col.getSQLType() === "integer")),
    primaryKeys: c.primaryKeys.map((k) => k.columns.map((x) => x.name)),
    foreignKeys: c.foreignKeys.map((fk) => fk.getName()),
    indexes: c.indexes.map((i) => [i.config.name, i.config.unique, i.config.where !== undefined]),
  };
}

function pgShape(table: PgTable) {
  const c = pgConfig(table);
  return {
    // ALWAYS: nothing may insert its own id and put the sequence behind.
    columns: c.columns.map((col) => columnShape(col, col.generatedIdentity?.type === "always")),
    primaryKeys: c.primaryKeys.map((k) => k.columns.map((x) => x.name)),
    foreignKeys: c.foreignKeys.map((fk) => fk.getName()),
    indexes: c.indexes.map((i) => [i.config.name, i.config.unique, i.config.where !== undefined]),
  };
}

const defined = Object.keys(defineTables(sqliteBuilders)).sort();
const sqliteTables = sqliteSchema as Record<string, SQLiteTable>;
const pgTables = pgSchema as Record<string, PgTable>;

describe("the table definition", () => {
  it("is exported whole, and nothing else, by both schema modules", () => {
    expect(defined.length).toBeGreaterThan(10);
    expect(Object.keys(sqliteSchema).sort()).toEqual(defined);
    expect(Object.keys(pgSchema).sort()).toEqual(defined);
  });

  it.each(defined)("builds %s alike on both dialects", (name) => {
    expect(getTableName(pgTables[name]!)).toBe(getTableName(sqliteTables[name]!));
    expect(pgShape(pgTables[name]!)).toEqual(sqliteShape(sqliteTables[name]!));
  });

  it("reads JSON text columns back as values on both dialects", () => {
    for (const col of [sqliteSchema.grants.permissions, pgSchema.grants.permissions]) {
      expect(col.mapToDriverValue([1, 5])).toBe("[1,5]");
      expect(col.mapFromDriverValue("[1,5]")).toEqual([1, 5]);
    }
  });
});
