/**
 * Real `roomgate serve` processes for the replica benchmarks, started as an
 * operator starts them (`node --import tsx src/cli.ts serve --workers N` with
 * settings in the environment), over a store of their own: one SQLite file in
 * a fresh data directory, or a fresh PostgreSQL database `rg_bench_<hex>`.
 * Everything started here is stopped, and every data directory and database
 * removed, on the way out — including Ctrl-C.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { generateTokenKey } from "../../src/domain/tokens/keyring.js";
import { childPids } from "./procfs.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
/** The admin connection for creating and dropping benchmark databases. */
export const POSTGRES_ADMIN_URL =
  process.env["ROOMGATE_BENCH_DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/postgres";
export const BENCH_API_KEY = "replica-bench-key-0123456789";

// --- cleanup on every way out ------------------------------------------------

const liveProcs = new Set<ChildProcess>();
const cleanups = new Set<() => Promise<void>>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once("exit", () => {
    for (const p of liveProcs) p.kill("SIGKILL");
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      console.error(`\n${sig}: stopping replicas and removing their stores`);
      const timer = setTimeout(() => process.exit(130), 10_000);
      void Promise.allSettled([...cleanups].map((c) => c())).then(() => {
        clearTimeout(timer);
        process.exit(130);
      });
    });
  }
}

// --- stores --------------------------------------------------------------------

/** Where a set of replicas keeps its state, and the settings that point them at it. */
export interface BenchStore {
  readonly kind: "sqlite" | "postgres";
  readonly dataDir: string;
  /** The SQLite file (also for PostgreSQL stores, where it stays unused). */
  readonly dbPath: string;
  /** ROOMGATE_* settings shared by every replica of this store. */
  readonly env: Readonly<Record<string, string>>;
  /** Stops nothing; removes the data directory and drops the database. Safe to call twice. */
  remove(): Promise<void>;
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3_000 });
  client.on("error", () => undefined);
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** True when the PostgreSQL server at {@link POSTGRES_ADMIN_URL} answers. */
export async function postgresAnswers(): Promise<boolean> {
  try {
    await admin("select 1");
    return true;
  } catch {
    return false;
  }
}

/**
 * A fresh store: a new data directory, and for "postgres" a new database
 * `rg_bench_<hex>`. Replicas share the token keys through ROOMGATE_TOKEN_KEYS
 * (as replicas on several machines would) and the bootstrap API key.
 */
export async function createStore(kind: "sqlite" | "postgres"): Promise<BenchStore> {
  hookExit();
  const dataDir = mkdtempSync(join(tmpdir(), "roomgate-bench-replicas-"));
  let dbName: string | undefined;
  let url: string | undefined;
  if (kind === "postgres") {
    dbName = `rg_bench_${randomBytes(6).toString("hex")}`;
    await admin(`CREATE DATABASE "${dbName}"`);
    const u = new URL(POSTGRES_ADMIN_URL);
    u.pathname = `/${dbName}`;
    url = u.toString();
  }
  const key = generateTokenKey(Date.now());
  let removing: Promise<void> | undefined;
  const remove = (): Promise<void> =>
    (removing ??= (async () => {
      cleanups.delete(remove);
      rmSync(dataDir, { recursive: true, force: true });
      if (dbName !== undefined) await admin(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    })());
  cleanups.add(remove);
  return {
    kind,
    dataDir,
    dbPath: join(dataDir, "roomgate.db"),
    env: {
      ROOMGATE_DATA_DIR: dataDir,
      ROOMGATE_API_KEY: BENCH_API_KEY,
      ROOMGATE_TOKEN_KEYS: `${key.id}:${Buffer.from(key.secret).toString("base64url")}`,
      ...(url ? { ROOMGATE_DATABASE_URL: url } : {}),
    },
    remove,
  };
}

// --- processes -----------------------------------------------------------------

/** One running `roomgate serve` (a single process, or a cluster primary and its workers). */
export interface RoomgateProcess {
  readonly pid: number;
  readonly port: number;
  readonly baseUrl: string;
  readonly workers: number;
  /** From spawn to the first 200 from /healthz (every worker forked, for a cluster). */
  readonly startupMs: number;
  /** The processes doing the serving: the process itself, or the cluster's workers. */
  servingPids(): number[];
  /** Everything it printed, for failure messages. */
  output(): string;
  /** SIGTERM, wait for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** The exit code once it has exited (null while running, or when ended by a signal). */
  exitCode(): number | null;
}

/** A free TCP port on 127.0.0.1 (probed and released, so the server can be told its port). */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `roomgate serve --workers <workers>` on `store` with the benchmark
 * settings (LOG_LEVEL=warn, no per-key rate limit) plus `env`. The port is
 * chosen here, since at warn level the server does not log it — unless `env`
 * sets PORT (a replica restarted on its old port, behind a balancer); readiness is
 * a 200 from /healthz, polled every 5 ms (that is the start-up time's
 * resolution), and for a cluster also every worker forked.
 */
export async function startRoomgate(
  store: BenchStore,
  workers: number,
  env: Readonly<Record<string, string>> = {},
): Promise<RoomgateProcess> {
  hookExit();
  const port = env["PORT"] !== undefined ? Number(env["PORT"]) : await freePort();
  const fullEnv: NodeJS.ProcessEnv = {
    PATH: process.env["PATH"],
    HOME: process.env["HOME"],
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    ROOMGATE_SHUTDOWN_GRACE_MS: "2000",
    // Every call comes from one address and one key.
    ROOMGATE_RATE_LIMIT_PER_SECOND: "0",
    ...store.env,
    ...env,
  };
  const t0 = performance.now();
  const proc = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "serve", "--workers", String(workers)], {
    cwd: REPO,
    env: fullEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  liveProcs.add(proc);
  let out = "";
  proc.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) =>
    proc.once("exit", () => {
      liveProcs.delete(proc);
      resolve();
    }),
  );
  let workerPids: number[] = [];
  const servingPids = () => (workers === 1 ? [proc.pid!] : workerPids);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      cleanups.delete(stop);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => {
          proc.kill("SIGKILL");
          for (const w of workerPids) process.kill(w, "SIGKILL");
        }, 10_000);
        await exited;
        clearTimeout(timer);
      }
    })());
  cleanups.add(stop);

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = t0 + 60_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`roomgate exited before it was ready:\n${out}`);
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`roomgate not ready after 60 s:\n${out}`);
    }
    if (workers > 1) workerPids = childPids(proc.pid!);
    if (workerPids.length >= workers || workers === 1) {
      const ok = await fetch(`${baseUrl}/healthz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
    }
    await sleep(5);
  }
  const exitCode = () => proc.exitCode;
  return {
    pid: proc.pid!,
    port,
    baseUrl,
    workers,
    startupMs: performance.now() - t0,
    servingPids,
    output: () => out,
    stop,
    exitCode,
  };
}
