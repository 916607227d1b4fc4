import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { Builders, ColumnKinds } from "./builders.js";

// How SQLite stores each column kind of the table definition (this folder),
// for src/store/schema.ts:
//
// - Unix ms, ids and small counts alike → `integer` (SQLite integers are up
//   to 8 bytes whatever they are declared as), read as a JS number.
// - Booleans → `integer` 0/1, which drizzle reads as boolean.
// - Bytes → `blob` as a Node Buffer; JSON → `text`, stringified on write.
// - Row ids → `INTEGER PRIMARY KEY` (the rowid); AUTOINCREMENT only where an
//   id must never be reused even after its row is gone: it costs a write to
//   sqlite_sequence per insert.

/** Each column kind as SQLite stores it; `satisfies` checks each holds what its kind promises. */
const columns = {
  text: (name: string, config?: { enum: [string, ...string[]] }) => text(name, config),
  ms: (name: string) => integer(name, { mode: "number" }),
  int: (name: string) => integer(name, { mode: "number" }),
  bool: (name: string) => integer(name, { mode: "boolean" }),
  bytes: (name: string) => blob(name, { mode: "buffer" }),
  json: (name: string) => text(name, { mode: "json" }),
} satisfies { [K in keyof ColumnKinds]: (name: string) => { _: { data: ColumnKinds[K] } } };

/**
 * drizzle's SQLite builders as the dialect-neutral definition uses them. The
 * cast is checked as far as types go: `columns` above must hold what each
 * kind promises (builders.ts says how the table types stay precise).
 */
export const sqliteBuilders = {
  ...columns,
  rowId: (name: string, opts?: { neverReused: true }) =>
    integer(name).primaryKey({ autoIncrement: opts?.neverReused === true }),
  table: sqliteTable,
  index,
  uniqueIndex,
  primaryKey,
} as unknown as Builders<"sqlite">;
