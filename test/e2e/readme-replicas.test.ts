import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, it, vi } from "vitest";
import { freePort } from "../../bench/lib/replica-procs.js";
import { getFresh, postFresh, RPC } from "../support/json-calls.js";

/**
 * Issue 17, point 4: the README's "Three replicas" commands, run as written
 * — with only the database name and the three ports replaced by free ones,
 * and the data dir pointed at a temporary folder — start three servers that
 * serve one tenant with one keyring: a token issued on one verifies on the
 * other two.
 */

const REPO = join(import.meta.dirname, "..", "..");
const ADMIN_URL = process.env["ROOMGATE_TEST_DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/postgres";

/** The README's shell block under "Three replicas behind one port or a load balancer". */
function readmeBlock(): string {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const at = readme.indexOf("**Three replicas behind one port or a load balancer:**");
  const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (at < 0 || !m) throw new Error("README: no replicas block");
  return m[1]!;
}

let shell: ChildProcess | undefined;
let dataDir: string | undefined;
const dbName = `rg_readme_${randomBytes(6).toString("hex")}`;

afterAll(async () => {
  // The three servers run in the shell's process group: stop them all.
  if (shell?.pid !== undefined) {
    const gone = new Promise<void>((r) => shell!.once("exit", () => r()));
    try {
      process.kill(-shell.pid, "SIGTERM");
    } catch {
      // already gone
    }
    await gone;
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`drop database if exists ${dbName} with (force)`);
  await admin.end();
});

describe("the README's replicas section, run as written", () => {
  it("three servers from one build serve one tenant and one keyring", async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    let script = readmeBlock()
      .replaceAll("roomgate                ", `${dbName}                `)
      .replaceAll("/roomgate\n", `/${dbName}\n`);
    for (const [i, p] of ["8081", "8082", "8083"].entries())
      script = script.replaceAll(`PORT=${p}`, `PORT=${ports[i]}`);
    expect(script).toContain(`createdb -h 127.0.0.1 -U postgres ${dbName}`);
    dataDir = mkdtempSync(join(tmpdir(), "roomgate-readme-replicas-"));
    const env: NodeJS.ProcessEnv = { ...process.env, ROOMGATE_DATA_DIR: dataDir, LOG_LEVEL: "info" };
    for (const k of Object.keys(env)) if (k.startsWith("ROOMGATE_") && k !== "ROOMGATE_DATA_DIR") delete env[k];
    let out = "";
    shell = spawn("bash", ["-c", `set -e\n${script}\necho "API_KEY=$ROOMGATE_API_KEY"\nwait`], {
      cwd: REPO,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    shell.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    shell.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    const key = await vi.waitFor(
      () => {
        const m = /API_KEY=(\S+)/.exec(out);
        if (!m) throw new Error(`no key yet:\n${out}`);
        return m[1]!;
      },
      { timeout: 60_000, interval: 50 },
    );
    for (const port of ports) {
      await vi.waitFor(async () => expect((await getFresh(port, "/readyz")).status).toBe(200), {
        timeout: 60_000,
        interval: 100,
      });
    }
    const created = await postFresh(ports[0]!, RPC.create, key, { arguments: [{ userId: "u", roomId: "r" }] });
    expect(created.status, JSON.stringify(created.json)).toBe(200);
    for (const port of ports)
      expect((await postFresh(port, RPC.verify, key, { token: created.json.tokens[0] })).status).toBe(200);
    // One tenant: the key set in the environment opened it on all three; no key was printed.
    expect(out).not.toContain("shown once");
  }, 120_000);
});
