import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import pg from "pg";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { RestartPolicy } from "../../src/cluster/restart-policy.js";
import { postJson } from "../support/built-cli.js";
import { ROOMGATE_CLI } from "../support/cli.js";
import { bearer, tokensClient, toArgument, validArgument } from "../support/clients.js";
import { createTestDatabase, type TestDatabase } from "../support/postgres.js";
import { testStore } from "../support/server.js";

/**
 * `roomgate serve --workers N` as an operator runs it: real processes (the
 * CLI compiled for the run, test/support/cli.ts), a temp data dir, LOG_LEVEL=debug so each worker logs the
 * RPCs it answers under its worker id — how the test tells which process
 * answered without the service telling its callers.
 */

const CLI = ROOMGATE_CLI;
const CREATE = "/room.tokens.private.v1.Service/Create";
const KEY_BANNER = "with this API key (shown once, store it now)";

/** One JSON log line (pino) of the primary or a worker. */
interface LogLine {
  readonly msg?: string;
  readonly pid?: number;
  readonly worker?: number;
  readonly port?: number;
  readonly protocol?: string;
  readonly signal?: string;
  readonly [k: string]: unknown;
}

/** Polls `probe` until it returns a value; fails after `ms` (generous: the machine is shared). */
async function until<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  return vi.waitFor(
    () => {
      const v = probe();
      if (v === undefined) throw new Error(`timed out waiting until ${what}`);
      return v;
    },
    { timeout: ms, interval: 25 },
  );
}

/** A running `roomgate serve` process and what it printed. */
class Serve {
  readonly proc: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private ended = false;

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.proc = spawn(process.execPath, [...CLI, "serve", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    this.proc.stdout!.on("data", (c: Buffer) => (this.stdout += c.toString()));
    this.proc.stderr!.on("data", (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) =>
      this.proc.once("exit", (code, signal) => {
        this.ended = true;
        resolve({ code, signal });
      }),
    );
  }

  /** Every JSON log line so far, in order (workers and primary share stdout). */
  lines(): LogLine[] {
    return this.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as LogLine);
  }

  /** The first log line (from index `from` on) matching `pred`, waiting for it. */
  waitFor(what: string, pred: (l: LogLine) => boolean, from = 0, ms?: number): Promise<LogLine> {
    return until(
      what,
      () => {
        const hit = this.lines().slice(from).find(pred);
        if (hit) return hit;
        if (this.ended) throw new Error(`serve exited before ${what}:\n${this.stdout}\n${this.stderr}`);
        return undefined;
      },
      ms,
    );
  }
}

/**
 * A fresh env for one server: nothing inherited that would change what it
 * does. Its store is the data dir's SQLite file, or `db` (the PostgreSQL
 * project's fresh database) when given.
 */
function serveEnv(dir: string, db: TestDatabase | undefined, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: "0",
    HOST: "127.0.0.1",
    ROOMGATE_DATA_DIR: dir,
    LOG_LEVEL: "debug",
    ...extra,
  };
  for (const k of [
    "ROOMGATE_API_KEY",
    "ROOMGATE_WORKERS",
    "ROOMGATE_TOKEN_KEYS",
    "ROOMGATE_DB_PATH",
    "ROOMGATE_KEY_FILE",
    "ROOMGATE_DATABASE_URL",
  ])
    if (!(k in extra)) delete env[k];
  if (db) env["ROOMGATE_DATABASE_URL"] = db.url;
  return env;
}

/** Under the PostgreSQL project, a fresh database for one server; else none (SQLite in the data dir). */
async function freshStore(): Promise<TestDatabase | undefined> {
  return testStore() === "postgres" ? createTestDatabase() : undefined;
}

/** `n` Creates one after another, each on its own connection; every one must succeed. */
async function createsOnFreshConnections(port: number, key: string, n: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await postJson(port, CREATE, key, { arguments: [{ user_id: `u${i}`, room_id: "r" }] });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.tokens).toHaveLength(1);
    tokens.push(r.json.tokens[0]);
  }
  return tokens;
}

/**
 * A raw HTTP/1.1 Create with `Expect: 100-continue`: Node answers 100 right
 * before the handler runs, so once `started` resolves the call is in flight
 * in a worker; the body is sent by the test later.
 */
function inFlightCreate(port: number, key: string) {
  const body = Buffer.from(JSON.stringify({ arguments: [{ user_id: "slow", room_id: "r" }] }));
  const req = http.request({
    host: "127.0.0.1",
    port,
    path: CREATE,
    method: "POST",
    agent: false,
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${key}`,
      "content-length": body.length,
      expect: "100-continue",
    },
  });
  const started = new Promise<void>((resolve) => req.once("continue", () => resolve()));
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on("error", reject);
  });
  response.catch(() => {}); // awaited by the test
  req.flushHeaders();
  const half = Math.floor(body.length / 2);
  return {
    started,
    response,
    firstHalf: () => req.write(body.subarray(0, half)),
    rest: () => req.end(body.subarray(half)),
  };
}

/** Tables in a PostgreSQL database's public schema (0 before any migration). */
async function tableCount(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (
      await client.query<{ n: number }>(
        "select count(*)::int as n from information_schema.tables where table_schema = 'public'",
      )
    ).rows[0]!.n;
  } finally {
    await client.end();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The request log lines (one per call, with its request id: issue 19) of RPCs over `protocol`. */
const rpcLines = (lines: LogLine[], protocol: "connect" | "grpc") =>
  lines.filter((l) => l.msg === "call" && l.protocol === protocol);
const workersOf = (lines: LogLine[]) => [...new Set(lines.map((l) => l.worker))].sort();

describe("serve --workers 2", () => {
  let dir: string;
  let srv: Serve;
  let port: number;
  let key: string;
  let db: TestDatabase | undefined;
  /** Worker id → pid, from the workers' own "worker listening" lines. */
  const pids = new Map<number, number>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "roomgate-cluster-"));
    db = await freshStore();
    srv = new Serve(["--workers", "2"], serveEnv(dir, db));
    // Three processes starting: slow when the machine is busy.
    const ready = await srv.waitFor(
      "the primary reports every worker listening",
      (l) => /^listening on .* with 2 workers$/.test(l.msg ?? ""),
      0,
      60_000,
    );
    port = ready.port!;
    key = /store it now\):\n\n {2}(\S+)\n/.exec(srv.stdout)![1]!;
    // Each worker's own line may reach the shared pipe after the primary's: wait for both.
    for (const w of [1, 2]) {
      const l = await srv.waitFor(
        `worker ${w}'s listening line`,
        (x) => x.msg === "worker listening" && x.worker === w,
      );
      pids.set(w, l.pid!);
    }
  });

  afterAll(async () => {
    srv?.proc.kill("SIGKILL");
    for (const pid of pids.values()) if (alive(pid)) process.kill(pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it("the primary prepares once: one key file, one bootstrap, the API key printed exactly once; both workers share its port", () => {
    expect(srv.stdout.split(KEY_BANNER)).toHaveLength(2);
    expect(srv.stdout.split(key)).toHaveLength(2);
    const lines = srv.lines();
    expect(lines.filter((l) => l.msg === "generated token key file (mode 0600)")).toHaveLength(1);
    expect(lines.filter((l) => l.msg === "bootstrap tenant")).toHaveLength(1);
    // The listening line comes after both workers said they listen, on the primary's port.
    const listening = lines.filter((l) => l.msg === "worker listening");
    expect(listening.map((l) => l.worker).sort()).toEqual([1, 2]);
    expect(listening.map((l) => l.port)).toEqual([port, port]);
    const primary = lines.find((l) => l.msg?.startsWith("listening on"))!;
    expect(primary.msg).toBe(`listening on 127.0.0.1:${port} with 2 workers`);
    expect(primary.pid).not.toBe(listening[0]!.pid);
    // By the clock, not by the order in the shared pipe: three processes
    // write to it, each flushing when it may.
    expect(primary["time"] as number).toBeGreaterThanOrEqual(Math.max(...listening.map((l) => l["time"] as number)));
  });

  it("answers Connect JSON and gRPC calls, each call by exactly one worker, and both workers answer", async () => {
    const from = srv.lines().length;
    const tokens = await createsOnFreshConnections(port, key, 4);
    const verified = await postJson(port, "/room.tokens.private.v1.Service/Verify", key, { token: tokens[0] });
    expect(verified.status).toBe(200);
    expect(verified.json.userId).toBe("u0");

    // gRPC: each client its own HTTP/2 connection.
    for (let i = 0; i < 4; i++) {
      const sessions = new Http2SessionManager(`http://127.0.0.1:${port}`);
      try {
        const client = tokensClient(
          createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, sessionManager: sessions }),
        );
        const res = await client.create({ arguments: [toArgument(validArgument(i))] }, bearer(key));
        expect(res.tokens).toHaveLength(1);
        const claims = await client.verify({ token: res.tokens[0]! }, bearer(key));
        expect(claims.userId).toBe(`user-${i}`);
      } finally {
        sessions.abort();
      }
    }

    // Log lines reach the test through a pipe, so wait for all of them; one line per call, never two.
    const json = await until("every JSON call is logged", () => {
      const got = rpcLines(srv.lines().slice(from), "connect");
      return got.length >= 5 ? got : undefined;
    });
    const grpc = await until("every gRPC call is logged", () => {
      const got = rpcLines(srv.lines().slice(from), "grpc");
      return got.length >= 8 ? got : undefined;
    });
    expect(json).toHaveLength(5);
    expect(grpc).toHaveLength(8);
    // Every line about a call carries its request id; no second, id-less line per call.
    for (const l of [...json, ...grpc]) expect(l["requestId"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(srv.lines().filter((l) => l.msg === "rpc")).toEqual([]);
    expect(workersOf(json)).toEqual([1, 2]);
    expect(workersOf(grpc)).toEqual([1, 2]);
  });

  it("GET /metrics on any worker counts every worker's calls (the primary aggregates them)", async () => {
    // The calls of the test before: 4 JSON + 4 gRPC Creates, answered by both workers.
    const scrape = () =>
      new Promise<string>((resolve, reject) => {
        http
          .get({ host: "127.0.0.1", port, path: "/metrics", agent: false }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => (text += c));
            res.on("end", () =>
              res.statusCode === 200 ? resolve(text) : reject(new Error(`status ${res.statusCode}`)),
            );
          })
          .on("error", reject);
      });
    const creates = (text: string) =>
      text
        .split("\n")
        .filter(
          (l) =>
            l.startsWith("roomgate_calls_total{") && l.includes('procedure="room.tokens.private.v1.Service/Create"'),
        )
        .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
    // Fresh connections land on either worker; every scrape tells the same total.
    for (let i = 0; i < 6; i++) expect(creates(await scrape())).toBe(8);
  });

  it("replaces a worker killed with SIGKILL, and calls keep succeeding", async () => {
    const victim = pids.get(1)!;
    const from = srv.lines().length;
    process.kill(victim, "SIGKILL");
    const died = await srv.waitFor("the primary notices the death", (l) => l.msg === "worker died unexpectedly", from);
    expect(died).toMatchObject({ worker: 1, signal: "SIGKILL" });
    expect(alive(victim)).toBe(false);

    // While the replacement starts, the surviving worker answers.
    await createsOnFreshConnections(port, key, 3);

    const replaced = await srv.waitFor("a replacement listens", (l) => l.msg === "replacement worker listening", from);
    expect(replaced).toMatchObject({ worker: 3, workers: 2 });
    const started = await srv.waitFor(
      "the replacement's listening line",
      (l) => l.msg === "worker listening" && l.worker === 3,
    );
    expect(started.port).toBe(port);
    pids.set(3, started.pid!);
    pids.delete(1);

    const after = srv.lines().length;
    await createsOnFreshConnections(port, key, 4);
    const answered = await until("the calls after the replacement are logged", () => {
      const got = rpcLines(srv.lines().slice(after), "connect");
      return got.length >= 4 ? got : undefined;
    });
    expect(answered).toHaveLength(4);
    expect(workersOf(answered)).toEqual([2, 3]);
  });

  it("SIGHUP on the primary reloads the keyring in every worker, the replacement included", async () => {
    const from = srv.lines().length;
    srv.proc.kill("SIGHUP");
    for (const w of [2, 3]) {
      await srv.waitFor(
        `worker ${w} reloads`,
        (l) => l.msg === "token keyring reloaded" && l.why === "SIGHUP" && l.worker === w,
        from,
      );
    }
    expect(alive(srv.proc.pid!)).toBe(true);
    await createsOnFreshConnections(port, key, 2);
  });

  it("SIGTERM on the primary: in-flight calls complete, every process exits, exit code 0", async () => {
    const calls = [inFlightCreate(port, key), inFlightCreate(port, key)];
    await Promise.all(calls.map((c) => c.started));
    for (const c of calls) c.firstHalf();

    const from = srv.lines().length;
    srv.proc.kill("SIGTERM");
    // Both live workers drain (workers 2 and 3); the calls are still open.
    for (const w of [2, 3])
      await srv.waitFor(`worker ${w} drains`, (l) => l.msg === "draining in-flight calls" && l.worker === w, from);
    for (const c of calls) c.rest();

    for (const c of calls) {
      const res = await c.response;
      expect(res.status, res.body).toBe(200);
      expect(JSON.parse(res.body).tokens).toHaveLength(1);
    }
    expect(await srv.exited).toEqual({ code: 0, signal: null });
    // One call was in flight in each worker (the cluster hands concurrent connections to different free workers).
    expect(workersOf(rpcLines(srv.lines().slice(from), "connect"))).toEqual([2, 3]);
    for (const pid of pids.values()) expect(alive(pid), `worker pid ${pid}`).toBe(false);
    const lines = srv.lines().slice(from);
    expect(workersOf(lines.filter((l) => l.msg === "stopped"))).toEqual([2, 3]);
    expect(lines.at(-1)?.msg).toBe("all workers stopped");
    // The replacement never printed the bootstrap key again.
    expect(srv.stdout.split(KEY_BANNER)).toHaveLength(2);
    expect(srv.stderr).toBe("");
  });
});

describe("serve --workers 1", () => {
  it("is the single process of old: no cluster, it listens itself and exits 0 on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "roomgate-cluster-one-"));
    const db = await freshStore();
    const srv = new Serve(["--workers", "1"], serveEnv(dir, db));
    try {
      const ready = await srv.waitFor("it listens", (l) => l.msg === "roomgate listening");
      expect(ready.pid).toBe(srv.proc.pid);
      expect(
        (
          await postJson(ready.port!, CREATE, /store it now\):\n\n {2}(\S+)\n/.exec(srv.stdout)![1]!, {
            arguments: [{ user_id: "u", room_id: "r" }],
          })
        ).status,
      ).toBe(200);
      srv.proc.kill("SIGTERM");
      expect(await srv.exited).toEqual({ code: 0, signal: null });
      expect(srv.lines().filter((l) => l.worker !== undefined || l.msg?.includes("worker"))).toEqual([]);
    } finally {
      srv.proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      await db?.drop();
    }
  });
});

describe("serve --workers: bad values and failed starts", () => {
  const run = (args: string[], env: NodeJS.ProcessEnv) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, [...CLI, "serve", ...args], { env, timeout: 30_000 }, (err, _stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stderr }),
      );
    });

  it("refuses --workers 0, --workers abc and ROOMGATE_WORKERS=abc, naming the setting, before touching the data dir", async () => {
    const dir = mkdtempSync(join(tmpdir(), "roomgate-cluster-bad-"));
    const db = await freshStore();
    try {
      const [zero, abc, env] = await Promise.all([
        run(["--workers", "0"], serveEnv(dir, db)),
        run(["--workers", "abc"], serveEnv(dir, db)),
        run([], serveEnv(dir, db, { ROOMGATE_WORKERS: "abc" })),
      ]);
      expect(zero.code).toBe(1);
      expect(zero.stderr).toContain("option '--workers <n>' argument '0' is invalid");
      expect(abc.code).toBe(1);
      expect(abc.stderr).toContain("option '--workers <n>' argument 'abc' is invalid");
      expect(env.code).toBe(1);
      expect(env.stderr).toContain('roomgate: ROOMGATE_WORKERS must be a whole number, got "abc"');
      expect(readdirSync(dir)).toEqual([]);
      // Nor the database: no migration ran.
      if (db) expect(await tableCount(db.url)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await db?.drop();
    }
  });

  it("a port already in use ends the primary with exit code 1 and the error, without retrying forever", async () => {
    const dir = mkdtempSync(join(tmpdir(), "roomgate-cluster-busy-"));
    const db = await freshStore();
    let srv: Serve | undefined;
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    try {
      const busy = (blocker.address() as net.AddressInfo).port;
      srv = new Serve(["--workers", "2"], serveEnv(dir, db, { PORT: String(busy) }));
      // A primary that kept retrying would never exit: the test's timeout ends it.
      expect(await srv.exited).toEqual({ code: 1, signal: null });
      // One line, before any worker exists or anything is written (issue 10: a port clash bootstraps no tenant).
      expect(srv.stderr).toBe(
        `roomgate: port ${busy} on 127.0.0.1 is already in use; set PORT (or stop the other process); nothing was written\n`,
      );
      expect(srv.lines().filter((l) => l.msg === "worker listening")).toEqual([]);
    } finally {
      srv?.proc.kill("SIGKILL");
      blocker.close();
      rmSync(dir, { recursive: true, force: true });
      await db?.drop();
    }
  });
});

describe("RestartPolicy", () => {
  it("replaces at once, then backs off doubling, and gives up past the bound within the window", () => {
    const p = new RestartPolicy({ windowMs: 60_000, maxDeaths: 5, baseDelayMs: 500, maxDelayMs: 1_500 });
    const delays = [0, 1_000, 2_000, 3_000, 4_000, 5_000].map((t) => p.onDeath(t));
    expect(delays).toEqual([0, 500, 1_000, 1_500, 1_500, undefined]);
  });

  it("forgets deaths older than the window", () => {
    const p = new RestartPolicy({ windowMs: 60_000, maxDeaths: 2, baseDelayMs: 500, maxDelayMs: 10_000 });
    expect(p.onDeath(0)).toBe(0);
    expect(p.onDeath(1_000)).toBe(500);
    expect(p.onDeath(60_500)).toBe(500); // the death at 0 is forgotten, the one at 1 000 is not
    expect(p.onDeath(121_500)).toBe(0);
  });
});
