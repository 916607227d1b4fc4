import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateTokenKey } from "../../src/domain/tokens/keyring.js";
import { createTestDatabase, type TestDatabase } from "./postgres.js";
import { testStore } from "./server.js";

/** One `roomgate serve` process of a replica set. */
export interface Replica {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly baseUrl: string;
  /** Everything it printed, for failure messages. */
  output(): string;
}

/** Several replicas over one store, as an operator runs them. */
export interface ReplicaSet {
  readonly replicas: Replica[];
  readonly apiKey: string;
  /** The environment the replicas run with (for running the CLI against the same store). */
  readonly env: NodeJS.ProcessEnv;
  /** Starts one more replica on the same store (e.g. after a SIGKILL), with `env` on top of the set's. */
  add(env?: Record<string, string>): Promise<Replica>;
  close(): Promise<void>;
}

// The CLI compiled once for the run (test/support/build-cli.ts), else the source under tsx.
const CLI = [
  ...(process.env["ROOMGATE_TEST_CLI"] ? [process.env["ROOMGATE_TEST_CLI"]] : ["--import", "tsx", "src/main.ts"]),
  "serve",
];

/** How the replicas run. */
export interface ReplicaOptions {
  /** Worker processes per replica (`serve --workers`); default 1, a single process. */
  readonly workers?: number;
}

/**
 * Starts `n` real replicas over one store: the test project's store — one
 * SQLite file in one data directory, or one fresh PostgreSQL database. They
 * share the token keys through ROOMGATE_TOKEN_KEYS, as replicas on several
 * machines would, and the bootstrap API key through ROOMGATE_API_KEY.
 */
export async function startReplicas(
  n: number,
  env: Record<string, string> = {},
  opts: ReplicaOptions = {},
): Promise<ReplicaSet> {
  const dataDir = mkdtempSync(join(tmpdir(), "roomgate-replicas-"));
  let pg: TestDatabase | undefined;
  if (testStore() === "postgres") pg = await createTestDatabase();
  const key = generateTokenKey(Date.now());
  const apiKey = "replica-test-key-0123456789";
  const base: NodeJS.ProcessEnv = {
    PATH: process.env["PATH"],
    HOME: process.env["HOME"],
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    ROOMGATE_DATA_DIR: dataDir,
    ROOMGATE_API_KEY: apiKey,
    ROOMGATE_TOKEN_KEYS: `${key.id}:${Buffer.from(key.secret).toString("base64url")}`,
    ROOMGATE_SHUTDOWN_GRACE_MS: "2000",
    // Writes from many test clients come from one address.
    ROOMGATE_RATE_LIMIT_PER_SECOND: "0",
    ...(pg ? { ROOMGATE_DATABASE_URL: pg.url } : {}),
    ...env,
  };
  const replicas: Replica[] = [];
  const add = async (extra: Record<string, string> = {}): Promise<Replica> => {
    const r = await startOne({ ...base, ...extra }, opts.workers ?? 1);
    replicas.push(r);
    return r;
  };
  try {
    // The first start creates the schema; the others then start together.
    await add();
    await Promise.all(Array.from({ length: n - 1 }, () => add()));
  } catch (err) {
    for (const r of replicas) r.proc.kill("SIGKILL");
    await pg?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    replicas,
    apiKey,
    env: base,
    add,
    async close() {
      await Promise.all(
        replicas.map(
          (r) =>
            new Promise<void>((resolve) => {
              if (r.proc.exitCode !== null || r.proc.signalCode !== null) return resolve();
              r.proc.once("exit", () => resolve());
              r.proc.kill("SIGTERM");
            }),
        ),
      );
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function startOne(env: NodeJS.ProcessEnv, workers: number): Promise<Replica> {
  const proc = spawn(process.execPath, [...CLI, "--workers", String(workers)], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replica did not start: ${out}`)), 30_000);
    const onData = () => {
      // A single process says "roomgate listening"; a cluster's primary, once every worker listens, "listening on … with N workers".
      const m = /"port":(\d+)[^\n]*(roomgate listening|with \d+ workers)/.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.stdout!.off("data", onData);
        const port = Number(m[1]);
        resolve({ proc, port, baseUrl: `http://127.0.0.1:${port}`, output: () => out });
      }
    };
    proc.stdout!.on("data", onData);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`replica exited ${code}: ${out}`));
    });
  });
}
