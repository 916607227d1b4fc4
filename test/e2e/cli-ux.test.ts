import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SETTINGS } from "../../src/config/settings.js";
import { ROOMGATE_CLI } from "../support/cli.js";
import { createTestDatabase, type TestDatabase } from "../support/postgres.js";
import { testStore } from "../support/server.js";

const exec = promisify(execFile);
const CLI = ROOMGATE_CLI;
const API_KEY = "cli-ux-test-key";

/** Runs the CLI to completion; never throws, so refusals can be asserted. */
async function roomgate(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [...CLI, ...args], { env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** Runs the CLI with `input` on its standard input. */
function roomgateWithInput(
  args: string[],
  env: NodeJS.ProcessEnv,
  input: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** A fresh PostgreSQL database under the postgres project; none under sqlite. */
async function storeEnv(): Promise<{ env: Record<string, string>; pg: TestDatabase | undefined }> {
  if (testStore() !== "postgres") return { env: {}, pg: undefined };
  const db = await createTestDatabase();
  return { env: { ROOMGATE_DATABASE_URL: db.url }, pg: db };
}

/** Tables in the PostgreSQL test database (none: nothing was created). */
async function pgTables(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      "select count(*)::int as n from information_schema.tables where table_schema = 'public'",
    );
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

describe("roomgate CLI: version, unknown commands, missing stores, serve --help", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let db: TestDatabase | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "roomgate-cli-ux-"));
    const store = await storeEnv();
    db = store.pg;
    env = { ...process.env, ROOMGATE_DATA_DIR: join(dir, "typo"), LOG_LEVEL: "silent", ...store.env };
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  /** Nothing was created: no data dir, no schema. */
  async function nothingCreated(): Promise<void> {
    expect(existsSync(join(dir, "typo"))).toBe(false);
    if (db) expect(await pgTables(db.url)).toBe(0);
  }

  it("prints the package version", async () => {
    const r = await roomgate(["--version"], env);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("0.1.0");
  });

  it("names an unknown command with a suggestion, exits 1 and creates nothing", async () => {
    const r = await roomgate(["api-key", "list"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unknown command 'api-key'");
    expect(r.stderr).toContain("Did you mean api-keys?");
    expect(r.stderr).not.toContain("serve");
    await nothingCreated();
  });

  it.each([
    [["api-keys", "list"]],
    [["api-keys", "create", "--tenant", "t"]],
    [["api-keys", "revoke", "rgk_x"]],
    [["maintenance", "prune", "--dry-run"]],
    [["tokens", "create", "--user", "u", "--room", "r"]],
    [["tokens", "verify", "AAAA"]],
  ])("%j refuses a store that does not exist and creates none", async (args) => {
    const r = await roomgate(args, env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(db ? /has no roomgate schema/ : /no database at .*typo/);
    await nothingCreated();
  });

  it("token-keys list/activate/retire refuse a missing key file", async () => {
    for (const args of [
      ["token-keys", "list"],
      ["token-keys", "activate", "1"],
      ["token-keys", "retire", "1"],
    ]) {
      const r = await roomgate(args, env);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("no token key file");
    }
    await nothingCreated();
  });

  it("token-keys add on a fresh data dir creates the key file only: no database, no schema", async () => {
    const fresh = join(dir, "fresh");
    const r = await roomgate(["token-keys", "add"], { ...env, ROOMGATE_DATA_DIR: fresh });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/created key file .*token-keys\.json/);
    expect(readdirSync(fresh)).toEqual(["token-keys.json"]);
    if (db) expect(await pgTables(db.url)).toBe(0);
  });

  it("serve --help lists every setting with its default", async () => {
    const r = await roomgate(["serve", "--help"], env);
    expect(r.code).toBe(0);
    for (const s of SETTINGS) {
      const line = r.stdout.split("\n").find((l) => l.trimStart().startsWith(`${s.name} `));
      expect(line, `serve --help lacks ${s.name}`).toBeDefined();
      expect(line).toContain(`(default: ${s.default})`);
    }
  });

  it("a bad setting is named, exit 1", async () => {
    const r = await roomgate(["api-keys", "list"], { ...env, LOG_LEVEL: "verbose" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("LOG_LEVEL must be one of");
    const cors = await roomgate(["serve", "--workers", "1"], {
      ...env,
      LOG_LEVEL: "info",
      ROOMGATE_CORS_ORIGINS: "example.com",
    });
    expect(cors.code).toBe(1);
    expect(cors.stderr).toContain("ROOMGATE_CORS_ORIGINS");
    await nothingCreated();
  });
});

describe("roomgate serve: a port clash writes nothing", () => {
  it.each([["1"], ["2"]])(
    "with %s worker(s): exit 1 naming the port; no data dir, key file or tenant",
    async (workers) => {
      const dir = mkdtempSync(join(tmpdir(), "roomgate-clash-"));
      const store = await storeEnv();
      const blocker = net.createServer();
      await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
      const port = (blocker.address() as net.AddressInfo).port;
      try {
        const data = join(dir, "data");
        const env = {
          ...process.env,
          PORT: String(port),
          HOST: "127.0.0.1",
          ROOMGATE_DATA_DIR: data,
          LOG_LEVEL: "info",
          ...store.env,
        };
        const r = await roomgate(["serve", "--workers", workers], env);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
        expect(r.stdout).not.toContain("API key");
        expect(existsSync(data) ? readdirSync(data) : []).toEqual([]);
        if (store.pg) expect(await pgTables(store.pg.url)).toBe(0);
      } finally {
        await new Promise<void>((r) => blocker.close(() => r()));
        rmSync(dir, { recursive: true, force: true });
        await store.pg?.drop();
      }
    },
  );
});

describe("roomgate tokens create / verify against the store a server runs on", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let proc: ChildProcess;
  let port: number;
  let db: TestDatabase | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "roomgate-cli-tokens-"));
    const store = await storeEnv();
    db = store.pg;
    env = {
      ...process.env,
      PORT: "0",
      HOST: "127.0.0.1",
      ROOMGATE_DATA_DIR: dir,
      ROOMGATE_API_KEY: API_KEY,
      ROOMGATE_WORKERS: "1",
      LOG_LEVEL: "info",
      ...store.env,
    };
    // No command at all: `roomgate` alone serves.
    proc = spawn(process.execPath, CLI, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 20_000);
      proc.stdout!.on("data", (c: Buffer) => {
        out += c.toString();
        const m = /"port":(\d+).*roomgate listening/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      proc.once("exit", (code) => reject(new Error(`server exited ${code}: ${out}`)));
    });
  });

  afterAll(async () => {
    proc?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  async function serverVerify(token: string): Promise<{ status: number; json: any }> {
    const res = await fetch(`http://127.0.0.1:${port}/room.tokens.private.v1.Service/Verify`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ token }),
    });
    return { status: res.status, json: await res.json() };
  }

  it("creates a token the server verifies, and verifies it back to the same claims", async () => {
    const created = await roomgate(
      [
        "tokens",
        "create",
        "--user",
        "u-1",
        "--room",
        "r-1",
        "--permissions",
        "PermissionRoomKick,PermissionChat",
        "--ttl",
        "600",
        "--metadata",
        '{"note":"cli"}',
      ],
      env,
    );
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const out = JSON.parse(created.stdout) as { tenantId: string; token: string };
    expect(out.tenantId).toMatch(/^[0-9a-f-]{36}$/);

    const onServer = await serverVerify(out.token);
    expect(onServer.status).toBe(200);
    expect(onServer.json).toMatchObject({ userId: "u-1", roomId: "r-1", metadata: { note: "cli" } });
    expect(onServer.json.permissions).toContain("PermissionRoomKick");

    const verified = await roomgate(["tokens", "verify", out.token], env);
    expect(verified.code).toBe(0);
    const claims = JSON.parse(verified.stdout);
    expect(claims).toMatchObject({
      tenantId: out.tenantId,
      userId: "u-1",
      roomId: "r-1",
      metadata: { note: "cli" },
      restrictions: [],
    });
    expect(claims.permissions).toEqual(onServer.json.permissions);
    expect(claims.tokenId).toBe(onServer.json.tokenId);
    expect(Date.parse(claims.expiresAt) - Date.parse(claims.issuedAt)).toBe(600_000);
  });

  it("verify refuses a revoked token, an altered one and another tenant's (exit 1)", async () => {
    const { token } = JSON.parse(
      (await roomgate(["tokens", "create", "--user", "u-2", "--room", "r-2"], env)).stdout,
    ) as { token: string };
    const altered = token.slice(0, -2) + (token.endsWith("A") ? "BB" : "AA");
    const bad = await roomgate(["tokens", "verify", altered], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe("");
    const other = await roomgate(["tokens", "verify", "--tenant", "00000000-0000-4000-8000-000000000000", token], env);
    expect(other.code).toBe(1);

    const res = await fetch(`http://127.0.0.1:${port}/room.tokens.private.v1.Service/Revoke`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ token_id: JSON.parse((await roomgate(["tokens", "verify", token], env)).stdout).tokenId }),
    });
    expect(res.status).toBe(200);
    const revoked = await roomgate(["tokens", "verify", token], env);
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toContain("revoked");
  });

  it("verify reads the token from standard input when it is not an argument (kept out of the process list)", async () => {
    const { token } = JSON.parse(
      (await roomgate(["tokens", "create", "--user", "u-stdin", "--room", "r-stdin"], env)).stdout,
    ) as { token: string };
    const piped = await roomgateWithInput(["tokens", "verify"], env, `${token}\n`);
    expect(piped.stderr).toBe("");
    expect(piped.code).toBe(0);
    expect(JSON.parse(piped.stdout)).toMatchObject({ userId: "u-stdin", roomId: "r-stdin" });
    const dash = await roomgateWithInput(["tokens", "verify", "-"], env, token);
    expect(dash.code).toBe(0);
    expect(JSON.parse(dash.stdout)).toMatchObject({ userId: "u-stdin" });
    const empty = await roomgateWithInput(["tokens", "verify"], env, "\n");
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain("no token on standard input");
    expect(empty.stdout).toBe("");
  });

  it("create refuses an unknown permission, a bad --metadata and an unknown tenant, writing nothing", async () => {
    for (const args of [
      ["--permissions", "PermissionFly"],
      ["--metadata", "[1]"],
      ["--tenant", "00000000-0000-4000-8000-000000000000"],
    ]) {
      const r = await roomgate(["tokens", "create", "--user", "u-3", "--room", "r-3", ...args], env);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stdout).toBe("");
    }
  });
});
