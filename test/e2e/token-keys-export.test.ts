import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtCli, cleanEnv, postJson, Proc } from "../support/built-cli.js";

/**
 * `roomgate token-keys export` round-trips through ROOMGATE_TOKEN_KEYS: a
 * server using the key file issues a token, the keyring gets a second,
 * active key (so the export has an active key first and a decrypt-only one
 * after it), the CLI issues a token with the new key, and a server started
 * on the same database with only the exported keys — its data dir empty, no
 * key file — verifies both.
 *
 * SQLite only, and not under fast-path-off: it is about the keyring's
 * format, not the store or a protocol path.
 */

const run = promisify(execFile);
const API_KEY = `rgk_0123456789abcdef_${"k".repeat(43)}`;
const CREATE = "/room.tokens.private.v1.Service/Create";
const VERIFY = "/room.tokens.private.v1.Service/Verify";

let cli: string;
let work: string;
const procs: Proc[] = [];

beforeAll(async () => {
  cli = await builtCli();
  work = mkdtempSync(join(tmpdir(), "roomgate-export-"));
}, 120_000);

afterAll(() => {
  for (const p of procs) p.kill();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** `serve --workers 1` with `env`; resolves once it listens, with its port. */
async function serve(env: NodeJS.ProcessEnv): Promise<{ proc: Proc; port: number }> {
  const proc = new Proc(process.execPath, [cli, "serve", "--workers", "1"], env);
  procs.push(proc);
  const line = await proc.waitFor("roomgate listening", (l) => l.msg === "roomgate listening");
  return { proc, port: line.port! };
}

async function stop(proc: Proc): Promise<void> {
  proc.child.kill("SIGTERM");
  expect(await proc.exited).toEqual({ code: 0, signal: null });
}

const skip = process.env["ROOMGATE_FAST_PATH"] === "off" || process.env["ROOMGATE_TEST_STORE"] === "postgres";

describe.skipIf(skip)("token-keys export", () => {
  it("prints the keyring as ROOMGATE_TOKEN_KEYS takes it, and a server started with it verifies the key file's tokens", async () => {
    const dataDir = join(work, "data");
    const withFile = cleanEnv({ ROOMGATE_DATA_DIR: dataDir, ROOMGATE_API_KEY: API_KEY });

    const a = await serve(withFile);
    const issued = await postJson(a.port, CREATE, API_KEY, { arguments: [{ user_id: "u1", room_id: "r1" }] });
    expect(issued.status, JSON.stringify(issued.json)).toBe(200);
    const fromServer: string = issued.json.tokens[0];
    await stop(a.proc);

    // A second key, made active: the first stays decrypt-only.
    await run(process.execPath, [cli, "token-keys", "add", "--activate"], { env: withFile });
    const created = await run(process.execPath, [cli, "tokens", "create", "--user", "u2", "--room", "r1"], {
      env: withFile,
    });
    const fromCli: string = JSON.parse(created.stdout).token;
    const listed = (await run(process.execPath, [cli, "token-keys", "list"], { env: withFile })).stdout;
    const ids = listed
      .trim()
      .split("\n")
      .map((l) => l.split("\t"));
    const active = ids.find(([, state]) => state === "active")![0]!;
    const decrypt = ids.find(([, state]) => state === "decrypt")![0]!;

    const exported = await run(process.execPath, [cli, "token-keys", "export"], { env: withFile });
    // stdout is the value alone (one line), the active key first; stderr warns and holds no secret.
    expect(exported.stdout).toMatch(/^\d+:[A-Za-z0-9_-]{43},\d+:[A-Za-z0-9_-]{43}\n$/);
    const value = exported.stdout.trim();
    expect(value.split(",").map((e) => e.split(":")[0])).toEqual([active, decrypt]);
    expect(exported.stderr).toMatch(/secret/);
    for (const entry of value.split(",")) expect(exported.stderr).not.toContain(entry.split(":")[1]);

    // Same database, an empty data dir of its own (no key file), only the exported keys.
    const emptyDir = join(work, "empty");
    const b = await serve(
      cleanEnv({
        ROOMGATE_DATA_DIR: emptyDir,
        ROOMGATE_DB_PATH: join(dataDir, "roomgate.db"),
        ROOMGATE_TOKEN_KEYS: value,
      }),
    );
    for (const token of [fromServer, fromCli]) {
      const verified = await postJson(b.port, VERIFY, API_KEY, { token });
      expect(verified.status, JSON.stringify(verified.json)).toBe(200);
    }
    expect(existsSync(join(emptyDir, "token-keys.json"))).toBe(false);
    await stop(b.proc);
  });
});
