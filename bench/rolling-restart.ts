/**
 * Issue 17, point 2: a rolling restart with no failed call. Three real
 * `roomgate serve` replicas on one PostgreSQL database behind a small TCP
 * load balancer (bench/lib/tcp-balancer.ts: round-robin over the backends
 * whose last `GET /readyz`, polled every 200 ms, said 200 — why layer 4 and
 * not HAProxy is said there). Each replica runs with ROOMGATE_DRAIN_DELAY_MS
 * (default 1000 ms) above the balancer's detection time, so the balancer
 * stops sending it new connections before it stops accepting them.
 *
 * While a load of Verify, Create ×1 and GetRoomPermissions runs over HTTP/1.1
 * keep-alive (node:http), h2c (connect-node) and gRPC (grpc-js) — `--lanes`
 * calls in flight per protocol and kind, one after another on each — every
 * replica in turn gets SIGTERM; once it has exited it is started again on its
 * port, and the next one follows once the balancer sees it ready again.
 *
 * The figure: failed calls (sent, and neither answered nor refused — see
 * bench/lib/rolling-clients.ts) per protocol and kind, out of how many; the
 * goal is 0. Also printed: calls/s, refusals retried (by the clients, and by
 * the balancer when a backend refused a connection nothing had been sent on),
 * and each restart's timings. Nothing is asserted; everything started is
 * stopped and the database dropped on the way out (Ctrl-C too).
 *
 * Run: npx tsx bench/rolling-restart.ts [--before 5] [--after 5] [--pause 1] [--rolls 1]
 *        [--lanes 2] [--connections 3] [--workers 1] [--drain-delay 1000] [--poll 200]
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { callOk } from "./lib/connect-json.js";
import { loadAverage } from "./lib/procfs.js";
import {
  BENCH_API_KEY,
  createStore,
  postgresAnswers,
  startRoomgate,
  type BenchStore,
  type RoomgateProcess,
} from "./lib/replica-procs.js";
import {
  CALL_KINDS,
  grpcClient,
  h2cClient,
  http1Client,
  type CallKind,
  type ProtocolClient,
  type Target,
} from "./lib/rolling-clients.js";
import { startBalancer, type Balancer } from "./lib/tcp-balancer.js";

const { values: args } = parseArgs({
  options: {
    before: { type: "string", default: "5" },
    after: { type: "string", default: "5" },
    pause: { type: "string", default: "1" },
    rolls: { type: "string", default: "1" },
    lanes: { type: "string", default: "2" },
    connections: { type: "string", default: "3" },
    workers: { type: "string", default: "1" },
    replicas: { type: "string", default: "3" },
    "drain-delay": { type: "string", default: "1000" },
    poll: { type: "string", default: "200" },
  },
});
const BEFORE_S = Number(args.before);
const AFTER_S = Number(args.after);
const PAUSE_S = Number(args.pause);
const ROLLS = Number(args.rolls);
const LANES = Number(args.lanes);
const CONNECTIONS = Number(args.connections);
const WORKERS = Number(args.workers);
const REPLICAS = Number(args.replicas);
const DRAIN_DELAY_MS = Number(args["drain-delay"]);
const POLL_MS = Number(args.poll);
const REPLICA_ENV = { ROOMGATE_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS) };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** Counts for one protocol × call kind. */
interface Tally {
  ok: number;
  /** Answered with an error (status or code → count). */
  errors: Map<string, number>;
  /** Failed (cause → count), with the time of each. */
  failed: Map<string, number>;
  failedAt: number[];
}

const total = (t: Tally) => t.ok + sum(t.errors) + sum(t.failed);
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

/** One restart's timings, ms from its SIGTERM. */
interface Restart {
  readonly replica: number;
  /** performance.now() at SIGTERM. */
  readonly at: number;
  readonly unreadySeenMs: number;
  readonly exitedMs: number;
  readonly exitCode: number | null;
  readonly cutOff: number;
  readonly readyAgainMs: number;
}

/** Connections the replica's log says it cut off at the grace limit (its structured warn line). */
function connectionsCutOff(output: string): number {
  let cut = 0;
  for (const line of output.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (typeof rec["connections"] === "number" && typeof rec["graceMs"] === "number") cut += rec["connections"];
    } catch {
      // not a log record
    }
  }
  return cut;
}

/** Polls `GET /readyz` on `port` every 20 ms until 200. */
async function readyz(port: number): Promise<void> {
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await sleep(20);
  }
}

/** SIGTERM replica `i`, wait for its exit, start it again on its port, wait until it and the balancer see it ready. */
async function restart(rs: RoomgateProcess[], i: number, store: BenchStore, lb: Balancer): Promise<Restart> {
  const old = rs[i]!;
  const t0 = performance.now();
  const unready = lb.waitFor(lb.backends[i]!, false, t0);
  await old.stop();
  const exitedMs = performance.now() - t0;
  const unreadySeenMs = (await unready) - t0;
  const fresh = await startRoomgate(store, WORKERS, { ...REPLICA_ENV, PORT: String(old.port) });
  rs[i] = fresh;
  await readyz(fresh.port);
  await lb.waitFor(lb.backends[i]!, true, t0);
  return {
    replica: i,
    at: t0,
    unreadySeenMs,
    exitedMs,
    exitCode: old.exitCode(),
    cutOff: connectionsCutOff(old.output()),
    readyAgainMs: performance.now() - t0,
  };
}

/** Runs `lanes` loops of `kind` on `client` until `stopped()`, counting into `tally`. */
function lanes(client: ProtocolClient, kind: CallKind, tally: Tally, stopped: () => boolean): Promise<void>[] {
  return Array.from({ length: LANES }, async () => {
    while (!stopped()) {
      const r = await client.call(kind);
      if (r.outcome === "failed") {
        bump(tally.failed, r.error);
        tally.failedAt.push(performance.now());
      } else if (r.error !== undefined) bump(tally.errors, r.error);
      else tally.ok++;
    }
  });
}

function printTallies(clients: readonly ProtocolClient[], tallies: Map<string, Tally>, seconds: number): void {
  console.log(
    `\n  ${"protocol".padEnd(22)}${"call".padEnd(20)}${"calls".padStart(8)}${"answered".padStart(10)}${"error answers".padStart(15)}${"FAILED".padStart(8)}   failures by cause`,
  );
  let all = 0;
  let failedAll = 0;
  for (const c of clients) {
    for (const kind of CALL_KINDS) {
      const t = tallies.get(`${c.name}/${kind}`)!;
      const n = total(t);
      all += n;
      failedAll += sum(t.failed);
      const causes = [...t.failed].map(([k, v]) => `${k} ×${v}`).join(", ");
      const errs = [...t.errors].map(([k, v]) => `${k} ×${v}`).join(", ");
      console.log(
        `  ${c.name.padEnd(22)}${kind.padEnd(20)}${fmt(n).padStart(8)}${fmt(t.ok).padStart(10)}${fmt(sum(t.errors)).padStart(15)}${fmt(sum(t.failed)).padStart(8)}   ${causes}${errs ? `  (error answers: ${errs})` : ""}`,
      );
    }
  }
  console.log(
    `\n  failed calls: ${failedAll} of ${fmt(all)} (goal 0); ${fmt(all / seconds)} calls/s over the ${seconds.toFixed(1)} s of load`,
  );
  const retried = clients
    .map((c) => `${c.name}: ${[...c.refusals()].map(([k, v]) => `${k} ×${v}`).join(", ") || "none"}`)
    .join("; ");
  console.log(`  clean refusals retried by the clients (nothing was processed): ${retried}`);
}

function printRestarts(restarts: readonly Restart[], lb: Balancer): void {
  console.log(
    `\n  restarts (ms from SIGTERM): balancer saw /readyz fail, old process exited (exit code, connections cut off), new one ready in the balancer`,
  );
  for (const r of restarts) {
    console.log(
      `    replica ${r.replica + 1}: unready seen +${fmt(r.unreadySeenMs)} (drain delay ${DRAIN_DELAY_MS}), exited +${fmt(r.exitedMs)} (code ${r.exitCode}, cut off ${r.cutOff}), ready again +${fmt(r.readyAgainMs)}`,
    );
  }
  const maxSeen = Math.max(...restarts.map((r) => r.unreadySeenMs));
  console.log(
    `  slowest readiness detection: ${fmt(maxSeen)} ms, margin to the drain delay ${fmt(DRAIN_DELAY_MS - maxSeen)} ms`,
  );
  console.log(
    `  balancer: connections per backend ${lb.backends.map((b) => b.connections).join(" / ")}; backend refusals retried elsewhere ${lb.stats.refusedRetried}, ` +
      `other connect errors retried ${lb.stats.otherConnectErrors}, connections queued for a live backend ${lb.stats.queued}, reset for want of one ${lb.stats.noBackend}`,
  );
}

/** When the failures happened: per restart, their times from its SIGTERM (a failure before the first SIGTERM shows as "before"). */
function printFailureTimes(tallies: Map<string, Tally>, restarts: readonly Restart[]): void {
  const times = [...tallies.entries()].flatMap(([key, t]) => t.failedAt.map((at) => ({ key, at })));
  if (times.length === 0) return;
  console.log("  failures by time from the last SIGTERM before them:");
  for (const { key, at } of times.sort((a, b) => a.at - b.at)) {
    const r = [...restarts].reverse().find((x) => x.at <= at);
    console.log(`    ${r ? `replica ${r.replica + 1} +${fmt(at - r.at)} ms` : "before any SIGTERM"}  ${key}`);
  }
}

/** Starts the replicas: the first migrates the database, the rest start together. */
async function startReplicas(store: BenchStore): Promise<RoomgateProcess[]> {
  const first = await startRoomgate(store, WORKERS, REPLICA_ENV);
  const rest = await Promise.all(
    Array.from({ length: REPLICAS - 1 }, () => startRoomgate(store, WORKERS, REPLICA_ENV)),
  );
  return [first, ...rest];
}

async function run(store: BenchStore): Promise<void> {
  const rs = await startReplicas(store);
  let lb: Balancer | undefined;
  const clients: ProtocolClient[] = [];
  try {
    const roomId = randomUUID();
    const created = await callOk(rs[0]!.baseUrl, BENCH_API_KEY, "room.tokens.private.v1.Service/Create", {
      arguments: [{ user_id: randomUUID(), room_id: roomId, permissions: ["PermissionChat"] }],
    });
    lb = await startBalancer({ backendPorts: rs.map((r) => r.port), pollMs: POLL_MS });
    const target: Target = {
      port: lb.port,
      apiKey: BENCH_API_KEY,
      memberToken: (created["tokens"] as string[])[0]!,
      roomId,
    };
    clients.push(
      http1Client(target, LANES * CALL_KINDS.length),
      h2cClient(target, CONNECTIONS),
      grpcClient(target, CONNECTIONS),
    );
    const tallies = new Map<string, Tally>();
    let stopped = false;
    const running: Promise<void>[] = [];
    for (const c of clients) {
      for (const kind of CALL_KINDS) {
        const t: Tally = { ok: 0, errors: new Map(), failed: new Map(), failedAt: [] };
        tallies.set(`${c.name}/${kind}`, t);
        running.push(...lanes(c, kind, t, () => stopped));
      }
    }
    const t0 = performance.now();
    await sleep(BEFORE_S * 1000);
    const restarts: Restart[] = [];
    const rollStart = performance.now();
    for (let roll = 0; roll < ROLLS; roll++) {
      for (let i = 0; i < rs.length; i++) {
        restarts.push(await restart(rs, i, store, lb));
        await sleep(PAUSE_S * 1000);
      }
    }
    const rollEnd = performance.now();
    await sleep(AFTER_S * 1000);
    stopped = true;
    await Promise.all(running);
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `  load: ${fmt(BEFORE_S)} s before the first SIGTERM, ${((rollEnd - rollStart) / 1000).toFixed(1)} s of restarts, ${fmt(AFTER_S)} s after`,
    );
    printTallies(clients, tallies, seconds);
    printRestarts(restarts, lb);
    printFailureTimes(tallies, restarts);
  } finally {
    for (const c of clients) c.close();
    await lb?.close();
    await Promise.all(rs.map((r) => r.stop()));
  }
}

async function main(): Promise<void> {
  console.log(
    `rolling-restart: ${REPLICAS} replicas × ${WORKERS} worker(s) on PostgreSQL behind a TCP balancer (/readyz every ${POLL_MS} ms), ` +
      `ROOMGATE_DRAIN_DELAY_MS=${DRAIN_DELAY_MS}; ${LANES} call(s) in flight per protocol and kind, ${ROLLS} roll(s); load average ${loadAverage()}`,
  );
  if (!(await postgresAnswers())) {
    console.log("  SKIPPED: no PostgreSQL answers (ROOMGATE_BENCH_DATABASE_URL)");
    return;
  }
  const store = await createStore("postgres");
  try {
    await run(store);
  } finally {
    await store.remove();
  }
  console.log(`\n  load average after: ${loadAverage()} (the machine is shared)`);
}

await main();
