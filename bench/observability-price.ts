/**
 * The price of observing a call (issue 21): roomgate's fast path as
 * shipped (metrics on, request log at `info`, tracing off), without the
 * observability interceptor (no metrics, request log, span or request id),
 * and with tracing on (OTLP over HTTP to a sink in this process that
 * answers every export with 200), side by side with bare node, for the
 * calls that answer from memory, over Connect JSON and gRPC. Contenders are
 * interleaved over rounds, order reversed every round; the best round is
 * reported. Servers pinned to CPU 0 and generators to CPU 1 when taskset is
 * there, as in bench/http.ts.
 *
 * Run: npx tsx bench/observability-price.ts [--duration 4] [--rounds 2]
 *        [--only verify,json,...]
 */
import { execFileSync } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { BENCH_OBSERVE } from "./lib/bench-app.js";
import { CALLS, encodeRequest, probe, PROTOCOLS, type CallDef, type ProtocolId } from "./lib/http-calls.js";
import { h2loadRun, wrkRun, type RunResult } from "./lib/http-load.js";
import { installed } from "./lib/load-gen.js";
import { startServer, type ServerHandle } from "./lib/servers.js";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "4" },
    rounds: { type: "string", default: "2" },
    only: { type: "string" },
  },
});
const duration = Number(args.duration);
const rounds = Number(args.rounds);
const only = new Set((args.only ?? "").split(",").filter((s) => s !== ""));
const calls = CALLS.filter(
  (c) => !c.cold && c.id !== "create" && (![...only].some((o) => CALLS.some((x) => x.id === o)) || only.has(c.id)),
);
const protocols = PROTOCOLS.filter(
  (p) => p.id !== "binary" && (![...only].some((o) => PROTOCOLS.some((x) => x.id === o)) || only.has(p.id)),
);

/** An OTLP/HTTP endpoint that takes every export and answers 200. */
async function otlpSink(): Promise<{ url: string; close(): void }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

type Id = "shipped" | "unobserved" | "traced" | "bare";
const LABEL: Record<Id, string> = {
  shipped: "fast path as shipped",
  unobserved: "without observability",
  traced: "tracing on (OTLP)",
  bare: "bare node",
};

const pin = availableParallelism() >= 2 && installed("taskset");

function run(call: CallDef, protocol: ProtocolId, s: ServerHandle, seconds: number): Promise<RunResult> {
  const spec = {
    ...encodeRequest(call, protocol, s),
    connections: 32,
    h2Sessions: 4,
    seconds,
    serverPid: s.pid,
    generatorCpu: pin ? 1 : undefined,
  };
  return protocol === "grpc" ? h2loadRun(spec) : wrkRun(spec);
}

async function main(): Promise<void> {
  const sink = await otlpSink();
  const env: Record<Id, string[]> = {
    shipped: [],
    unobserved: [`${BENCH_OBSERVE}=off`],
    traced: [`OTEL_EXPORTER_OTLP_ENDPOINT=${sink.url}`],
    bare: [],
  };
  const ids = Object.keys(LABEL) as Id[];
  const servers = new Map<Id, ServerHandle>();
  try {
    for (const id of ids) {
      const s = await startServer(
        id === "bare" ? "bare" : "ours",
        [],
        env[id].flatMap((e) => ["--env", e]),
      );
      servers.set(id, s);
      if (pin) execFileSync("taskset", ["-a", "-p", "-c", "0", String(s.pid)], { stdio: "ignore" });
    }
    console.log(`observability price: ${duration} s per run, ${rounds} round(s), best round; pinned: ${pin}`);
    console.log(
      `| call | protocol | ${ids.map((id) => `${LABEL[id]} req/s, CPU µs/req`).join(" | ")} | shipped − unobserved µs | traced − shipped µs |`,
    );
    console.log(`|---|---|${ids.map(() => "---:").join("|")}|---:|---:|`);
    for (const call of calls) {
      for (const p of protocols) {
        for (const [id, s] of servers)
          await probe(call, p.id, s).catch((e: Error) => Promise.reject(new Error(`${id}: ${e.message}`)));
        const best = new Map<Id, RunResult>();
        for (let round = 0; round < rounds; round++) {
          for (const id of round % 2 === 0 ? ids : [...ids].reverse()) {
            await run(call, p.id, servers.get(id)!, 1);
            const r = await run(call, p.id, servers.get(id)!, duration);
            if (!best.has(id) || r.reqPerSec > best.get(id)!.reqPerSec) best.set(id, r);
          }
        }
        const cpu = (id: Id) => best.get(id)!.serverUsPerReq;
        console.log(
          `| ${call.label} | ${p.label} | ${ids.map((id) => `${Math.round(best.get(id)!.reqPerSec)}, ${cpu(id).toFixed(1)}`).join(" | ")} | ` +
            `${(cpu("shipped") - cpu("unobserved")).toFixed(1)} | ${(cpu("traced") - cpu("shipped")).toFixed(1)} |`,
        );
      }
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()));
    sink.close();
  }
}

await main();
