/**
 * Checkpoints the SQLite write-ahead log on a thread of its own, so that the
 * copy of WAL pages into the database file — and, with synchronous=FULL,
 * that file's fsync — no longer lands on the request that happens to commit
 * past SQLite's auto-checkpoint threshold. A 1,000-token Create writes about
 * that many pages by itself: with the default threshold (1,000 pages) nearly
 * every large Create paid a full checkpoint inside its own commit.
 *
 * Durability is unchanged: a commit is durable once its WAL frames are
 * synced (synchronous=FULL); checkpoints only move committed pages along.
 * The connection's own auto-checkpoint stays on, at a higher threshold, as
 * the safety net should this thread stop.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** How often the thread runs a PASSIVE checkpoint, in ms. */
export const CHECKPOINT_EVERY_MS = 200;
/**
 * The connection's auto-checkpoint threshold in pages (4 KiB each) while the
 * thread runs: a few large Creates' worth, so the thread normally gets there first.
 */
export const SAFETY_NET_PAGES = 10_000;

/**
 * The thread's code: plain CommonJS (no TypeScript loader needed in any
 * environment), its own connection to the same file. PASSIVE never waits for
 * or blocks writers or readers; a checkpoint of another process running at
 * the same time makes this one a no-op (SQLITE_BUSY, ignored).
 */
const THREAD = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma("busy_timeout = 0");
const timer = setInterval(() => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {}
}, workerData.everyMs);
parentPort.on("message", () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

/** A running checkpoint thread; {@link stop} ends it. */
export interface WalCheckpointer {
  stop(): Promise<void>;
}

/**
 * Starts the checkpoint thread for the database file at `path` (opened in
 * WAL mode by the caller). `onError` hears of a thread that dies; the
 * connection's auto-checkpoint keeps the WAL bounded regardless.
 */
export function startWalCheckpointer(path: string, onError: (err: unknown) => void = () => undefined): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(THREAD, { eval: true, workerData: { path, driver, everyMs: CHECKPOINT_EVERY_MS } });
  // Never keeps the process alive.
  worker.unref();
  let stopped = false;
  worker.on("error", (err) => {
    if (!stopped) onError(err);
  });
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  return {
    async stop() {
      if (stopped) return exited;
      stopped = true;
      worker.postMessage("stop");
      // A thread stuck in a checkpoint is not waited for past a second.
      const timer = setTimeout(() => void worker.terminate(), 1_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
