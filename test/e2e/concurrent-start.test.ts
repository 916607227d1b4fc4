import { execFile, spawn } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, get, Proc, REPO } from "../support/built-cli.js";
import { copyEntry } from "../support/packages.js";

/**
 * `npm start` three times at once from one checkout with no dist/ yet (the
 * README's replicas example does this): scripts/build.mjs compiles once
 * under its lock while the other two wait, dist/ appears whole, and all
 * three serve (ports of their own, one shared data dir: one tenant, its key
 * printed once). Then the build's two other rules: nothing changed, nothing
 * compiled; a lock left by a dead process does not block a rebuild.
 *
 * A copy of the checkout (git's files, node_modules linked), so the repo's
 * own dist/ is never removed under other test files. SQLite only, and not
 * under fast-path-off: it is about the build and the processes.
 */

const run = promisify(execFile);
const KEY_BANNER = "with this API key (shown once, store it now)";
const COMPILING = "roomgate build: bundling";

let work: string;
let checkout: string;
const procs: Proc[] = [];

/** Copies the working tree's files as git sees them (tracked plus new, not ignored), without dist/. */
async function copyCheckout(to: string): Promise<void> {
  const { stdout } = await run("git", ["ls-files", "-co", "--exclude-standard", "-z"], {
    cwd: REPO,
    maxBuffer: 16 << 20,
  });
  for (const file of stdout.split("\0")) {
    if (!file || file === "node_modules" || file.startsWith("dist/") || !existsSync(join(REPO, file))) continue;
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyEntry(join(REPO, file), join(to, file));
  }
  symlinkSync(realpathSync(join(REPO, "node_modules")), join(to, "node_modules"), "dir");
}

/** Runs scripts/build.mjs in the copy; its exit code and stderr. */
async function build(): Promise<{ code: number; stderr: string }> {
  try {
    const r = await run(process.execPath, ["scripts/build.mjs"], { cwd: checkout });
    return { code: 0, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: e.code ?? 1, stderr: e.stderr ?? String(err) };
  }
}

/** The pid of a process that has exited: what a build killed mid-way leaves in its lock. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid!;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "roomgate-concurrent-start-"));
  checkout = join(work, "checkout");
  mkdirSync(checkout);
  await copyCheckout(checkout);
}, 60_000);

afterAll(() => {
  for (const p of procs) p.kill();
  if (work) rmSync(work, { recursive: true, force: true });
});

const skip = process.env["ROOMGATE_FAST_PATH"] === "off" || process.env["ROOMGATE_TEST_STORE"] === "postgres";

describe.skipIf(skip)("npm start, three at once from one checkout", () => {
  it("builds once and all three serve", async () => {
    expect(existsSync(join(checkout, "dist"))).toBe(false);
    const env = cleanEnv({ ROOMGATE_DATA_DIR: join(work, "data") });
    const starts = [0, 1, 2].map(() => new Proc("npm", ["start", "--", "--workers", "1"], env, checkout));
    procs.push(...starts);
    const listening = await Promise.all(
      starts.map((p) => p.waitFor("roomgate listening", (l) => l.msg === "roomgate listening")),
    );
    const ports = listening.map((l) => l.port!);
    expect(new Set(ports).size).toBe(3);
    for (const port of ports) expect(await get(port, "/healthz")).toEqual({ status: 200, body: '{"status":"ok"}' });

    const all = starts.map((p) => `${p.stdout}\n${p.stderr}`).join("\n---\n");
    expect(all.split(COMPILING).length - 1, all).toBe(1);
    expect(all.split(KEY_BANNER).length - 1, all).toBe(1);
    expect(readFileSync(join(checkout, "dist", ".build-stamp"), "utf8")).toMatch(/^[0-9a-f]{64}\n$/);

    // Each server drains and exits 0 on SIGTERM (to its own pid: npm is only the launcher), and npm with it.
    for (const l of listening) process.kill(Number(l["pid"]), "SIGTERM");
    for (const p of starts) expect(await p.exited).toEqual({ code: 0, signal: null });
  });

  it("compiles nothing when nothing changed, and is not blocked by a dead builder's lock", async () => {
    const unchanged = await build();
    expect(unchanged).toEqual({ code: 0, stderr: "" });

    const stampBefore = readFileSync(join(checkout, "dist", ".build-stamp"), "utf8");
    writeFileSync(
      join(checkout, ".dist.lock"),
      JSON.stringify({ pid: await deadPid(), host: hostname(), at: Date.now() }),
    );
    appendFileSync(join(checkout, "src", "cli", "version.ts"), "\n// changed\n");
    const rebuilt = await build();
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stderr).toContain("removing a stale lock");
    expect(rebuilt.stderr).toContain(COMPILING);
    expect(readFileSync(join(checkout, "dist", ".build-stamp"), "utf8")).not.toBe(stampBefore);
    expect(existsSync(join(checkout, ".dist.lock"))).toBe(false);
  });
});
