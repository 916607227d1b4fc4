/**
 * One measured load run of bench/http.ts: wrk (HTTP/1.1, Connect JSON or
 * binary) or h2load (gRPC over h2c), optionally pinned to a CPU with
 * taskset, with what each cell of the table needs:
 *
 *   - requests/s and p50/p99 latency (wrk's histogram; h2load's per-request
 *     log, since h2load prints no percentiles);
 *   - the server's CPU per request: its utime+stime from /proc/<pid>/stat
 *     over the run, divided by the requests served;
 *   - the generator's CPU share (1 = one core), sampled from /proc while it
 *     runs: near 1 means the generator, not the server, set the pace.
 *
 * Every response must be a success: wrk counts non-2xx in its Lua
 * `response()` hook (plus its own socket errors); h2load's status counts
 * and failed streams. gRPC statuses travel in trailers, which h2load does
 * not read: bench/lib/http-calls.ts probes each gRPC call once instead.
 *
 * When a binary is missing the caller falls back (bench/lib/load-fallback.ts).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { quantile } from "./h2load.js";
import { CpuSampler, cpuSeconds } from "./procfs.js";

/** One load run against one server process. */
export interface RunSpec {
  readonly url: string;
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  /** HTTP/1.1 connections (wrk), or streams in flight in total (h2load). */
  readonly connections: number;
  /** h2load only: connections the streams are spread over. */
  readonly h2Sessions: number;
  readonly seconds: number;
  /** The serving process, whose CPU is charged to the requests. */
  readonly serverPid: number;
  /** The CPU to pin the generator to (taskset -c), or undefined. */
  readonly generatorCpu: number | undefined;
}

/** The measured figures of one run. */
export interface RunResult {
  readonly tool: string;
  readonly requests: number;
  readonly reqPerSec: number;
  /** Milliseconds. */
  readonly p50: number;
  readonly p99: number;
  /** The generator's user+sys CPU over its wall time (1 = one core). */
  readonly genCpu: number;
  /** Server user+sys CPU per request, microseconds. */
  readonly serverUsPerReq: number;
}

/** Runs `cmd` (pinned when asked); resolves with its stdout and CPU share once it exits 0. */
export function runMeasured(
  cmd: string,
  args: readonly string[],
  cpu: number | undefined,
): Promise<{ stdout: string; genCpu: number }> {
  const [file, argv] = cpu === undefined ? [cmd, args] : ["taskset", ["-c", String(cpu), cmd, ...args]];
  return new Promise((resolve, reject) => {
    // taskset execs the command: the pid stays the generator's.
    const child = spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"] });
    const sampler = new CpuSampler([child.pid!], 50);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("error", (err) => {
      sampler.stop();
      reject(err);
    });
    child.once("exit", (code) => {
      const shares = sampler.stop();
      if (code !== 0) return reject(new Error(`${cmd} exited ${code}: ${stderr || stdout}`));
      resolve({ stdout, genCpu: shares.byPid.get(child.pid!) ?? NaN });
    });
  });
}

/** Wraps a run with the server's CPU time before and after it. */
async function withServerCpu(pid: number, run: () => Promise<Omit<RunResult, "serverUsPerReq">>): Promise<RunResult> {
  const before = cpuSeconds(pid);
  const r = await run();
  const after = cpuSeconds(pid);
  if (before === undefined || after === undefined) throw new Error(`server ${pid} is gone`);
  return { ...r, serverUsPerReq: r.requests > 0 ? ((after - before) * 1e6) / r.requests : NaN };
}

function luaString(s: string): string {
  let eq = "=";
  while (s.includes(`]${eq}]`)) eq += "=";
  return `[${eq}[${s}]${eq}]`;
}

/**
 * wrk's script: the body read from a file (binary-safe, unlike a Lua string
 * literal), the headers, a non-2xx counter in `response()` (wrk itself only
 * counts statuses above 399), and a machine-readable summary line.
 */
export function wrkScript(bodyFile: string, headers: Readonly<Record<string, string>>): string {
  const lines = Object.entries(headers).map(([k, v]) => `wrk.headers[ ${luaString(k)} ] = ${luaString(v)}`);
  return `wrk.method = "POST"
local f = assert(io.open(${luaString(bodyFile)}, "rb"))
wrk.body = f:read("*a")
f:close()
${lines.join("\n")}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout, bad, latency:percentile(50), latency:percentile(99)))
end
`;
}

/** Parses the RESULT line of {@link wrkScript}; throws on any failed request. */
export function parseWrkResult(
  stdout: string,
  url: string,
): { requests: number; seconds: number; p50: number; p99: number } {
  const m = /^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$/m.exec(stdout);
  if (!m) throw new Error(`wrk: no RESULT line in\n${stdout}`);
  const [requests, durationUs, connect, read, write, status, timeout, non2xx, p50, p99] = m
    .slice(1)
    .map(Number) as number[];
  const errors = connect! + read! + write! + status! + timeout! + non2xx!;
  if (errors > 0) {
    throw new Error(
      `wrk ${url}: ${errors} failed (non-2xx ${non2xx}, connect ${connect}, read ${read}, write ${write}, timeout ${timeout})`,
    );
  }
  return { requests: requests!, seconds: durationUs! / 1e6, p50: p50! / 1000, p99: p99! / 1000 };
}

/** HTTP/1.1 keep-alive load with wrk, one thread. */
export function wrkRun(spec: RunSpec): Promise<RunResult> {
  return withServerCpu(spec.serverPid, async () => {
    const dir = mkdtempSync(join(tmpdir(), "roomgate-wrk-"));
    try {
      const bodyFile = join(dir, "body");
      const script = join(dir, "post.lua");
      writeFileSync(bodyFile, spec.body);
      writeFileSync(script, wrkScript(bodyFile, spec.headers));
      // One thread: the generator then uses at most one core, and its share says how close it came.
      const args = ["-t1", `-c${spec.connections}`, `-d${spec.seconds}s`, "--timeout", "10s", "-s", script, spec.url];
      const r = await runMeasured("wrk", args, spec.generatorCpu);
      const w = parseWrkResult(r.stdout, spec.url);
      return {
        tool: "wrk",
        requests: w.requests,
        reqPerSec: w.requests / w.seconds,
        p50: w.p50,
        p99: w.p99,
        genCpu: r.genCpu,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** Checks h2load's summary (every request done, 2xx, none failed) and reads its rate. */
export function parseH2loadResult(stdout: string, url: string): { requests: number; reqPerSec: number } {
  const done =
    /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      stdout,
    );
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
  // "finished in 4.99s" or, under a second, "finished in 999.33ms".
  const finished = /finished in ([\d.]+)(?:s|ms), ([\d.]+) req\/s/.exec(stdout);
  if (!done || !codes || !finished) throw new Error(`h2load: unexpected output\n${stdout}`);
  const [, , succeeded, failed, errored, timeout] = done.map(Number) as number[];
  const non2xx = Number(codes[2]) + Number(codes[3]) + Number(codes[4]);
  if (failed! + errored! + timeout! + non2xx > 0) {
    throw new Error(`h2load ${url}: ${failed} failed, ${errored} errored, ${timeout} timeout, ${non2xx} non-2xx`);
  }
  return { requests: succeeded!, reqPerSec: Number(finished[2]) };
}

/** p50/p99 in ms from h2load's --log-file (start µs, status, duration µs per line). */
export function h2loadLatencies(log: string): { p50: number; p99: number } {
  const durations: number[] = [];
  for (const line of log.split("\n")) {
    const cols = line.split("\t");
    if (cols.length >= 3 && cols[1] !== "-1") durations.push(Number(cols[2]) / 1000);
  }
  const sorted = Float64Array.from(durations).sort();
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}

/** gRPC (or any h2c POST) with h2load: `connections` streams over `h2Sessions` connections. */
export function h2loadRun(spec: RunSpec): Promise<RunResult> {
  return withServerCpu(spec.serverPid, async () => {
    const dir = mkdtempSync(join(tmpdir(), "roomgate-h2load-"));
    try {
      const bodyFile = join(dir, "body");
      const logFile = join(dir, "requests.log");
      writeFileSync(bodyFile, spec.body);
      const headers = Object.entries(spec.headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]);
      const streams = Math.max(1, Math.ceil(spec.connections / spec.h2Sessions));
      const args = [
        "-t1",
        `-c${spec.h2Sessions}`,
        `-m${streams}`,
        `-D${spec.seconds}`,
        "-d",
        bodyFile,
        `--log-file=${logFile}`,
        ...headers,
        spec.url,
      ];
      const r = await runMeasured("h2load", args, spec.generatorCpu);
      const h = parseH2loadResult(r.stdout, spec.url);
      return { tool: "h2load", ...h, ...h2loadLatencies(readFileSync(logFile, "utf8")), genCpu: r.genCpu };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
