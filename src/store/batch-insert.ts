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
  if (!Number.isInteger(columns) || columns < 1) throw new RangeError(`columns must be a positive integer, got ${columns}`);
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
