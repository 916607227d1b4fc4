import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteDatabase, type SqliteDatabase } from "../../src/store/sqlite-database.js";
import { SqlTenantStore } from "../../src/store/tenant-store.js";
import type { WorkerInput, WorkerOutput } from "./write-lock-worker.js";

// Issue 7, point 12: two processes on one file, each running the
// repositories' write transactions (read first, then write) at the same time,
// several at once inside each process too. With DEFERRED transactions some
// failed at once with "database is locked"; with BEGIN IMMEDIATE and the busy
// timeout each one waits its turn.

const ROUNDS = 150;
const LANES = 3;
/** How far (in rounds) one worker may run ahead of the other; wider than LANES. */
const WINDOW = 10;

let dir: string;
let dbPath: string;
let store: SqliteDatabase;
const tenantId = "t-lock";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "roomgate-lock-"));
  dbPath = join(dir, "roomgate.db");
  store = openSqliteDatabase(dbPath);
  await new SqlTenantStore(store).createTenant(
    { id: tenantId, name: "lock", createdAt: 0 },
    { id: "k-lock", hash: new Uint8Array(32), label: "t" },
  );
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts a worker process; resolves once it is ready, with its result to come. */
function start(name: string, peer: string): Promise<{ child: ChildProcess; result: Promise<WorkerOutput> }> {
  const input: WorkerInput = { dbPath, tenantId, name, rounds: ROUNDS, lanes: LANES, peer, window: WINDOW };
  const child = fork(fileURLToPath(new URL("./write-lock-worker.ts", import.meta.url)), [JSON.stringify(input)], {
    execArgv: ["--import", "tsx"],
  });
  const result = new Promise<WorkerOutput>((resolve, reject) => {
    child.on("message", (m) => {
      if (m !== "ready") resolve(m as WorkerOutput);
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`worker ${name} exited with ${code} before answering`)));
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.on("message", (m) => m === "ready" && resolve());
    result.catch(reject);
  });
  return ready.then(() => ({ child, result }));
}

const count = (sql: string) => (store.connection.prepare(sql).get() as { n: number }).n;

describe("write transactions take the lock up front (issue 7, point 12)", () => {
  it("two processes interleaving the repositories' read-then-write transactions: none fails, every write lands", async () => {
    const workers = await Promise.all([start("a", "b"), start("b", "a")]);
    for (const w of workers) w.child.send("go");
    const [a, b] = await Promise.all(workers.map((w) => w.result));
    expect([...a.errors, ...b.errors]).toEqual([]);
    expect(a.ok + b.ok).toBe(2 * ROUNDS * 6);
    expect(count("select count(*) as n from users")).toBe(2 * ROUNDS);
    expect(count("select count(*) as n from spaces")).toBe(2 * ROUNDS);
    expect(count("select count(*) as n from events")).toBe(2 * ROUNDS);
    expect(count("select count(*) as n from tenants")).toBe(2 * ROUNDS + 1);
    // Each prune step deletes one expired grant; rounds that found the other
    // worker's grant first leave none behind overall.
    expect(count("select count(*) as n from grants")).toBe(0);
    // They really interleaved: the event ids switch between the two workers
    // again and again. Neither may run more than WINDOW rounds ahead, so one
    // worker's events come in runs of at most about 2 × (WINDOW + LANES).
    const owners = store.connection
      .prepare("select substr(message_id, 1, 1) as w from events order by id")
      .pluck()
      .all() as string[];
    const switches = owners.filter((w, i) => i > 0 && w !== owners[i - 1]).length;
    expect(switches).toBeGreaterThan(ROUNDS / (2 * (WINDOW + LANES)));
  }, 120_000);

  it("a write that throws rolls back and leaves the connection out of its transaction", async () => {
    const tenants = new SqlTenantStore(store);
    const before = count("select count(*) as n from tenants");
    await expect(
      store.write(async () => {
        await tenants.createTenant(
          { id: "t-rolled-back", name: "x", createdAt: 0 },
          { id: "k-rolled-back", hash: new Uint8Array(32), label: "t" },
        );
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(count("select count(*) as n from tenants")).toBe(before);
    expect(await tenants.findTenant("t-rolled-back")).toBeUndefined();
    expect(store.connection.inTransaction).toBe(false);
    // The lock is free again: the next write goes through.
    await tenants.createTenant(
      { id: "t-after", name: "x", createdAt: 0 },
      { id: "k-after", hash: new Uint8Array(32), label: "t" },
    );
    expect(count("select count(*) as n from tenants")).toBe(before + 1);
  });

  it("sets the busy timeout at open (5 s by default, or as given)", async () => {
    expect(store.connection.pragma("busy_timeout", { simple: true })).toBe(5_000);
    const other = openSqliteDatabase(dbPath, { busyTimeoutMs: 250 });
    try {
      expect(other.connection.pragma("busy_timeout", { simple: true })).toBe(250);
    } finally {
      await other.close();
    }
  });
});
