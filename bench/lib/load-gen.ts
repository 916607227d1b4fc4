/**
 * Closed-loop HTTP load from external generators, with the generator's own
 * CPU share and the servers' measured from /proc over the same window:
 *
 *   HTTP/1.1  wrk (a Lua script sets the POST body and headers); autocannon
 *             (in this process) only when wrk is not installed — said in
 *             the result's `tool`.
 *   h2c       h2load (HTTP/2 with prior knowledge), Connect JSON over h2c;
 *             no fallback (the run is skipped when h2load is missing).
 *
 * Install once: apt-get install -y wrk nghttp2-client.
 */
import autocannon from "autocannon";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CpuSampler } from "./procfs.js";

/** One POST, repeated. */
export interface LoadSpec {
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Connections (h2load: spread over them as streams, see {@link h2cLoad}). */
  readonly connections: number;
  readonly seconds: number;
}

export interface LoadResult {
  readonly tool: "wrk" | "h2load" | "autocannon (wrk missing)";
  readonly requests: number;
  readonly reqPerSec: number;
  /** Milliseconds; h2load reports no percentiles, so p50 is its mean there and p99 NaN. */
  readonly p50: number;
  readonly p99: number;
  /** The generator's user+sys CPU over wall time (1 = one core). */
  readonly genCpu: number;
  /** Each serving process's share over the same window. */
  readonly serverCpu: readonly number[];
}

function has(binary: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${binary}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const available = new Map<string, boolean>();
/** Whether `binary` is on PATH (asked once). */
export function installed(binary: "wrk" | "h2load" | "taskset"): boolean {
  if (!available.has(binary)) available.set(binary, has(binary));
  return available.get(binary)!;
}

/** Runs `cmd`, sampling its CPU and the servers'; resolves with its stdout once it exits 0. */
function runSampled(
  cmd: string,
  args: readonly string[],
  serverPids: readonly number[],
): Promise<{ stdout: string; genCpu: number; serverCpu: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const sampler = new CpuSampler([child.pid!, ...serverPids]);
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
      resolve({
        stdout,
        genCpu: shares.byPid.get(child.pid!) ?? NaN,
        serverCpu: serverPids.map((p) => shares.byPid.get(p) ?? NaN),
      });
    });
  });
}

/** A Lua long string that cannot be closed by `s`. */
function luaString(s: string): string {
  let eq = "=";
  while (s.includes(`]${eq}]`)) eq += "=";
  return `[${eq}[${s}]${eq}]`;
}

/**
 * wrk's script: the request, and a machine-readable summary line. wrk counts
 * any status outside 2xx/3xx as `errors.status`; every error is fatal here.
 */
function wrkScript(spec: LoadSpec): string {
  const headers = Object.entries(spec.headers)
    // The spaces matter: `t[[=[k]=]]` would read as a call of t with a long string.
    .map(([k, v]) => `wrk.headers[ ${luaString(k)} ] = ${luaString(v)}`)
    .join("\n");
  return `wrk.method = "POST"
wrk.body = ${luaString(spec.body)}
${headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
`;
}

async function wrkLoad(spec: LoadSpec, serverPids: readonly number[]): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "roomgate-wrk-"));
  try {
    const script = join(dir, "post.lua");
    writeFileSync(script, wrkScript(spec));
    // One wrk thread: the generator then uses at most one core, and its share says how close it came.
    const args = ["-t1", `-c${spec.connections}`, `-d${spec.seconds}s`, "--timeout", "10s", "-s", script, spec.url];
    const r = await runSampled("wrk", args, serverPids);
    const m = /^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$/m.exec(r.stdout);
    if (!m) throw new Error(`wrk: no RESULT line in\n${r.stdout}`);
    const [requests, durationUs, connect, read, write, status, timeout, p50, p99] = m.slice(1).map(Number) as number[];
    const errors = connect! + read! + write! + status! + timeout!;
    if (errors > 0)
      throw new Error(
        `wrk ${spec.url}: ${errors} errors (connect ${connect}, read ${read}, write ${write}, status ${status}, timeout ${timeout})`,
      );
    return {
      tool: "wrk",
      requests: requests!,
      reqPerSec: requests! / (durationUs! / 1e6),
      p50: p50! / 1000,
      p99: p99! / 1000,
      genCpu: r.genCpu,
      serverCpu: r.serverCpu,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function autocannonLoad(spec: LoadSpec, serverPids: readonly number[]): Promise<LoadResult> {
  const sampler = new CpuSampler([process.pid, ...serverPids]);
  let res: autocannon.Result;
  try {
    res = await autocannon({
      url: spec.url,
      method: "POST",
      headers: { ...spec.headers },
      body: spec.body,
      connections: spec.connections,
      duration: spec.seconds,
    });
  } catch (err) {
    sampler.stop();
    throw err;
  }
  const shares = sampler.stop();
  const bad = res.errors + res.timeouts + res.non2xx;
  if (bad > 0)
    throw new Error(`autocannon ${spec.url}: ${res.errors} errors, ${res.timeouts} timeouts, ${res.non2xx} non-2xx`);
  return {
    tool: "autocannon (wrk missing)",
    requests: res.requests.total,
    reqPerSec: res.requests.total / res.duration,
    p50: res.latency.p50,
    p99: res.latency.p99,
    genCpu: shares.byPid.get(process.pid) ?? NaN,
    serverCpu: serverPids.map((p) => shares.byPid.get(p) ?? NaN),
  };
}

/** Connect JSON (or any POST) over HTTP/1.1 keep-alive: wrk, else autocannon. */
export function http1Load(spec: LoadSpec, serverPids: readonly number[]): Promise<LoadResult> {
  return installed("wrk") ? wrkLoad(spec, serverPids) : autocannonLoad(spec, serverPids);
}

/**
 * The same POST over h2c with h2load: `connections` streams in flight over
 * `sessions` connections (at least one per serving process, so a cluster
 * spreads them). Resolves undefined when h2load is not installed.
 */
export async function h2cLoad(
  spec: LoadSpec,
  sessions: number,
  serverPids: readonly number[],
): Promise<LoadResult | undefined> {
  if (!installed("h2load")) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "roomgate-h2load-"));
  try {
    const bodyFile = join(dir, "body.json");
    writeFileSync(bodyFile, spec.body);
    const headers = Object.entries(spec.headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]);
    const streams = Math.max(1, Math.ceil(spec.connections / sessions));
    const args = ["-t1", `-c${sessions}`, `-m${streams}`, `-D${spec.seconds}`, "-d", bodyFile, ...headers, spec.url];
    const r = await runSampled("h2load", args, serverPids);
    const done =
      /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
        r.stdout,
      );
    const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(r.stdout);
    // "finished in 4.99s" or, under a second, "finished in 999.33ms" (only the rate is used).
    const finished = /finished in ([\d.]+)(?:s|ms), ([\d.]+) req\/s/.exec(r.stdout);
    const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(r.stdout);
    if (!done || !codes || !finished) throw new Error(`h2load: unexpected output\n${r.stdout}`);
    const [, , succeeded, failed, errored, timeout] = done.map(Number) as number[];
    const non2xx = Number(codes[2]) + Number(codes[3]) + Number(codes[4]);
    if (failed! + errored! + timeout! + non2xx > 0) {
      throw new Error(
        `h2load ${spec.url}: ${failed} failed, ${errored} errored, ${timeout} timeout, ${non2xx} non-2xx`,
      );
    }
    return {
      tool: "h2load",
      requests: succeeded!,
      reqPerSec: Number(finished[2]),
      p50: mean ? durationMs(mean[1]!) : NaN,
      p99: NaN,
      genCpu: r.genCpu,
      serverCpu: r.serverCpu,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** h2load's "1.23ms" / "456us" / "1.2s" as milliseconds. */
function durationMs(s: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s);
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "ms" ? n : n * 1000;
}
