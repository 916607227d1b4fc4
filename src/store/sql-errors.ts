/**
 * Classifies store errors by their driver code, never by message text (the
 * text differs between SQLite and PostgreSQL, and between versions).
 * better-sqlite3 sets `code` to the extended result code; `pg` sets the
 * SQLSTATE. A wrapper (drizzle's query error, an own error) keeps the
 * driver's error in `cause`, so the chain is walked.
 */

const UNIQUE = new Set(["SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY", "23505"]);
const FOREIGN_KEY = new Set(["SQLITE_CONSTRAINT_FOREIGNKEY", "23503"]);
// Bounds the walk should a cause chain ever loop.
const MAX_DEPTH = 8;

/** True when `err` (or an error it wraps) is a unique or primary-key violation. */
export function isUniqueViolation(err: unknown): boolean {
  return hasCode(err, UNIQUE);
}

/** True when `err` (or an error it wraps) is a foreign-key violation. */
export function isForeignKeyViolation(err: unknown): boolean {
  return hasCode(err, FOREIGN_KEY);
}

function hasCode(err: unknown, codes: ReadonlySet<string>): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < MAX_DEPTH && typeof e === "object" && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && codes.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
