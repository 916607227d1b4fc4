/**
 * Where a unary call's server CPU goes (issue 21): one contender of
 * bench/http.ts under wrk (HTTP/1.1) or h2load (gRPC) load, with the
 * server's CPU profiler on, then the top frames by self time per request
 * and the server's CPU per request. Profiling slows the server; compare the
 * frames' shares, not their absolute times, and take CPU figures from
 * bench/http.ts.
 *
 * Run: npx tsx bench/profile-call.ts [--call verify] [--protocol json]
 *        [--contender fast|slow|plain|bare] [--duration 5] [--top 40]
 *        [--env KEY=VALUE ...] [--node-arg=--trace-gc ...]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { summarizeProfile } from "./lib/cpuprofile.js";
import { CALLS, encodeRequest, probe, type ProtocolId } from "./lib/http-calls.js";
import { h2loadRun, wrkRun } from "./lib/http-load.js";
import { startServer } from "./lib/servers.js";

const { values: args } = parseArgs({
  options: {
    call: { type: "string", default: "verify" },
    protocol: { type: "string", default: "json" },
    contender: { type: "string", default: "fast" },
    duration: { type: "string", default: "5" },
    top: { type: "string", default: "40" },
    env: { type: "string", multiple: true, default: [] },
    "node-arg": { type: "string", multiple: true, default: [] },
    keep: { type: "string" },
  },
});

const call = CALLS.find((c) => c.id === args.call);
if (!call) throw new Error(`--call: one of ${CALLS.map((c) => c.id).join(", ")}`);
const protocol = args.protocol as ProtocolId;
const kinds = { fast: "ours", slow: "ours", plain: "connect", bare: "bare" } as const;
const contender = args.contender as keyof typeof kinds;
if (!(contender in kinds)) throw new Error("--contender: fast, slow, plain or bare");
const env = [...args.env, ...(contender === "slow" ? ["ROOMGATE_FAST_PATH=off"] : [])];

const server = await startServer(
  kinds[contender],
  args["node-arg"],
  env.flatMap((e) => ["--env", e]),
);
const dir = mkdtempSync(join(tmpdir(), "roomgate-profile-"));
try {
  console.log(`probe: ${await probe(call, protocol, server)}`);
  const spec = {
    ...encodeRequest(call, protocol, server),
    connections: 32,
    h2Sessions: 4,
    serverPid: server.pid,
    generatorCpu: undefined,
  };
  const run = (seconds: number) => (protocol === "grpc" ? h2loadRun : wrkRun)({ ...spec, seconds });
  await run(1);
  const plain = await run(Number(args.duration));
  await server.startProfile(100);
  const profiled = await run(Number(args.duration));
  const path = args.keep ?? join(dir, "call.cpuprofile");
  await server.stopProfile(path);
  const sum = summarizeProfile(path, [], Number(args.top));
  const n = profiled.requests;
  console.log(
    `${contender} ${call.id} ${protocol}: ${Math.round(plain.reqPerSec)} req/s, ${plain.serverUsPerReq.toFixed(1)} µs CPU/req unprofiled; ` +
      `profiled ${n} requests, ${((sum.totalMs * 1000) / n).toFixed(1)} µs sampled/req (idle included)`,
  );
  for (const s of sum.self) console.log(`${((s.ms * 1000) / n).toFixed(2).padStart(8)} µs  ${s.frame}`);
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
