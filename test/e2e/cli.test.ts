import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ROOMGATE_CLI } from "../support/cli.js";
import { createTestDatabase, type TestDatabase } from "../support/postgres.js";
import { testStore } from "../support/server.js";

const run = promisify(execFile);
const CLI = ROOMGATE_CLI;
const API_KEY = "cli-test-key";

/** The process as an operator runs it: `roomgate serve` with env settings. */
function startServe(env: NodeJS.ProcessEnv): Promise<{ proc: ChildProcess; port: number; stdout: () => string }> {
  // One process: these tests follow the single server's own log lines (cluster mode is tested in cluster.test.ts).
  const proc = spawn(process.execPath, [...CLI, "serve", "--workers", "1"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 20_000);
    proc.stdout!.on("data", () => {
      const m = /"port":(\d+).*roomgate listening/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]), stdout: () => out });
      }
    });
    proc.once("exit", (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

async function call(port: number, method: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`http://127.0.0.1:${port}/room.tokens.private.v1.Service/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

async function issue(port: number): Promise<string> {
  const r = await call(port, "Create", {
    arguments: [{ user_id: "u", room_id: "r", permissions: ["PermissionChat"] }],
  });
  expect(r.status).toBe(200);
  return r.json.tokens[0];
}

/** Key id: bytes 1..4 of the decoded token header. */
function keyIdOf(token: string): number {
  return Buffer.from(token, "base64url").readUInt32BE(1);
}

/**
 * The store a CLI-started server runs on: the data dir's SQLite file, or
 * under the PostgreSQL project a fresh database of its own.
 */
async function storeEnv(): Promise<{ env: Record<string, string>; pg: TestDatabase | undefined }> {
  if (testStore() !== "postgres") return { env: {}, pg: undefined };
  const db = await createTestDatabase();
  return { env: { ROOMGATE_DATABASE_URL: db.url }, pg: db };
}

/** One query on a connection of its own. */
async function pgQuery<T>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Polls `probe` until it returns true (generous: the machine is shared). */
async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  await vi.waitFor(async () => expect(await probe(), `until ${what}`).toBe(true), { timeout: 20_000, interval: 50 });
}

describe("roomgate CLI: serve, rotate token keys, drain on SIGTERM", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let server: Awaited<ReturnType<typeof startServe>>;
  let db: TestDatabase | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "roomgate-cli-"));
    const store = await storeEnv();
    db = store.pg;
    env = {
      ...process.env,
      PORT: "0",
      HOST: "127.0.0.1",
      ROOMGATE_DATA_DIR: dir,
      ROOMGATE_API_KEY: API_KEY,
      LOG_LEVEL: "info",
      ...store.env,
    };
    server = await startServe(env);
  });

  afterAll(async () => {
    server?.proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it("creates the key file 0600 in the data dir and the database (SQLite: 0600 in the data dir) on first start", async () => {
    expect(statSync(join(dir, "token-keys.json")).mode & 0o777).toBe(0o600);
    if (db) {
      // PostgreSQL: the schema is migrated and the configured key's tenant bootstrapped.
      const [tenants] = await pgQuery<{ n: number }>(db.url, "select count(*)::int as n from tenants");
      expect(tenants!.n).toBe(1);
    } else {
      expect(statSync(join(dir, "roomgate.db")).mode & 0o777).toBe(0o600);
    }
    // A configured key is never echoed.
    expect(server.stdout()).not.toContain(API_KEY);
  });

  it("rotates: old tokens keep verifying after a new key is activated, and stop after retirement", async () => {
    const oldToken = await issue(server.port);
    const oldKey = keyIdOf(oldToken);

    const added = await run(process.execPath, [...CLI, "token-keys", "add", "--activate"], { env });
    expect(added.stdout).toMatch(/added key \d+ \(active\)/);
    // No signal: the server learns of it from the change feed (the CLI
    // records it), or from watching the key file, whichever comes first.
    let newToken = "";
    await eventually("new tokens use the new key", async () => {
      newToken = await issue(server.port);
      return keyIdOf(newToken) !== oldKey;
    });
    expect(server.stdout()).toMatch(/"why":"(key file changed|keyring changed \(change feed\))"/);
    expect((await call(server.port, "Verify", { token: oldToken })).status).toBe(200);
    expect((await call(server.port, "Verify", { token: newToken })).status).toBe(200);

    const listed = await run(process.execPath, [...CLI, "token-keys", "list"], { env });
    expect(listed.stdout).toContain(`${oldKey}\tdecrypt`);

    await run(process.execPath, [...CLI, "token-keys", "retire", String(oldKey)], { env });
    server.proc.kill("SIGHUP");
    await eventually(
      "the retired key's token is refused",
      async () => (await call(server.port, "Verify", { token: oldToken })).status === 401,
    );
    const refused = await call(server.port, "Verify", { token: oldToken });
    expect(refused.json).toEqual({ code: "unauthenticated", message: "invalid token" });
    expect((await call(server.port, "Verify", { token: newToken })).status).toBe(200);
    expect(JSON.parse(readFileSync(join(dir, "token-keys.json"), "utf8")).keys).toHaveLength(1);
  });

  it("refuses to retire the active key", async () => {
    const active = JSON.parse(readFileSync(join(dir, "token-keys.json"), "utf8")).keys[0].id;
    await expect(run(process.execPath, [...CLI, "token-keys", "retire", String(active)], { env })).rejects.toThrow();
  });

  it("exits 0 on SIGTERM after closing the database cleanly", async () => {
    const exited = new Promise<number | null>((r) => server.proc.once("exit", (code) => r(code)));
    server.proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(server.stdout()).toContain('"msg":"stopped"');
    if (db) {
      // PostgreSQL: no connection of the server (pool or listener) is left behind.
      const url = db.url;
      const name = db.name;
      await eventually("the server's connections are gone", async () => {
        const [open] = await pgQuery<{ n: number }>(
          url,
          "select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
          [name],
        );
        return open!.n === 0;
      });
    } else {
      // A clean close checkpoints the WAL away.
      expect(() => statSync(join(dir, "roomgate.db-wal"))).toThrow();
    }
  });
});

describe("roomgate serve: SIGINT", () => {
  it("drains and exits 0 on SIGINT as on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "roomgate-cli-int-"));
    const store = await storeEnv();
    try {
      const env = {
        ...process.env,
        PORT: "0",
        HOST: "127.0.0.1",
        ROOMGATE_DATA_DIR: dir,
        ROOMGATE_API_KEY: API_KEY,
        LOG_LEVEL: "info",
        ...store.env,
      };
      const server = await startServe(env);
      expect((await call(server.port, "Create", { arguments: [{ user_id: "u", room_id: "r" }] })).status).toBe(200);
      const exited = new Promise<number | null>((r) => server.proc.once("exit", (code) => r(code)));
      server.proc.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(server.stdout()).toContain('"signal":"SIGINT"');
      expect(server.stdout()).toContain('"msg":"stopped"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await store.pg?.drop();
    }
  });
});
