import { execFile, spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/**
 * The built `roomgate` command (dist/src/main.js) as real processes, for the
 * tests about processes: one `scripts/build.mjs` per test file (a no-op when
 * dist/ is current, and safe when several files build at once), then plain
 * `node` per spawn — no tsx, whose start-up costs a second or more a process.
 * Every wait is on an event (a line printed, an exit), never on time.
 */

const run = promisify(execFile);

/** The repository root. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Builds dist/ when out of date; resolves to the built entry point. */
export async function builtCli(repo: string = REPO): Promise<string> {
  // In a vitest run the globalSetup compiled the CLI once already (test/support/build-cli.ts).
  const compiled = process.env["ROOMGATE_TEST_CLI"];
  if (repo === REPO && compiled) return join(dirname(compiled), "main.js");
  await run(process.execPath, [join(repo, "scripts", "build.mjs")], { cwd: repo, maxBuffer: 16 << 20 });
  return join(repo, "dist", "src", "main.js");
}

/** One JSON log line (pino). */
export interface LogLine {
  readonly msg?: string;
  readonly port?: number;
  readonly signal?: string;
  readonly [k: string]: unknown;
}

/** How a process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: string | null;
}

/** The settings a test process gets: the caller's environment without roomgate's own, plus `extra`. */
export function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("ROOMGATE_") || k === "PORT" || k === "LOG_LEVEL") delete env[k];
  return { HOST: "127.0.0.1", PORT: "0", ...env, ...extra };
}

/** A running process and what it printed; `onLine` sees each stdout line as it arrives. */
export class Proc {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<Exit>;
  private readonly waiters = new Set<() => void>();
  private done = false;

  constructor(
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    cwd?: string,
    onLine?: (line: string, index: number) => void,
  ) {
    this.child = spawn(command, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let partial = "";
    let count = 0;
    this.child.stdout!.on("data", (c: Buffer) => {
      this.stdout += c.toString();
      partial += c.toString();
      const parts = partial.split("\n");
      partial = parts.pop()!;
      for (const line of parts) onLine?.(line, count++);
      this.wake();
    });
    this.child.stderr!.on("data", (c: Buffer) => {
      this.stderr += c.toString();
      this.wake();
    });
    this.exited = new Promise((res) =>
      this.child.once("exit", (code, signal) => {
        this.done = true;
        this.wake();
        res({ code, signal });
      }),
    );
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Every JSON log line on stdout so far. */
  lines(): LogLine[] {
    return this.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as LogLine);
  }

  /** The first log line matching `pred`, once printed; rejects when the process ends without it. */
  waitFor(what: string, pred: (l: LogLine) => boolean): Promise<LogLine> {
    return new Promise((res, rej) => {
      const check = (): void => {
        const hit = this.lines().find(pred);
        if (hit !== undefined || this.done) this.waiters.delete(check);
        if (hit !== undefined) res(hit);
        else if (this.done)
          rej(new Error(`process ended before ${what}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Stops the process if it still runs (test cleanup). */
  kill(): void {
    if (!this.done) this.child.kill("SIGKILL");
  }
}

/** GET `path` on 127.0.0.1:`port`: status and body. */
export function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    http
      .get({ host: "127.0.0.1", port, path, agent: false }, (r) => {
        let body = "";
        r.setEncoding("utf8");
        r.on("data", (c: string) => (body += c));
        r.on("end", () => res({ status: r.statusCode!, body }));
        r.on("error", rej);
      })
      .on("error", rej);
  });
}

/** POST a Connect JSON call with the API key: status and parsed body. */
export function postJson(
  port: number,
  path: string,
  key: string,
  body: unknown,
): Promise<{ status: number; json: any }> {
  return new Promise((res, rej) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        agent: false,
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      },
      (r) => {
        let text = "";
        r.setEncoding("utf8");
        r.on("data", (c: string) => (text += c));
        r.on("end", () => res({ status: r.statusCode!, json: JSON.parse(text) }));
        r.on("error", rej);
      },
    );
    req.on("error", rej);
    req.end(JSON.stringify(body));
  });
}
