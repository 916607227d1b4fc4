import type {
  AnyColumn,
  BuildColumns,
  ColumnBuilder,
  ColumnBuilderBase,
  ColumnDataType,
  HasDefault,
  IsIdentity,
  IsPrimaryKey,
  NotNull,
  SQL,
} from "drizzle-orm";
import type { PgTableWithColumns } from "drizzle-orm/pg-core";
import type { SQLiteTableWithColumns } from "drizzle-orm/sqlite-core";

// The tables of roomgate are defined once (the other files of this folder),
// against the Builders below. sqlite-builders.ts and pg-builders.ts adapt
// each dialect's drizzle builders to them; src/store/schema.ts and
// src/store/pg/schema.ts export what comes out, for drizzle-kit (each
// dialect's migrations) and the tests. The definition only names a column
// *kind* (text, Unix ms, boolean, ...); how a kind is stored is the
// dialect's business, written in its builders module.
//
// Typing: drizzle has no dialect-neutral table builder, and TypeScript cannot
// carry a generic builder's precise return types through one function body.
// So a column here is drizzle's common ColumnBuilder typed by what its kind
// holds (the data type, nullability, defaults), and `table` turns the columns
// into the dialect's table type with drizzle's own BuildColumns, as
// sqliteTable and pgTable do. Each dialect's builders module checks that its
// columns hold what the kinds promise (see ColumnKinds).

/** The dialects the tables are built for (drizzle's names). */
export type TableDialect = "sqlite" | "pg";

/** What the values of each column kind are, on every dialect. */
export interface ColumnKinds {
  text: string;
  /** Unix milliseconds, and other integers that outgrow int4 (ids, cursors). */
  ms: number;
  /** Small integers: codes and counts. */
  int: number;
  bool: boolean;
  bytes: Buffer;
  /** JSON text: written with JSON.stringify, parsed on read; the column's `$type` says what it holds. */
  json: unknown;
}

/** drizzle's type config of a column that holds `TData`. */
interface KindConfig<
  TData,
  TDataType extends ColumnDataType,
  TEnum extends [string, ...string[]] | undefined = undefined,
> {
  name: string;
  dataType: TDataType;
  columnType: string;
  data: TData;
  driverParam: unknown;
  enumValues: TEnum;
}

/** What a foreign key does when its target row goes. */
export interface ReferenceActions {
  onDelete?: "cascade" | "restrict" | "no action" | "set null" | "set default";
}

/** A column being defined: drizzle's common builder, plus the foreign key both dialects' builders have. */
export interface Col<T extends KindConfig<unknown, ColumnDataType, [string, ...string[]] | undefined>>
  extends ColumnBuilder<T> {
  references(target: () => AnyColumn, actions?: ReferenceActions): this;
}

declare const columnRef: unique symbol;
declare const tableExtra: unique symbol;

/** A column handed to the table's extra config: only for indexes and keys, never read. */
export interface ColumnRef {
  readonly [columnRef]: true;
}

/** An index or key of a table (opaque: only drizzle reads it). */
export interface TableExtra {
  readonly [tableExtra]: true;
}

/** `index(name).on(...)`, optionally partial (`.where(...)`). */
export interface IndexBuilder {
  on(...columns: [ColumnRef, ...ColumnRef[]]): TableExtra & { where(condition: SQL): TableExtra };
}

/** The dialect's table type for columns `C`, as its own table builder would type it. */
export type TableOf<
  D extends TableDialect,
  N extends string,
  C extends Record<string, ColumnBuilderBase>,
> = D extends "sqlite"
  ? SQLiteTableWithColumns<{ name: N; schema: undefined; columns: BuildColumns<N, C, "sqlite">; dialect: "sqlite" }>
  : PgTableWithColumns<{ name: N; schema: undefined; columns: BuildColumns<N, C, "pg">; dialect: "pg" }>;

type IntConfig = KindConfig<number, "number">;

/**
 * A row id the database assigns. Typed per dialect: PostgreSQL's is an
 * identity GENERATED ALWAYS, which an insert may not name.
 */
export type RowIdCol<D extends TableDialect> = D extends "pg"
  ? IsIdentity<IsPrimaryKey<NotNull<Col<IntConfig>>>, "always">
  : IsPrimaryKey<HasDefault<NotNull<Col<IntConfig>>>>;

/** A dialect's drizzle builders, as the table definitions use them. */
export interface Builders<D extends TableDialect> {
  table<N extends string, C extends Record<string, ColumnBuilderBase>>(
    name: N,
    columns: C,
    extra?: (t: { [K in keyof C]: ColumnRef }) => TableExtra[],
  ): TableOf<D, N, C>;
  index(name: string): IndexBuilder;
  uniqueIndex(name: string): IndexBuilder;
  primaryKey(config: { columns: [ColumnRef, ...ColumnRef[]] }): TableExtra;
  text<const E extends [string, ...string[]] = [string, ...string[]]>(
    name: string,
    config?: { enum: E },
  ): Col<KindConfig<E[number], "string", E>>;
  ms(name: string): Col<IntConfig>;
  int(name: string): Col<IntConfig>;
  bool(name: string): Col<KindConfig<boolean, "boolean">>;
  bytes(name: string): Col<KindConfig<Buffer, "buffer">>;
  json(name: string): Col<KindConfig<unknown, "json">>;
  /**
   * A row id the database assigns on insert, never handed out twice while
   * its row exists. `neverReused`: not even after the row is gone (watchers
   * resume from an event id). Where the dialect's plain row id already
   * guarantees that, both are the same.
   */
  rowId(name: string, opts?: { neverReused: true }): RowIdCol<D>;
}

/** A table another table's foreign keys point at (by its `id`). */
export interface Referenced {
  readonly id: AnyColumn;
}
