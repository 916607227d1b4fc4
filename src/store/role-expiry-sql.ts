import { sql, type SQL } from "drizzle-orm";

/**
 * `column`'s expiry has not come at `now`: the role it belongs to still
 * counts. Every reader of a role that may expire filters with it, so an
 * expired role counts for nothing before the lapse sweep removes its row
 * (issue 19: "at that moment the role stops counting").
 */
export function roleLive(column: string, now: number): SQL {
  const c = sql.raw(column);
  return sql`(${c} is null or ${c} > ${now})`;
}
