import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtCli, cleanEnv, get, Proc, type LogLine } from "../support/built-cli.js";
import { createTestDatabase, type TestDatabase } from "../support/postgres.js";
import { testStore } from "../support/server.js";

/**
 * SIGTERM at ten moments of `roomgate serve`'s start-up, single process and
 * cluster, each on an empty store: the signal is sent when the k-th JSON log
 * line (LOG_LEVEL=debug: one per start-up step) arrives. Each time the
 * process must log that it stopped and exit 0, and the data dir (and store)
 * must be whole: a second start serves /healthz, and the bootstrap API key
 * was printed exactly once over both starts — a tenant created by the
 * stopped start still had its key shown, or the second start created it.
 *
 * Not under the fast-path-off project: no protocol path is involved.
 */

const KEY_BANNER = "with this API key (shown once, store it now)";
/** `--workers` and the JSON log line after which SIGTERM is sent. */
const MOMENTS: ReadonlyArray<{ workers: number; line: number }> = [
  { workers: 1, line: 1 }, // checking the port
  { workers: 1, line: 2 }, // opening the store (migrations, key file, bootstrap)
  { workers: 1, line: 3 }, // tenant bootstrapped
  { workers: 1, line: 5 }, // store ready, starting to listen
  { workers: 2, line: 1 }, // primary: checking the port
  { workers: 2, line: 2 }, // primary: preparing the key file and the store
  { workers: 2, line: 5 }, // primary: forking workers
  { workers: 2, line: 6 }, // a worker building its app
  { workers: 2, line: 8 }, // a worker's app ready
  { workers: 2, line: 10 }, // a worker listening
];

/**
 * On PostgreSQL the moments where the store is being prepared (migrations
 * under the advisory lock, the bootstrap): the others do not touch the
 * store, and run under SQLite (CI time).
 */
const STORE_MOMENTS = MOMENTS.filter(
  (m) => (m.workers === 1 && (m.line === 2 || m.line === 3)) || (m.workers === 2 && m.line === 2),
);
const RUN_MOMENTS = testStore() === "postgres" ? STORE_MOMENTS : MOMENTS;

let cli: string;
const dirs: string[] = [];
const dbs: TestDatabase[] = [];
const procs: Proc[] = [];

beforeAll(async () => {
  cli = await builtCli();
}, 120_000);

afterAll(async () => {
  for (const p of procs) p.kill();
  await Promise.all(dbs.map((d) => d.drop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh data dir, and under the PostgreSQL project a fresh database: the settings of both starts. */
async function emptyStore(): Promise<NodeJS.ProcessEnv> {
  const dir = mkdtempSync(join(tmpdir(), "roomgate-startup-"));
  dirs.push(dir);
  const env: NodeJS.ProcessEnv = { ROOMGATE_DATA_DIR: dir, LOG_LEVEL: "debug" };
  if (testStore() === "postgres") {
    const db = await createTestDatabase();
    dbs.push(db);
    env["ROOMGATE_DATABASE_URL"] = db.url;
  }
  return cleanEnv(env);
}

/** Starts `serve`, sends SIGTERM once the `line`-th JSON log line is out; resolves when it ended. */
async function stopAtLine(
  env: NodeJS.ProcessEnv,
  workers: number,
  line: number,
): Promise<{ proc: Proc; code: number | null; signal: string | null }> {
  let seen = 0;
  const proc: Proc = new Proc(
    process.execPath,
    [cli, "serve", "--workers", String(workers)],
    env,
    undefined,
    (text) => {
      if (text.startsWith("{") && ++seen === line) proc.child.kill("SIGTERM");
    },
  );
  procs.push(proc);
  const { code, signal } = await proc.exited;
  return { proc, code, signal };
}

/** Starts `serve --workers 1` again on the same store, checks /healthz, stops it; resolves to its stdout. */
async function startAgain(env: NodeJS.ProcessEnv): Promise<string> {
  const proc = new Proc(process.execPath, [cli, "serve", "--workers", "1"], env);
  procs.push(proc);
  const listening = await proc.waitFor("roomgate listening", (l) => l.msg === "roomgate listening");
  const health = await get(listening.port!, "/healthz");
  expect(health, proc.stdout).toEqual({ status: 200, body: '{"status":"ok"}' });
  proc.child.kill("SIGTERM");
  expect(await proc.exited).toEqual({ code: 0, signal: null });
  return proc.stdout;
}

const banners = (text: string): number => text.split(KEY_BANNER).length - 1;

describe.skipIf(process.env["ROOMGATE_FAST_PATH"] === "off")("SIGTERM during start-up", () => {
  it.each(RUN_MOMENTS)(
    "--workers $workers, after log line $line: logs, exits 0, leaves a store that starts again",
    async ({ workers, line }) => {
      const env = await emptyStore();
      const stopped = await stopAtLine(env, workers, line);
      const where = `stdout:\n${stopped.proc.stdout}\nstderr:\n${stopped.proc.stderr}`;
      expect({ code: stopped.code, signal: stopped.signal }, where).toEqual({ code: 0, signal: null });
      const lines: LogLine[] = stopped.proc.lines();
      expect(lines.length, where).toBeGreaterThanOrEqual(line);
      // The process said it stopped (the final line of its stop; the logger may order lines of one moment otherwise), and nothing went wrong.
      expect(
        lines.some((l) => ["stopped", "stopped during start-up", "all workers stopped"].includes(l.msg ?? "")),
        where,
      ).toBe(true);
      expect(
        lines.filter((l) => Number(l["level"]) >= 50),
        where,
      ).toEqual([]);
      const again = await startAgain(env);
      expect(banners(stopped.proc.stdout) + banners(again), `${where}\nsecond start:\n${again}`).toBe(1);
    },
  );
});
