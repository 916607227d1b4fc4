import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";
import { eq, is } from "drizzle-orm";
import { MIGRATIONS_TABLE, openPostgres, type PgHandle, type PgLog } from "../../src/store/pg/connect.js";
import * as pgSchema from "../../src/store/pg/schema.js";
import { createTestDatabase, describeWithPostgres, type TestDatabase } from "../support/postgres.js";

// openPostgres on a real server: replicas that start together must apply the
// migrations exactly once between them (the advisory lock), every table of
// src/store/pg/schema.ts must exist as declared, and int8 must come back as a
// JS number.

const REPLICAS = 6;

const journal = JSON.parse(
  readFileSync(new URL("../../migrations-pg/meta/_journal.json", import.meta.url), "utf8"),
) as {
  entries: { tag: string }[];
};

const pgTables: PgTable[] = (Object.values(pgSchema) as unknown[]).filter((x): x is PgTable => is(x, PgTable));

/** Collects what openPostgres logs, across every handle that shares it. */
function recordingLog(): PgLog & { infos: { obj: object; msg: string }[] } {
  const infos: { obj: object; msg: string }[] = [];
  return { infos, info: (obj, msg) => infos.push({ obj, msg }), warn: () => undefined };
}

describeWithPostgres("openPostgres", () => {
  let database: TestDatabase;
  const handles: PgHandle[] = [];
  const firstLog = recordingLog();

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.close()));
    await database?.drop();
  });

  /** The handle every later test queries through. */
  const main = () => handles[0]!;

  it(`lets ${REPLICAS} concurrent starts on a fresh database all succeed, migrating exactly once`, async () => {
    const results = await Promise.allSettled(
      Array.from({ length: REPLICAS }, () => openPostgres(database.url, { max: 2, log: firstLog })),
    );
    for (const r of results) if (r.status === "fulfilled") handles.push(r.value);
    expect(results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason)).toEqual([]);

    const { rows } = await main().pool.query<{ hash: string }>(`SELECT hash FROM ${MIGRATIONS_TABLE}`);
    expect(journal.entries.length).toBeGreaterThan(0);
    expect(rows).toHaveLength(journal.entries.length);
    expect(new Set(rows.map((r) => r.hash)).size).toBe(rows.length);
    // Exactly one of the starts found work to do, and it did all of it.
    expect(firstLog.infos).toEqual([
      { obj: { applied: journal.entries.length, total: journal.entries.length }, msg: "postgres: migrations applied" },
    ]);
  });

  it("releases the migration lock once the schema is current", async () => {
    const { rows } = await main().pool.query<{ n: number }>(
      "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    expect(rows[0]!.n).toBe(0);
  });

  it("creates every table of the schema with its columns, types and nullability", async () => {
    const { rows } = await main().pool.query<{
      table_name: string;
      column_name: string;
      data_type: string;
      is_nullable: "YES" | "NO";
    }>(
      "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public'",
    );
    const actual = rows
      .map((r) => `${r.table_name}.${r.column_name} ${r.data_type}${r.is_nullable === "NO" ? " not null" : ""}`)
      .sort();
    const expected = pgTables
      .flatMap((t) => {
        const c = getTableConfig(t);
        return c.columns.map((col) => `${c.name}.${col.name} ${col.getSQLType()}${col.notNull ? " not null" : ""}`);
      })
      .sort();
    expect(pgTables.length).toBeGreaterThan(10);
    expect(actual).toEqual(expected);
  });

  it("creates every index of the schema, and no other", async () => {
    const { rows } = await main().pool.query<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype = 'p')",
    );
    const expected = pgTables.flatMap((t) => getTableConfig(t).indexes.map((i) => i.config.name!));
    expect(rows.map((r) => r.indexname).sort()).toEqual(expected.sort());
  });

  it("reads int8 as a JS number, and refuses one beyond 2^53 rather than round it", async () => {
    const { pool, db } = main();
    const { rows } = await pool.query<{ big: unknown; n: unknown }>(
      "SELECT 9007199254740991::int8 AS big, count(*) AS n FROM tenants",
    );
    expect(rows[0]).toEqual({ big: Number.MAX_SAFE_INTEGER, n: 0 });

    await db.insert(pgSchema.tenants).values({ id: "t1", name: "one", createdAt: 1_767_225_600_000 });
    const [event] = await db
      .insert(pgSchema.events)
      .values({ tenantId: "t1", type: 3, actor: "system", at: 1_767_225_600_123 })
      .returning({ id: pgSchema.events.id });
    expect(typeof event!.id).toBe("number");
    const raw = await pool.query<{ id: unknown; at: unknown }>("SELECT id, at FROM events");
    expect(raw.rows).toEqual([{ id: event!.id, at: 1_767_225_600_123 }]);

    await expect(pool.query("SELECT 9007199254740993::int8 AS v")).rejects.toThrow(RangeError);
  });

  it("stores bytea, booleans and JSON text as SQLite does", async () => {
    const { db } = main();
    const hash = Buffer.from([0, 1, 2, 254, 255]);
    await db.insert(pgSchema.apiKeys).values({ id: "k1", tenantId: "t1", hash, createdAt: 1 });
    await db.insert(pgSchema.grants).values({
      id: "g1",
      tenantId: "t1",
      userId: "u1",
      roomId: "r1",
      permissions: [1, 5],
      issuedAt: 1,
      expiresAt: 2,
      issuedBy: "k1",
    });
    const [key] = await db.select().from(pgSchema.apiKeys).where(eq(pgSchema.apiKeys.id, "k1"));
    expect(Buffer.compare(key!.hash, hash)).toBe(0);
    expect(key!.label).toBe("");
    const [grant] = await db.select().from(pgSchema.grants);
    expect(grant).toMatchObject({ permissions: [1, 5], metadata: {} });
    const raw = await main().pool.query<{ permissions: string; metadata: string }>(
      "SELECT permissions, metadata FROM grants",
    );
    expect(raw.rows[0]).toEqual({ permissions: "[1,5]", metadata: "{}" });
  });

  it("opens an already-migrated database without changing it", async () => {
    const snapshot = async () => {
      const migrations = await main().pool.query(`SELECT id, hash, created_at FROM ${MIGRATIONS_TABLE} ORDER BY id`);
      const tables = await main().pool.query(
        "SELECT relname, oid::int8 AS oid FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY relname",
      );
      return { migrations: migrations.rows, tables: tables.rows };
    };
    const before = await snapshot();
    const log = recordingLog();
    handles.push(await openPostgres(database.url, { max: 1, log }));
    expect(await snapshot()).toEqual(before);
    expect(log.infos).toEqual([]);
  });

  it("rejects with the server's error when the database does not exist", async () => {
    const url = new URL(database.url);
    url.pathname = `/${database.name}_missing`;
    await expect(openPostgres(url.toString())).rejects.toMatchObject({ code: "3D000" });
  });
});
