import { Param, Placeholder } from "drizzle-orm";
import type { Db } from "./db.js";

/** A statement drizzle built with `sql.placeholder(...)` values. */
interface BuiltQuery {
  toSQL(): { sql: string; params: unknown[] };
}

/**
 * Prepares a drizzle-built statement directly on better-sqlite3 and returns
 * a runner that takes the placeholder values by name.
 *
 * drizzle's own prepared statements spend several microseconds per run
 * mapping values; for the 1,000-row inserts of a token batch (grants and
 * their audit rows) that is most of the cost. The SQL text still comes from
 * drizzle and the schema; callers pass values already in driver form (JSON
 * columns as strings, booleans as 0/1).
 */
export function fastStatement(db: Db, query: BuiltQuery): (values: Readonly<Record<string, unknown>>) => void {
  const { sql, params } = query.toSQL();
  // Each parameter is a named placeholder (possibly wrapped in a Param that
  // carries its column) or a constant drizzle filled in from a column default.
  const slots = params.map((p): { name: string } | { value: unknown } => {
    const inner = p instanceof Param ? p.value : p;
    return inner instanceof Placeholder ? { name: inner.name } : { value: inner };
  });
  const stmt = db.$client.prepare(sql);
  const args: unknown[] = slots.map((s) => ("value" in s ? s.value : undefined));
  return (values) => {
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      if ("name" in s) args[i] = values[s.name];
    }
    stmt.run(args);
  };
}
