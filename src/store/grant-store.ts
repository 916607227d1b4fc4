import { count, eq, sql } from "drizzle-orm";
import type { GrantRecord, GrantStore } from "../domain/tokens/room-tokens.js";
import { writeTransaction, type Db } from "./db.js";
import { fastStatement } from "./fast-insert.js";
import { grants, rooms } from "./schema.js";

/** Issued-token records in SQLite. */
export class SqliteGrantStore implements GrantStore {
  // Prepared statements reused inside one transaction keep a 1,000-token
  // batch to a few milliseconds.
  private readonly insertGrant: (values: Readonly<Record<string, unknown>>) => void;
  private readonly ensureRoom: (values: Readonly<Record<string, unknown>>) => void;

  constructor(private readonly db: Db) {
    this.insertGrant = fastStatement(
      db,
      db
      .insert(grants)
      .values({
        id: sql.placeholder("id"),
        tenantId: sql.placeholder("tenantId"),
        userId: sql.placeholder("userId"),
        roomId: sql.placeholder("roomId"),
        permissions: sql.placeholder("permissions"),
        metadata: sql.placeholder("metadata"),
        issuedAt: sql.placeholder("issuedAt"),
        expiresAt: sql.placeholder("expiresAt"),
        issuedBy: sql.placeholder("issuedBy"),
      }),
    );
    this.ensureRoom = fastStatement(
      db,
      db
        .insert(rooms)
        .values({ tenantId: sql.placeholder("tenantId"), id: sql.placeholder("id"), createdAt: sql.placeholder("createdAt") })
        .onConflictDoNothing(),
    );
  }

  recordGrants(records: readonly GrantRecord[]): void {
    // Synchronous callback: better-sqlite3 rolls back only if it throws here.
    writeTransaction(this.db, () => {
      const seen = new Set<string>();
      for (const g of records) {
        if (!seen.has(g.roomId)) {
          seen.add(g.roomId);
          this.ensureRoom({ tenantId: g.tenantId, id: g.roomId, createdAt: g.issuedAt });
        }
        this.insertGrant({ ...g, permissions: JSON.stringify(g.permissions), metadata: JSON.stringify(g.metadata) });
      }
    });
  }

  countGrants(tenantId?: string): number {
    const q = this.db.select({ n: count() }).from(grants);
    return (tenantId === undefined ? q : q.where(eq(grants.tenantId, tenantId))).get()?.n ?? 0;
  }

  findGrant(id: string): GrantRecord | undefined {
    return this.db.select().from(grants).where(eq(grants.id, id)).get();
  }
}
