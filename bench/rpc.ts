/**
 * RPC throughput of roomgate against two baselines doing the same token work,
 * measured in the same run:
 *
 *   ours           the real app: createApp + serve (error/API-key/strict-fields
 *                  interceptors, one-port listener that peeks each connection)
 *   plain-connect  connectNodeAdapter on http.createServer, the same
 *                  TokensPrivateService, no interceptors (principal injected)
 *   bare-http      node:http handler → RoomTokens.issue/verify → JSON by hand
 *
 * Each server runs in its own child process (bench/lib/rpc-server.ts); the
 * load generator (autocannon, Connect JSON over HTTP/1.1 keep-alive) runs
 * here. Targets are interleaved over rounds (order reversed every round) and
 * the best round of each is reported, with the load generator's own CPU use
 * (≥ 90% of a core means the generator, not the server, set the pace).
 * Verify runs twice: as configured (one token, so the verified-token cache
 * hits) and with ROOMGATE_VERIFY_CACHE_SIZE=0 (a fresh set of servers).
 * Unless --no-grpc, Verify also runs over gRPC on h2c, with a small
 * node:http2 load generator (bench/lib/h2load.ts; no h2load binary needed).
 *
 * Run: npx tsx bench/rpc.ts [--connections 32] [--duration 5] [--warmup 1]
 *                           [--rounds 2] [--no-grpc] [--h2-sessions 1]
 */
import autocannon from "autocannon";
import { create, toBinary } from "@bufbuild/protobuf";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { VerifyRequestSchema } from "../gen/room/tokens/private/v1/service_pb.js";
import { seedArgumentJson, type ServerKind } from "./lib/bench-app.js";
import { h2load } from "./lib/h2load.js";
import { startServer, type ServerHandle } from "./lib/servers.js";

const { values: args } = parseArgs({
  options: {
    connections: { type: "string", default: "32" },
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    rounds: { type: "string", default: "2" },
    "no-grpc": { type: "boolean", default: false },
    "h2-sessions": { type: "string", default: "1" },
  },
});
const connections = Number(args.connections);
const duration = Number(args.duration);
const warmup = Number(args.warmup);
const rounds = Number(args.rounds);
const h2Sessions = Number(args["h2-sessions"]);

const LABEL: Record<ServerKind, string> = { ours: "ours", connect: "plain-connect", bare: "bare-http" };
const KINDS: readonly ServerKind[] = ["ours", "connect", "bare"];

interface Sample {
  readonly reqPerSec: number;
  readonly p50: number;
  readonly p99: number;
  /** CPU the load generator (this process) used over the run, 1 = one core. */
  readonly genCpu: number;
}

/** Runs `fn` and adds this process's CPU share over it (is the generator the bottleneck?). */
async function withGenCpu(fn: () => Promise<Omit<Sample, "genCpu">>): Promise<Sample> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await fn();
  const c = process.cpuUsage(c0);
  return { ...r, genCpu: (c.user + c.system) / 1000 / (performance.now() - t0) };
}

type Rpc = "Create" | "Verify";

function requestFor(rpc: Rpc, s: ServerHandle): { url: string; body: string; headers: Record<string, string> } {
  const body =
    rpc === "Create" ? JSON.stringify({ arguments: [seedArgumentJson()] }) : JSON.stringify({ token: s.token });
  return {
    url: `http://127.0.0.1:${s.port}/room.tokens.private.v1.Service/${rpc}`,
    body,
    headers: {
      "content-type": "application/json",
      "connect-protocol-version": "1",
      authorization: `Bearer ${s.apiKey}`,
    },
  };
}

/** One request by fetch, to prove every target answers the same thing before timing it. */
async function sanityCheck(servers: readonly ServerHandle[]): Promise<void> {
  const verified: Record<string, unknown>[] = [];
  for (const s of servers) {
    for (const rpc of ["Create", "Verify"] as const) {
      const r = requestFor(rpc, s);
      const res = await fetch(r.url, { method: "POST", headers: r.headers, body: r.body });
      const json = (await res.json()) as Record<string, unknown>;
      if (res.status !== 200) throw new Error(`${LABEL[s.kind]} ${rpc}: HTTP ${res.status} ${JSON.stringify(json)}`);
      if (rpc === "Create" && !(Array.isArray(json["tokens"]) && json["tokens"].length === 1)) {
        throw new Error(`${LABEL[s.kind]} Create: unexpected ${JSON.stringify(json)}`);
      }
      if (rpc === "Verify") verified.push(json);
    }
  }
  // Same claims shape from every stack (ids and times differ per server).
  // Ours writes implicit defaults (an empty `restrictions`); the baselines do not.
  const shape = (v: Record<string, unknown>) =>
    JSON.stringify({ ...v, tokenId: 0, issuedAt: 0, expiresAt: 0, notBefore: 0, restrictions: undefined });
  for (const v of verified.slice(1)) {
    if (shape(v) !== shape(verified[0]!)) {
      throw new Error(`Verify responses differ:\n  ${JSON.stringify(verified[0])}\n  ${JSON.stringify(v)}`);
    }
  }
}

function httpRun(rpc: Rpc, s: ServerHandle, seconds: number): Promise<Sample> {
  return withGenCpu(() => httpRunInner(rpc, s, seconds));
}

async function httpRunInner(rpc: Rpc, s: ServerHandle, seconds: number): Promise<Omit<Sample, "genCpu">> {
  const r = requestFor(rpc, s);
  const res = await autocannon({
    url: r.url,
    method: "POST",
    headers: r.headers,
    body: r.body,
    connections,
    duration: seconds,
  });
  const bad = res.errors + res.timeouts + res.non2xx;
  if (bad > 0) {
    throw new Error(
      `${LABEL[s.kind]} ${rpc}: ${res.errors} errors, ${res.timeouts} timeouts, ${res.non2xx} non-2xx ${JSON.stringify(res.statusCodeStats)}`,
    );
  }
  return { reqPerSec: res.requests.total / res.duration, p50: res.latency.p50, p99: res.latency.p99 };
}

function grpcRun(s: ServerHandle, seconds: number): Promise<Sample> {
  return withGenCpu(() => grpcRunInner(s, seconds));
}

async function grpcRunInner(s: ServerHandle, seconds: number): Promise<Omit<Sample, "genCpu">> {
  const msg = toBinary(VerifyRequestSchema, create(VerifyRequestSchema, { token: s.token }));
  const body = new Uint8Array(5 + msg.length);
  new DataView(body.buffer).setUint32(1, msg.length);
  body.set(msg, 5);
  const r = await h2load({
    port: s.h2Port,
    path: "/room.tokens.private.v1.Service/Verify",
    headers: { authorization: `Bearer ${s.apiKey}` },
    body,
    sessions: h2Sessions,
    concurrency: connections,
    durationMs: seconds * 1000,
  });
  if (r.errors > 0) throw new Error(`${LABEL[s.kind]} gRPC Verify: ${r.errors} failed calls`);
  return { reqPerSec: r.reqPerSec, p50: r.p50, p99: r.p99 };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));

function report(title: string, samples: Map<ServerKind, Sample[]>): void {
  const best = new Map<ServerKind, Sample>();
  for (const [k, list] of samples)
    best.set(
      k,
      list.reduce((a, b) => (b.reqPerSec > a.reqPerSec ? b : a)),
    );
  console.log(`\n${title}`);
  for (const k of KINDS) {
    const b = best.get(k)!;
    const rounds = samples
      .get(k)!
      .map((x) => fmt(x.reqPerSec))
      .join(" / ");
    const bound = b.genCpu >= 0.9 ? " GENERATOR-BOUND" : "";
    console.log(
      `  ${LABEL[k].padEnd(13)} ${fmt(b.reqPerSec).padStart(8)} req/s   p50 ${ms(b.p50).padStart(5)} ms   p99 ${ms(b.p99).padStart(5)} ms` +
        `   generator CPU ${Math.round(b.genCpu * 100)}%${bound}   (rounds: ${rounds})`,
    );
  }
  const ours = best.get("ours")!.reqPerSec;
  console.log(`  ratio ours / plain-connect = ${(ours / best.get("connect")!.reqPerSec).toFixed(2)}x`);
  console.log(`  ratio ours / bare-http     = ${(ours / best.get("bare")!.reqPerSec).toFixed(2)}x`);
  if ([...best.values()].some((b) => b.genCpu >= 0.9)) {
    console.log(
      "  (a GENERATOR-BOUND target was limited by the load generator: its figure, and any ratio to it, is a lower bound)",
    );
  }
}

interface Phase {
  readonly title: string;
  /** Extra roomgate settings for this phase's servers (a fresh set is started). */
  readonly env?: Readonly<Record<string, string>>;
  run(s: ServerHandle, seconds: number): Promise<Sample>;
}

async function startSet(env: Readonly<Record<string, string>> = {}): Promise<ServerHandle[]> {
  const args = Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]);
  const servers: ServerHandle[] = [];
  try {
    for (const k of KINDS) servers.push(await startServer(k, [], args));
    await sanityCheck(servers);
    return servers;
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    throw err;
  }
}

async function main(): Promise<void> {
  console.log(
    `rpc: ${connections} connections, ${warmup} s warm-up + ${duration} s per target, ${rounds} rounds interleaved, best round reported`,
  );
  const NO_CACHE = { ROOMGATE_VERIFY_CACHE_SIZE: "0" };
  const phases: Phase[] = [
    { title: "Create ×1 — Connect JSON, HTTP/1.1 keep-alive", run: (s, t) => httpRun("Create", s, t) },
    {
      title: "Verify (same token: verified-token cache hit) — Connect JSON, HTTP/1.1 keep-alive",
      run: (s, t) => httpRun("Verify", s, t),
    },
    {
      title: "Verify (ROOMGATE_VERIFY_CACHE_SIZE=0: decrypt every call) — Connect JSON, HTTP/1.1 keep-alive",
      env: NO_CACHE,
      run: (s, t) => httpRun("Verify", s, t),
    },
  ];
  if (!args["no-grpc"]) {
    phases.push({
      title: `Verify (cache hit) — gRPC binary over h2c, ${h2Sessions} session(s), ${connections} streams in flight`,
      run: grpcRun,
    });
  }

  let current: { env: string; servers: ServerHandle[] } | undefined;
  try {
    for (const phase of phases) {
      const envKey = JSON.stringify(phase.env ?? {});
      if (current?.env !== envKey) {
        if (current) await Promise.all(current.servers.map((s) => s.stop()));
        current = undefined;
        current = { env: envKey, servers: await startSet(phase.env) };
      }
      const servers = current.servers;
      const samples = new Map<ServerKind, Sample[]>(KINDS.map((k) => [k, []]));
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? servers : [...servers].reverse();
        for (const s of order) {
          if (warmup > 0) await phase.run(s, warmup);
          const sample = await phase.run(s, duration);
          samples.get(s.kind)!.push(sample);
          process.stderr.write(
            `  . ${phase.title.split(" — ")[0]} ${LABEL[s.kind]} round ${round + 1}: ${fmt(sample.reqPerSec)} req/s\n`,
          );
        }
      }
      report(phase.title, samples);
    }
    if (args["no-grpc"]) console.log("\n(gRPC Verify skipped: --no-grpc)");
  } finally {
    if (current) await Promise.all(current.servers.map((s) => s.stop()));
  }
}

await main();
