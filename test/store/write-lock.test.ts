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
// repositories' write transactions (read first, then write) at the same time.
// With DEFERRED transactions some failed at once with "database is locked";
// with BEGIN IMMEDIATE and the busy timeout each one waits its turn.

const ROUNDS = 150;

let dir: string;
let dbPath: string;
let store: SqliteDatabase;
const tenantId = "t-lock";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "roomgate-lock-"));
  dbPath = join(dir, "roomgate.db");
  store = openSqliteDatabase(dbPath);
  await new SqlTenantStore(store).createTenant({ id: tenantId, name: "lock", createdAt: 0 }, { id: "k-lock", hash: new Uint8Array(32), label: "t" });
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A running worker: its string messages as they come, and its result. */
interface Worker {
  readonly child: ChildProcess;
  /** Resolves when the worker sends `message`. */
  said(message: "started" | "holding"): Promise<void>;
  readonly result: Promise<WorkerOutput>;
}

/** Starts a worker process; resolves once its connections are open. */
function start(name: string, opts: { rounds?: number; hold?: boolean } = {}): Promise<Worker> {
  const input: WorkerInput = { dbPath, tenantId, name, rounds: opts.rounds ?? ROUNDS, hold: opts.hold };
  const child = fork(fileURLToPath(new URL("./write-lock-worker.ts", import.meta.url)), [JSON.stringify(input)], {
    execArgv: ["--import", "tsx"],
  });
  const result = new Promise<WorkerOutput>((resolve, reject) => {
    child.on("message", (m) => {
      if (typeof m !== "string") resolve(m as WorkerOutput);
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`worker ${name} exited with ${code} before answering`)));
  });
  const said = (message: string) =>
    new Promise<void>((resolve, reject) => {
      child.on("message", (m) => m === message && resolve());
      result.catch(reject);
    });
  return said("ready").then(() => ({ child, said, result }));
}

const count = (sql: string) => (store.connection.prepare(sql).get() as { n: number }).n;

describe("write transactions take the lock up front (issue 7, point 12)", () => {
  it("two processes interleaving the repositories' read-then-write transactions: none fails, every write lands", async () => {
    const workers = await Promise.all([start("a"), start("b")]);
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
  }, 120_000);

  it("a read-then-write transaction begun while another process holds the lock waits for it, then lands", async () => {
    // Both open first: the holder's lock must not meet the other's start-up.
    const [holder, waiter] = await Promise.all([start("h", { hold: true }), start("w", { rounds: 1 })]);
    holder.child.send("go");
    await holder.said("holding");
    const started = waiter.said("started");
    waiter.child.send("go");
    // The waiter is now in its first transaction (it reads, then writes);
    // the holder commits only now, with the waiter waiting on the lock.
    await started;
    holder.child.send("release");
    const [h, w] = await Promise.all([holder.result, waiter.result]);
    expect([...h.errors, ...w.errors]).toEqual([]);
    expect(w.ok).toBe(6);
    // The waiter's event was committed after the holder's.
    const ids = store.connection.prepare("select message_id as m from events where message_id in ('h-hold', 'w-0') order by id").pluck().all();
    expect(ids).toEqual(["h-hold", "w-0"]);
  }, 120_000);

  it("a write that throws rolls back and leaves the connection out of its transaction", async () => {
    const tenants = new SqlTenantStore(store);
    const before = count("select count(*) as n from tenants");
    await expect(
      store.write(async () => {
        await tenants.createTenant({ id: "t-rolled-back", name: "x", createdAt: 0 }, { id: "k-rolled-back", hash: new Uint8Array(32), label: "t" });
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(count("select count(*) as n from tenants")).toBe(before);
    expect(await tenants.findTenant("t-rolled-back")).toBeUndefined();
    expect(store.connection.inTransaction).toBe(false);
    // The lock is free again: the next write goes through.
    await tenants.createTenant({ id: "t-after", name: "x", createdAt: 0 }, { id: "k-after", hash: new Uint8Array(32), label: "t" });
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
