import { describe, expect, it } from "vitest";
import { is, getTableName, SQL, type Column } from "drizzle-orm";
import { getTableConfig as sqliteConfig, SQLiteSyncDialect, SQLiteTable } from "drizzle-orm/sqlite-core";
import { getTableConfig as pgConfig, PgDialect, PgTable } from "drizzle-orm/pg-core";
import * as sqliteSchema from "../../src/store/schema.js";
import * as pgSchema from "../../src/store/pg/schema.js";

// The two stores must hold the same data the same way: same tables, columns,
// nullability, defaults, keys, foreign keys and indexes. Each schema is
// reduced to one plain shape — the SQLite one translated by the type rule of
// src/store/pg/schema.ts — and the shapes must be equal, so any drift shows
// up here as a diff naming the table and column.

/**
 * SQLite integer columns that PostgreSQL keeps as int4: small codes and
 * counts. Every other integer (Unix ms, ids) is int8.
 */
const PG_INT4 = new Set([
  "events.type",
  "access_links.use_count",
  "webhook_deliveries.event_type",
  "webhook_deliveries.attempts",
  "webhook_deliveries.last_status_code",
]);

interface ColumnShape {
  name: string;
  type: string;
  notNull: boolean;
  hasDefault: boolean;
  default: unknown;
  hasDefaultFn: boolean;
  primary: boolean;
  unique: boolean;
  /** Assigned by the database: SQLite's INTEGER PRIMARY KEY, PostgreSQL's identity. */
  generated: boolean;
  /** Written as JSON text and parsed on read. */
  json: boolean;
  enumValues: string[] | undefined;
}

interface TableShape {
  exportName: string;
  columns: ColumnShape[];
  primaryKey: string[];
  foreignKeys: { columns: string[]; table: string; foreignColumns: string[]; onDelete: string; onUpdate: string }[];
  indexes: { name: string; columns: string[]; unique: boolean; where: string | undefined }[];
  uniqueConstraints: number;
  checks: number;
}

const sqliteDialect = new SQLiteSyncDialect();
const pgDialect = new PgDialect();

/** Lower case, no identifier quotes or table prefixes, single spaces. */
function normalise(sqlText: string): string {
  return sqlText
    .replace(/["`]/g, "")
    .replace(/\b\w+\.(?=\w)/g, "")
    .replace(/\s+/g, " ")
    .trim()
    .toLowerCase();
}

function sqlText(value: unknown, dialect: SQLiteSyncDialect | PgDialect): unknown {
  return is(value, SQL) ? normalise(dialect.sqlToQuery(value).sql) : value;
}

/** Whether the column stores JSON text: writes stringify, reads parse. */
function isJson(col: Column): boolean {
  const value = { probe: [1] };
  return (
    col.mapToDriverValue(value) === JSON.stringify(value) &&
    JSON.stringify(col.mapFromDriverValue(JSON.stringify(value))) === JSON.stringify(value)
  );
}

/** The PostgreSQL type a SQLite column must have (the rule of src/store/pg/schema.ts). */
function pgTypeFor(table: string, col: Column): string {
  switch (col.columnType) {
    case "SQLiteText":
    case "SQLiteTextJson":
      return "text";
    case "SQLiteBoolean":
      return "boolean";
    case "SQLiteBlobBuffer":
      return "bytea";
    case "SQLiteInteger":
      return PG_INT4.has(`${table}.${col.name}`) ? "integer" : "bigint(number)";
    default:
      throw new Error(
        `${table}.${col.name}: no PostgreSQL mapping for ${col.columnType}; extend the rule here and in src/store/pg/schema.ts`,
      );
  }
}

/** The PostgreSQL type of a pg column; int8 only in number mode (a bigint-mode column would hand out JS bigints). */
function pgTypeOf(col: Column): string {
  const type = col.getSQLType();
  if (type !== "bigint") return type;
  return col.columnType === "PgBigInt53" ? "bigint(number)" : `bigint(${col.columnType})`;
}

function sqliteShape(exportName: string, table: SQLiteTable): TableShape {
  const c = sqliteConfig(table);
  const columns = c.columns.map((col): ColumnShape => {
    // INTEGER PRIMARY KEY is SQLite's rowid: the database assigns it.
    const generated = col.primary && col.columnType === "SQLiteInteger";
    return {
      name: col.name,
      type: pgTypeFor(c.name, col),
      notNull: col.notNull,
      hasDefault: col.hasDefault || generated,
      default: sqlText(col.default, sqliteDialect),
      hasDefaultFn: col.defaultFn !== undefined,
      primary: col.primary,
      unique: col.isUnique,
      generated,
      json: isJson(col),
      enumValues: col.enumValues,
    };
  });
  return {
    exportName,
    columns: sortBy(columns, (x) => x.name),
    primaryKey: primaryKeyOf(c.columns, c.primaryKeys),
    foreignKeys: sortBy(
      c.foreignKeys.map((fk) => {
        const ref = fk.reference();
        return {
          columns: ref.columns.map((x) => x.name),
          table: getTableName(ref.foreignTable),
          foreignColumns: ref.foreignColumns.map((x) => x.name),
          onDelete: fk.onDelete ?? "no action",
          onUpdate: fk.onUpdate ?? "no action",
        };
      }),
      (x) => x.columns.join(","),
    ),
    indexes: sortBy(
      c.indexes.map((i) => ({
        name: i.config.name,
        columns: i.config.columns.map((x) => (is(x, SQL) ? String(sqlText(x, sqliteDialect)) : x.name)),
        unique: i.config.unique,
        where: i.config.where ? String(sqlText(i.config.where, sqliteDialect)) : undefined,
      })),
      (x) => x.name,
    ),
    uniqueConstraints: c.uniqueConstraints.length,
    checks: c.checks.length,
  };
}

function pgShape(exportName: string, table: PgTable): TableShape {
  const c = pgConfig(table);
  const columns = c.columns.map((col): ColumnShape => {
    const identity = col.generatedIdentity;
    // ALWAYS: nothing may insert its own id and put the sequence behind.
    if (identity && identity.type !== "always")
      throw new Error(`${c.name}.${col.name}: identity must be GENERATED ALWAYS`);
    return {
      name: col.name,
      type: pgTypeOf(col),
      notNull: col.notNull,
      hasDefault: col.hasDefault,
      default: sqlText(col.default, pgDialect),
      hasDefaultFn: col.defaultFn !== undefined,
      primary: col.primary,
      unique: col.isUnique,
      generated: identity !== undefined,
      json: isJson(col),
      enumValues: col.enumValues,
    };
  });
  return {
    exportName,
    columns: sortBy(columns, (x) => x.name),
    primaryKey: primaryKeyOf(c.columns, c.primaryKeys),
    foreignKeys: sortBy(
      c.foreignKeys.map((fk) => {
        const ref = fk.reference();
        return {
          columns: ref.columns.map((x) => x.name),
          table: getTableName(ref.foreignTable),
          foreignColumns: ref.foreignColumns.map((x) => x.name),
          onDelete: fk.onDelete ?? "no action",
          onUpdate: fk.onUpdate ?? "no action",
        };
      }),
      (x) => x.columns.join(","),
    ),
    indexes: sortBy(
      c.indexes.map((i) => {
        const cfg = i.config;
        // Only plain b-tree indexes have a SQLite twin.
        if ((cfg.method ?? "btree") !== "btree" || cfg.concurrently || cfg.only)
          throw new Error(`${c.name}: index ${cfg.name} is not a plain b-tree index`);
        return {
          name: cfg.name ?? "(unnamed: drizzle would name it)",
          columns: cfg.columns.map((x) =>
            is(x, SQL) ? String(sqlText(x, pgDialect)) : ((x as { name?: string }).name ?? "?"),
          ),
          unique: cfg.unique,
          where: cfg.where ? String(sqlText(cfg.where, pgDialect)) : undefined,
        };
      }),
      (x) => x.name,
    ),
    uniqueConstraints: c.uniqueConstraints.length,
    checks: c.checks.length,
  };
}

/** The primary key's columns in key order, whether declared on a column or on the table. */
function primaryKeyOf(columns: Column[], tableKeys: { columns: Column[] }[]): string[] {
  const onColumns = columns.filter((x) => x.primary).map((x) => x.name);
  return [...onColumns, ...tableKeys.flatMap((k) => k.columns.map((x) => x.name))];
}

function sortBy<T>(items: T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function tablesOf<T>(
  mod: Record<string, unknown>,
  isTable: (x: unknown) => x is T,
): Map<string, { exportName: string; table: T }> {
  const out = new Map<string, { exportName: string; table: T }>();
  for (const [exportName, value] of Object.entries(mod)) {
    if (isTable(value)) out.set(getTableName(value as never), { exportName, table: value });
  }
  return out;
}

const sqliteTables = tablesOf(sqliteSchema, (x): x is SQLiteTable => is(x, SQLiteTable));
const pgTables = tablesOf(pgSchema, (x): x is PgTable => is(x, PgTable));

describe("the SQLite and PostgreSQL schemas", () => {
  it("have the same tables, exported under the same names", () => {
    expect(sqliteTables.size).toBeGreaterThan(10);
    const names = (m: Map<string, { exportName: string }>) => [...m].map(([t, v]) => `${v.exportName}=${t}`).sort();
    expect(names(pgTables)).toEqual(names(sqliteTables));
  });

  it.each([...sqliteTables.keys()].sort())("agree on table %s", (name) => {
    const lite = sqliteTables.get(name)!;
    const pg = pgTables.get(name);
    expect(pg, `table ${name} is missing from src/store/pg/schema.ts`).toBeDefined();
    expect(pgShape(pg!.exportName, pg!.table)).toEqual(sqliteShape(lite.exportName, lite.table));
  });

  it("keeps the partial unique index on registered usernames", () => {
    // Spot check that the comparison sees a where-clause at all.
    const index = pgShape("users", pgSchema.users).indexes.find((i) => i.name === "users_tenant_username_key_uq");
    expect(index).toEqual({
      name: "users_tenant_username_key_uq",
      columns: ["tenant_id", "username_key"],
      unique: true,
      where: "kind = 'registered'",
    });
  });

  it("reads JSON text columns back as values on both stores", () => {
    expect(isJson(pgSchema.grants.permissions)).toBe(true);
    expect(isJson(sqliteSchema.grants.permissions)).toBe(true);
    expect(isJson(pgSchema.grants.userId)).toBe(false);
  });
});
