/**
 * bench/http.ts's generators when wrk or h2load is not installed: autocannon
 * (HTTP/1.1) and bench/lib/h2load.ts (gRPC), both in this Node process. They
 * cost about 42 and 88 µs of CPU per request against wrk's ~19 and h2load's
 * ~5, so they cap the figures; the table says so when they were used.
 * The generator's share is this process's CPU over the run (it cannot be
 * pinned apart from the harness).
 */
import autocannon from "autocannon";
import { performance } from "node:perf_hooks";
import { h2load } from "./h2load.js";
import type { RunResult, RunSpec } from "./http-load.js";
import { cpuSeconds } from "./procfs.js";

async function measured(
  spec: RunSpec,
  run: () => Promise<{ requests: number; seconds: number; p50: number; p99: number }>,
  tool: string,
): Promise<RunResult> {
  const s0 = cpuSeconds(spec.serverPid);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await run();
  const c = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  const s1 = cpuSeconds(spec.serverPid);
  if (s0 === undefined || s1 === undefined) throw new Error(`server ${spec.serverPid} is gone`);
  return {
    tool,
    requests: r.requests,
    reqPerSec: r.requests / r.seconds,
    p50: r.p50,
    p99: r.p99,
    genCpu: (c.user + c.system) / 1000 / wall,
    serverUsPerReq: ((s1 - s0) * 1e6) / r.requests,
  };
}

/** HTTP/1.1 with autocannon; any error or non-2xx fails the run. */
export function autocannonRun(spec: RunSpec): Promise<RunResult> {
  return measured(
    spec,
    async () => {
      const res = await autocannon({
        url: spec.url,
        method: "POST",
        headers: { ...spec.headers },
        body: Buffer.from(spec.body),
        connections: spec.connections,
        duration: spec.seconds,
      });
      const bad = res.errors + res.timeouts + res.non2xx;
      if (bad > 0)
        throw new Error(
          `autocannon ${spec.url}: ${res.errors} errors, ${res.timeouts} timeouts, ${res.non2xx} non-2xx`,
        );
      return { requests: res.requests.total, seconds: res.duration, p50: res.latency.p50, p99: res.latency.p99 };
    },
    "autocannon (wrk missing)",
  );
}

/** gRPC with the node:http2 generator; counts only grpc-status 0 as success. */
export function nodeH2Run(spec: RunSpec): Promise<RunResult> {
  return measured(
    spec,
    async () => {
      const url = new URL(spec.url);
      const { "content-type": _type, te: _te, ...headers } = spec.headers;
      const r = await h2load({
        port: Number(url.port),
        path: url.pathname,
        headers,
        body: spec.body,
        sessions: spec.h2Sessions,
        concurrency: spec.connections,
        durationMs: spec.seconds * 1000,
      });
      if (r.errors > 0) throw new Error(`node h2 generator ${spec.url}: ${r.errors} failed calls`);
      return { requests: r.ok, seconds: r.seconds, p50: r.p50, p99: r.p99 };
    },
    "node:http2 generator (h2load missing)",
  );
}
