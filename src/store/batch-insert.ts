import { sql, type SQL } from "drizzle-orm";

/**
 * Bound parameters one statement may carry: under SQLite's 32,766 and
 * PostgreSQL's 65,535, with room to spare.
 */
export const MAX_PARAMS_PER_STATEMENT = 30_000;
/** Most rows in one multi-row INSERT, whatever the column count. */
const MAX_ROWS_PER_STATEMENT = 512;

/**
 * Splits `rows` for multi-row INSERTs of `columns` bound values per row:
 * full chunks of the largest power of two that fits (at most
 * {@link MAX_ROWS_PER_STATEMENT} rows, {@link MAX_PARAMS_PER_STATEMENT}
 * values), then the rest in falling powers of two. Any batch size thus
 * needs one of about ten statement texts per table, each prepared once and
 * kept by the SQLite statement cache, instead of one text per batch size.
 */
export function insertChunks<T>(rows: readonly T[], columns: number): T[][] {
  if (!Number.isInteger(columns) || columns < 1)
    throw new RangeError(`columns must be a positive integer, got ${columns}`);
  let size = 1;
  while (size * 2 <= MAX_ROWS_PER_STATEMENT && size * 2 * columns <= MAX_PARAMS_PER_STATEMENT) size *= 2;
  const chunks: T[][] = [];
  let i = 0;
  while (i < rows.length) {
    while (size > rows.length - i) size /= 2;
    chunks.push(rows.slice(i, i + size));
    i += size;
  }
  return chunks;
}

/** `(…), (…)`: the VALUES list of a multi-row INSERT, one tuple per row. */
export function valuesList<T>(rows: readonly T[], tuple: (row: T) => SQL): SQL {
  return sql.join(
    rows.map((r) => tuple(r)),
    sql`, `,
  );
}

const texts = new Map<string, string>();

/**
 * The text of a `rows`-row INSERT into `table` with `placeholder(n)` for the
 * n-th bound value (1-based: `?` for SQLite, `$n` for PostgreSQL), then
 * `suffix`. Remembered per shape: {@link insertChunks} keeps the shapes few.
 */
export function insertText(
  table: string,
  columns: readonly string[],
  rows: number,
  placeholder: (n: number) => string,
  suffix = "",
): string {
  const key = `${placeholder(1)}\u0000${table}\u0000${columns.join(",")}\u0000${rows}\u0000${suffix}`;
  let text = texts.get(key);
  if (text === undefined) {
    const tuples: string[] = [];
    let n = 0;
    for (let r = 0; r < rows; r++) tuples.push(`(${columns.map(() => placeholder(++n)).join(", ")})`);
    text = `insert into ${table} (${columns.join(", ")}) values ${tuples.join(", ")}${suffix === "" ? "" : ` ${suffix}`}`;
    texts.set(key, text);
  }
  return text;
}

/** One chunk's values, flattened in row order, as `bind` turns each value. */
export function flatValues(rows: readonly (readonly unknown[])[], bind: (v: unknown) => unknown): unknown[] {
  const out: unknown[] = [];
  for (const row of rows) for (const v of row) out.push(bind(v));
  return out;
}
