import {
  bigint,
  boolean,
  customType,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import type { Builders, ColumnKinds } from "./builders.js";

// How PostgreSQL stores each column kind of the table definition (this
// folder), for src/store/pg/schema.ts. The tables, columns, nullability,
// defaults, keys and indexes are SQLite's (one definition); only the column
// types differ, by kind:
//
// - Unix ms and ids (`ms`) → `bigint` in number mode: ms outgrow int4 in
//   1970 + 24 days; ids and ms both stay far below 2^53 (see connect.ts).
// - Small codes and counts (`int`) → `integer`: sum() or arithmetic on int4
//   stays a JS number, where int8's would be numeric (a string in node-postgres).
// - Booleans → `boolean`; bytes → `bytea` (see {@link bytea}); JSON → `text`
//   (see {@link jsonText}).
// - Row ids → `bigint GENERATED ALWAYS AS IDENTITY` (see {@link rowId}).

/** Unix milliseconds (and other integers past int4), stored as int8 and read as a JS number. */
const int8 = (name: string) => bigint(name, { mode: "number" });

/**
 * An id the database assigns, like SQLite's `INTEGER PRIMARY KEY`. An identity
 * sequence never hands out a value twice, even after every row was deleted,
 * which is what `events` (AUTOINCREMENT in SQLite: watchers resume by id) needs;
 * `audit_log` and `revocations` get the same, since a reused id is never
 * wanted. ALWAYS, not BY DEFAULT: nothing may insert an id of its own and so
 * put the sequence behind. Unlike SQLite, ids may *commit* out of order under
 * concurrent writers (a sequence value is taken at insert, visible at commit).
 */
const rowId = (name: string) => int8(name).primaryKey().generatedAlwaysAsIdentity();

/** `bytea` as a Node Buffer, the twin of SQLite's `blob({ mode: "buffer" })`; drizzle 0.45 has no bytea builder. */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => "bytea",
});

/**
 * JSON kept in a `text` column, the twin of SQLite's `text({ mode: "json" })`:
 * written with JSON.stringify and parsed on read, so the repositories see the
 * same values on both stores. Not `jsonb`: the stored text (and so what the
 * audit log shows) stays byte-for-byte what SQLite stores, and nothing queries
 * inside these values.
 */
const jsonText = customType<{ data: unknown; driverData: string }>({
  dataType: () => "text",
  toDriver: (value) => JSON.stringify(value),
  fromDriver: (value) => JSON.parse(value) as unknown,
});

/** Each column kind as PostgreSQL stores it; `satisfies` checks each holds what its kind promises. */
const columns = {
  text: (name: string, config?: { enum: [string, ...string[]] }) => text(name, config),
  ms: int8,
  int: (name: string) => integer(name),
  bool: (name: string) => boolean(name),
  bytes: (name: string) => bytea(name),
  json: (name: string) => jsonText(name),
} satisfies { [K in keyof ColumnKinds]: (name: string) => { _: { data: ColumnKinds[K] } } };

/**
 * drizzle's PostgreSQL builders as the dialect-neutral definition uses them. The
 * cast is checked as far as types go: `columns` above must hold what each
 * kind promises (builders.ts says how the table types stay precise).
 */
export const pgBuilders = {
  ...columns,
  // Every identity never reuses an id, so `neverReused` changes nothing here.
  rowId,
  table: pgTable,
  index,
  uniqueIndex,
  primaryKey,
} as unknown as Builders<"pg">;
