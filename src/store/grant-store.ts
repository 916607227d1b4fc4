import type { JsonObject } from "@bufbuild/protobuf";
import { sql } from "drizzle-orm";
import type { IssuedToken, TokensIssued } from "../domain/access/facts.js";
import { noteEffects } from "../domain/events/pending-effects.js";
import type { GrantRecord, GrantStore } from "../domain/tokens/grants.js";
import { num, type Database } from "./database-port.js";

const GRANT_COLUMNS = [
  "id",
  "tenant_id",
  "user_id",
  "room_id",
  "permissions",
  "metadata",
  "issued_at",
  "expires_at",
  "issued_by",
];
const ROOM_COLUMNS = ["tenant_id", "id", "created_at"];

/**
 * A batch's tokens as the access facts carry them, per tenant: each
 * distinct permission set once (a batch usually shares one or two).
 */
function issuedFacts(records: readonly GrantRecord[]): Map<string, TokensIssued> {
  const out = new Map<
    string,
    { issuedAt: number; sets: Map<string, number>; permissionSets: number[][]; tokens: IssuedToken[] }
  >();
  for (const g of records) {
    let t = out.get(g.tenantId);
    if (t === undefined) {
      t = { issuedAt: g.issuedAt, sets: new Map(), permissionSets: [], tokens: [] };
      out.set(g.tenantId, t);
    }
    const key = g.permissions.join(",");
    let set = t.sets.get(key);
    if (set === undefined) {
      set = t.permissionSets.push(g.permissions) - 1;
      t.sets.set(key, set);
    }
    t.tokens.push([g.id, g.userId, g.roomId, set, g.expiresAt]);
  }
  const facts = new Map<string, TokensIssued>();
  for (const [tenantId, t] of out) {
    facts.set(tenantId, { tenantId, issuedAt: t.issuedAt, permissionSets: t.permissionSets, tokens: t.tokens });
  }
  return facts;
}

/** Issued-token records. */
export class SqlGrantStore implements GrantStore {
  constructor(private readonly db: Database) {}

  /**
   * Stores a Create batch (up to 1,000 grants) and the rooms it names, all
   * or nothing. Multi-row INSERTs keep it to a handful of statements, so a
   * batch costs a few round trips on PostgreSQL, not a thousand, and go in
   * through {@link Database.insertRows}: no query builder per value.
   */
  recordGrants(records: readonly GrantRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return this.db.write(async () => {
      // A room first seen here is created without space, name or creator.
      const rooms = new Map<string, unknown[]>();
      for (const g of records) {
        const key = `${g.tenantId}\u0000${g.roomId}`;
        if (!rooms.has(key)) rooms.set(key, [g.tenantId, g.roomId, g.issuedAt]);
      }
      await this.db.insertRows("rooms", ROOM_COLUMNS, [...rooms.values()], "on conflict (tenant_id, id) do nothing");
      await this.db.insertRows(
        "grants",
        GRANT_COLUMNS,
        records.map((g) => [
          g.id,
          g.tenantId,
          g.userId,
          g.roomId,
          JSON.stringify(g.permissions),
          JSON.stringify(g.metadata),
          g.issuedAt,
          g.expiresAt,
          g.issuedBy,
        ]),
      );
      for (const [tenantId, tokensIssued] of issuedFacts(records))
        noteEffects(tenantId, { tokensIssued: [tokensIssued] });
    });
  }

  /** Grants stored, of one tenant or of all. */
  async countGrants(tenantId?: string): Promise<number> {
    const where = tenantId === undefined ? sql.empty() : sql` where tenant_id = ${tenantId}`;
    const row = await this.db.get(sql`select count(*) as "n" from grants${where}`);
    return num(row?.n ?? 0);
  }

  /** One grant by token id. */
  async findGrant(id: string): Promise<GrantRecord | undefined> {
    const r = await this.db.get(
      sql`select id as "id", tenant_id as "tenantId", user_id as "userId", room_id as "roomId", permissions as "permissions",
                 metadata as "metadata", issued_at as "issuedAt", expires_at as "expiresAt", issued_by as "issuedBy"
          from grants where id = ${id}`,
    );
    if (r === undefined) return undefined;
    return {
      id: String(r.id),
      tenantId: String(r.tenantId),
      userId: String(r.userId),
      roomId: String(r.roomId),
      permissions: JSON.parse(String(r.permissions)) as number[],
      metadata: JSON.parse(String(r.metadata)) as JsonObject,
      issuedAt: num(r.issuedAt),
      expiresAt: num(r.expiresAt),
      issuedBy: String(r.issuedBy),
    };
  }
}
