import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOMGATE_CLI } from "../support/cli.js";
import { createTestDatabase, type TestDatabase } from "../support/postgres.js";
import { testStore } from "../support/server.js";

const exec = promisify(execFile);
/** curl prints JSON without a newline; the test reads one answer per line. */
const CURL_ON_ITS_OWN_LINE = 'curl() { command curl "$@"; echo; }';
const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The ```sh blocks of the README's "First minutes" section, in order. */
function firstMinutesBlocks(): string[] {
  const from = readme.indexOf("### First minutes");
  const section = readme.slice(from, readme.indexOf("\n## ", from));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/**
 * Runs the README's first minutes as written against a fresh `roomgate`
 * (no command, no ROOMGATE_API_KEY): the key it prints is pasted where the
 * README says, localhost:8080 is the test's port, and `npm run -s roomgate --`
 * runs the CLI from source. Needs curl and jq, as the README says.
 */
describe("README first minutes, run as written", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let proc: ChildProcess;
  let port: number;
  let key: string;
  let tenantId: string;
  let db: TestDatabase | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "roomgate-readme-"));
    db = testStore() === "postgres" ? await createTestDatabase() : undefined;
    env = {
      ...process.env,
      PORT: "0",
      HOST: "127.0.0.1",
      ROOMGATE_DATA_DIR: dir,
      ROOMGATE_WORKERS: "1",
      LOG_LEVEL: "info",
      ...(db ? { ROOMGATE_DATABASE_URL: db.url } : {}),
    };
    delete env["ROOMGATE_API_KEY"];
    proc = spawn(process.execPath, ROOMGATE_CLI, { env, stdio: ["ignore", "pipe", "pipe"] });
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
    const printed = /roomgate created tenant ([0-9a-f-]{36}) with this API key[^\n]*\n\n {2}(rgk_\S+)\n/.exec(out);
    expect(printed, out).not.toBeNull();
    [, tenantId, key] = printed as unknown as [string, string, string];
  });

  afterAll(async () => {
    proc?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it("carries the printed key and its tenant through every call to the permissions page", async () => {
    const blocks = firstMinutesBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const script = blocks
      .join("\n")
      .replace(/^KEY=rgk_….*$/m, `KEY=${key}`)
      .replaceAll("localhost:8080", `127.0.0.1:${port}`)
      // The cookie jar in the temp dir, not the checkout.
      .replace(/ -([cb]) jar /g, ` -$1 ${join(dir, "jar")} `)
      .replaceAll("npm run -s roomgate --", [process.execPath, ...ROOMGATE_CLI].join(" "));
    // Nothing left to copy by hand: no placeholder survives the one pasted key.
    expect(script).not.toMatch(/<[a-z ]+>|rgk_…/);
    const { stdout } = await exec("bash", ["-euo", "pipefail", "-c", `${CURL_ON_ITS_OWN_LINE}\n${script}`], {
      env: { ...env, PATH: process.env["PATH"] },
    });
    const lines = stdout.trim().split("\n");
    // echo "$TENANT": the tenant the first start printed.
    expect(lines[0]).toBe(tenantId);
    // Verify over Connect, then tokens verify from the CLI: the seed's claims both times.
    const claims = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    const verified = claims.filter((c) => c["roomId"] === "c2ed3890-716d-4380-a597-d860ecacada0" && "tokenId" in c);
    expect(verified).toHaveLength(2);
    for (const c of verified) expect(c["permissions"]).toEqual(["PermissionRoomKick"]);
    // The page read with the session cookie of the login with $TENANT.
    const page = claims.at(-1)!;
    expect(page["httpStatusCode"]).toBe(200);
  }, 90_000);
});
