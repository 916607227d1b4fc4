/**
 * Issue 11's benchmark table: roomgate with the unary fast path on and off,
 * plain connect-node and bare node:http/node:http2, side by side in one run,
 * for Verify (cache hit and cold), VerifyAccessToken, GetRoomPermissions
 * (end-user access token) and Create ×1, over Connect JSON and Connect
 * binary on HTTP/1.1 (wrk) and gRPC on h2c (h2load).
 *
 * Every contender is its own child process (bench/lib/rpc-server.ts, one
 * worker) on the same state; the cold Verify row runs on a second set
 * started with ROOMGATE_VERIFY_CACHE_SIZE=0 (all four, bare included). When
 * taskset is there and the machine has two CPUs or more, servers run on CPU
 * 0 and the generators on CPU 1. Before any load each call is probed once
 * per contender and protocol: it must succeed (gRPC: grpc-status 0) and
 * answer what the others answer. Contenders are interleaved over rounds
 * (order reversed every round); the best or median round is reported.
 *
 * Run: npx tsx bench/http.ts [--duration 5] [--warmup 1] [--connections 32]
 *        [--rounds 2] [--pick best|median] [--h2-sessions 4] [--no-pin]
 *        [--only verify,create,json,grpc,...]   (call and protocol ids)
 */
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { CALLS, encodeRequest, probe, PROTOCOLS, type CallDef, type ProtocolId } from "./lib/http-calls.js";
import { h2loadRun, wrkRun, type RunResult, type RunSpec } from "./lib/http-load.js";
import {
  cellKey,
  CONTENDER_IDS,
  CONTENDER_LABEL,
  renderTable,
  renderTargets,
  type Cell,
  type ContenderId,
  type Pick,
} from "./lib/http-table.js";
import { installed } from "./lib/load-gen.js";
import { autocannonRun, nodeH2Run } from "./lib/load-fallback.js";
import { loadAverage } from "./lib/procfs.js";
import { startServer, type ServerHandle } from "./lib/servers.js";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    connections: { type: "string", default: "32" },
    rounds: { type: "string", default: "2" },
    pick: { type: "string", default: "best" },
    "h2-sessions": { type: "string", default: "4" },
    "no-pin": { type: "boolean", default: false },
    only: { type: "string" },
  },
});
const duration = Number(args.duration);
const warmup = Number(args.warmup);
const connections = Number(args.connections);
const rounds = Number(args.rounds);
const pick = args.pick as Pick;
const h2Sessions = Number(args["h2-sessions"]);
if (
  ![duration, connections, rounds, h2Sessions].every((n) => Number.isInteger(n) && n > 0) ||
  !(warmup >= 0) ||
  !["best", "median"].includes(pick)
) {
  throw new Error(
    "--duration, --connections, --rounds, --h2-sessions: positive integers; --warmup ≥ 0; --pick best|median",
  );
}

const only = new Set((args.only ?? "").split(",").filter((s) => s !== ""));
for (const o of only) {
  if (!CALLS.some((c) => c.id === o) && !PROTOCOLS.some((p) => p.id === o))
    throw new Error(`--only: unknown call or protocol ${o}`);
}
// Call ids narrow the calls, protocol ids the protocols; naming none of a kind keeps all of it.
const namesCall = CALLS.some((c) => only.has(c.id));
const namesProtocol = PROTOCOLS.some((p) => only.has(p.id));
const onlyCalls = CALLS.filter((c) => !namesCall || only.has(c.id));
const onlyProtocols = PROTOCOLS.filter((p) => !namesProtocol || only.has(p.id));

/** Servers on one CPU, generators on another: neither steals the other's core. */
const pin = !args["no-pin"] && availableParallelism() >= 2 && installed("taskset");
const SERVER_CPU = 0;
const GENERATOR_CPU = 1;

const CONTENDERS: Record<ContenderId, { kind: "ours" | "connect" | "bare"; env: Record<string, string> }> = {
  fast: { kind: "ours", env: { ROOMGATE_FAST_PATH: "on" } },
  slow: { kind: "ours", env: { ROOMGATE_FAST_PATH: "off" } },
  plain: { kind: "connect", env: {} },
  bare: { kind: "bare", env: {} },
};

type Servers = Map<ContenderId, ServerHandle>;

async function startSet(cold: boolean): Promise<Servers> {
  const servers: Servers = new Map();
  try {
    for (const id of CONTENDER_IDS) {
      const env = { ...CONTENDERS[id].env, ...(cold ? { ROOMGATE_VERIFY_CACHE_SIZE: "0" } : {}) };
      const s = await startServer(
        CONTENDERS[id].kind,
        [],
        Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
      );
      servers.set(id, s);
      // -a: every thread of the process, and the threads it starts later inherit it.
      if (pin) execFileSync("taskset", ["-a", "-p", "-c", String(SERVER_CPU), String(s.pid)], { stdio: "ignore" });
    }
    return servers;
  } catch (err) {
    await Promise.all([...servers.values()].map((s) => s.stop()));
    throw err;
  }
}

/** Probes every selected call × protocol on every contender; all must succeed and agree. */
async function checkAnswers(servers: Servers, calls: readonly CallDef[]): Promise<void> {
  for (const call of calls) {
    for (const p of onlyProtocols) {
      const answers = new Map<ContenderId, string>();
      for (const [id, s] of servers) answers.set(id, await probe(call, p.id, s));
      const first = answers.get("plain")!;
      for (const [id, a] of answers) {
        if (a !== first)
          throw new Error(
            `${call.id} ${p.id}: ${CONTENDER_LABEL[id]} answers\n  ${a}\nplain connect answers\n  ${first}`,
          );
      }
    }
  }
}

function runOnce(call: CallDef, protocol: ProtocolId, s: ServerHandle, seconds: number): Promise<RunResult> {
  const req = encodeRequest(call, protocol, s);
  const spec: RunSpec = {
    ...req,
    connections,
    h2Sessions,
    seconds,
    serverPid: s.pid,
    generatorCpu: pin ? GENERATOR_CPU : undefined,
  };
  if (protocol === "grpc") return installed("h2load") ? h2loadRun(spec) : nodeH2Run(spec);
  return installed("wrk") ? wrkRun(spec) : autocannonRun(spec);
}

async function measureSet(servers: Servers, calls: readonly CallDef[], cells: Map<string, Cell>): Promise<void> {
  await checkAnswers(servers, calls);
  for (const call of calls) {
    for (const p of onlyProtocols) {
      const cell: Cell = new Map(CONTENDER_IDS.map((c) => [c, []]));
      cells.set(cellKey(call.id, p.id), cell);
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? CONTENDER_IDS : [...CONTENDER_IDS].reverse();
        for (const id of order) {
          const s = servers.get(id)!;
          if (warmup > 0) await runOnce(call, p.id, s, warmup);
          const r = await runOnce(call, p.id, s, duration);
          cell.get(id)!.push(r);
          process.stderr.write(
            `  . ${call.id} ${p.id} ${id} round ${round + 1}: ${Math.round(r.reqPerSec)} req/s, gen ${Math.round(r.genCpu * 100)}%\n`,
          );
        }
      }
    }
  }
}

async function main(): Promise<void> {
  const fallbacks = [
    !installed("wrk") && "wrk missing: autocannon",
    !installed("h2load") && "h2load missing: the node:http2 generator",
  ].filter(Boolean);
  console.log(
    `http: ${connections} connections (gRPC: ${connections} streams over ${h2Sessions} h2c connections), ${warmup} s warm-up + ${duration} s per contender, ` +
      `${rounds} round(s) interleaved, ${pick} round reported; load average ${loadAverage()}`,
  );
  console.log(
    pin
      ? `pinned: servers on CPU ${SERVER_CPU}, generators on CPU ${GENERATOR_CPU} (taskset)`
      : "not pinned (no taskset, one CPU, or --no-pin)",
  );
  if (fallbacks.length > 0)
    console.log(
      `FALLBACK GENERATOR (${fallbacks.join("; ")}): it costs several times wrk's/h2load's CPU per request and caps the figures`,
    );

  const cells = new Map<string, Cell>();
  for (const cold of [false, true]) {
    const calls = onlyCalls.filter((c) => c.cold === cold);
    if (calls.length === 0 || onlyProtocols.length === 0) continue;
    const servers = await startSet(cold);
    try {
      await measureSet(servers, calls, cells);
    } finally {
      await Promise.all([...servers.values()].map((s) => s.stop()));
    }
  }

  console.log("");
  console.log(renderTable(CALLS, cells, pick));
  console.log("");
  console.log("req/s with p50 / p99 latency; CPU µs/req: the server process's user+sys CPU over the run ÷ requests;");
  console.log(
    "gen CPU: the busiest generator's share of a core; † and GENERATOR-BOUND: ≥ 90%, the generator set the pace (that rate is a lower bound).",
  );
  console.log("");
  console.log(`load average at the end: ${loadAverage()}`);
  console.log("");
  console.log("Targets (issue 11):");
  for (const line of renderTargets(cells, pick)) console.log(line);
}

await main();
