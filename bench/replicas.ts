/**
 * Replica benchmarks (issue 8), all against real `roomgate serve` processes
 * started as an operator starts them, every ratio against a baseline
 * measured in the same run (nothing is asserted about timings):
 *
 *   1. Scaling: Verify (token cache warm) and Create ×1 throughput of
 *      `serve --workers 1` vs `--workers N` (N = os.availableParallelism())
 *      on SQLite, Connect JSON over HTTP/1.1 (wrk) and Verify over h2c
 *      (h2load), with the load generator's own CPU share next to each figure.
 *   2. Propagation delay: a token issued and its user revoked on replica A;
 *      from the moment A's answer arrives, Verify on B in a tight loop until
 *      B refuses it. Two replicas on one SQLite file (the feed polls) and two
 *      on PostgreSQL (LISTEN/NOTIFY); then the same with `min_event_id` set
 *      to the revocation's event id, which B must honour on the first call.
 *   3. One million token revocations written into the store (as events with
 *      their effects) while a replica runs: how long its change feed takes to
 *      apply them, its RSS, warm Verify throughput before and after, and the
 *      start-up time of a fresh replica that loads them from the tables.
 *
 * Run: npx tsx bench/replicas.ts [--warmup 5] [--duration 10] [--rounds 2] [--connections 32]
 *        [--samples 300] [--revocations 1000000] [--batch 50000]
 *        [--only scaling,propagation,million]
 * Needs wrk and h2load (apt-get install -y wrk nghttp2-client); without wrk,
 * autocannon generates the HTTP/1.1 load (and the output says so).
 */
import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { onlyTenantId, writeTokenRevocations } from "./lib/bulk-revocations.js";
import { call, callOk, connectHeaders } from "./lib/connect-json.js";
import { quantile } from "./lib/h2load.js";
import { h2cLoad, http1Load, installed, type LoadResult, type LoadSpec } from "./lib/load-gen.js";
import { loadAverage, rssBytes } from "./lib/procfs.js";
import {
  BENCH_API_KEY,
  createStore,
  postgresAnswers,
  POSTGRES_ADMIN_URL,
  startRoomgate,
  type BenchStore,
  type RoomgateProcess,
} from "./lib/replica-procs.js";

const { values: args } = parseArgs({
  options: {
    warmup: { type: "string", default: "5" },
    duration: { type: "string", default: "10" },
    rounds: { type: "string", default: "2" },
    connections: { type: "string", default: "32" },
    samples: { type: "string", default: "300" },
    revocations: { type: "string", default: "1000000" },
    batch: { type: "string", default: "50000" },
    only: { type: "string", default: "scaling,propagation,million" },
  },
});
const WARMUP = Number(args.warmup);
const DURATION = Number(args.duration);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);
const SAMPLES = Number(args.samples);
const REVOCATIONS = Number(args.revocations);
const BATCH = Number(args.batch);
const ONLY = new Set(args.only.split(","));
const N = availableParallelism();

const TOKENS = "room.tokens.private.v1.Service";
const VERIFY = `${TOKENS}/Verify`;
const CREATE = `${TOKENS}/Create`;
const REVOKE_USER = `${TOKENS}/RevokeUser`;

// --- formatting and the summary table ------------------------------------------

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (Number.isNaN(n) ? "  n/a" : n < 10 ? n.toFixed(2) : n.toFixed(1));
const pct = (n: number) => (Number.isNaN(n) ? "n/a" : `${Math.round(n * 100)}%`);
const mib = (b: number | undefined) => (b === undefined ? "n/a" : `${(b / 1048576).toFixed(0)} MiB`);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

/** Rows of the compact table printed at the end: what, figure, against what, verdict or ratio. */
const summary: [string, string, string, string][] = [];

function printSummary(): void {
  const head: [string, string, string, string] = ["measure", "figure", "baseline / target", "ratio / verdict"];
  const rows = [head, ...summary];
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) =>
    `  ${r[0]!.padEnd(w[0]!)}  ${r[1]!.padStart(w[1]!)}  ${r[2]!.padEnd(w[2]!)}  ${r[3]}`;
  console.log(`\nSummary`);
  console.log(line(head));
  console.log(`  ${"-".repeat(w[0]! + w[1]! + w[2]! + w[3]! + 6)}`);
  for (const r of summary) console.log(line(r));
}

// --- calls ---------------------------------------------------------------------

function createBody(
  userId: string = randomUUID(),
  roomId = "e1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b",
): Record<string, unknown> {
  return {
    arguments: [
      {
        user_id: userId,
        room_id: roomId,
        metadata: { note: "temporary moderator" },
        permissions: ["PermissionRoomKick"],
      },
    ],
  };
}

/** Issues one room token on `rg` and returns it. */
async function issue(rg: RoomgateProcess, userId?: string): Promise<string> {
  const res = await callOk(rg.baseUrl, BENCH_API_KEY, CREATE, createBody(userId));
  const tokens = res["tokens"] as string[] | undefined;
  if (tokens?.length !== 1) throw new Error(`Create: unexpected ${JSON.stringify(res)}`);
  return tokens[0]!;
}

function spec(rg: RoomgateProcess, method: string, body: unknown, seconds: number): LoadSpec {
  return {
    url: `${rg.baseUrl}/${method}`,
    body: JSON.stringify(body),
    headers: connectHeaders(BENCH_API_KEY),
    connections: CONNECTIONS,
    seconds,
  };
}

// --- 1. scaling ----------------------------------------------------------------

interface Workload {
  readonly name: string;
  run(rg: RoomgateProcess, seconds: number): Promise<LoadResult | undefined>;
}

function describe(r: LoadResult): string {
  const server = r.serverCpu.map(pct).join("+");
  return (
    `${fmt(r.reqPerSec).padStart(8)} req/s   p50 ${ms(r.p50).padStart(5)} ms   p99 ${ms(r.p99).padStart(5)} ms` +
    `   generator (${r.tool}) CPU ${pct(r.genCpu).padStart(4)}   server CPU ${server}`
  );
}

/**
 * Warm-up run(s) of `w` on `rg`, excluded from every figure; false when the
 * workload cannot run here (h2load missing). With several workers the
 * warm-up also shows that every worker serves: node:cluster hands
 * connections out round-robin to the workers listening at the time, so a
 * warm-up in which one worker did little (it was still starting) is
 * repeated, up to 3 times.
 */
async function warmUp(w: Workload, rg: RoomgateProcess): Promise<boolean> {
  for (let attempt = 1; WARMUP > 0; attempt++) {
    const warm = await w.run(rg, WARMUP);
    if (warm === undefined) return false;
    const shares = warm.serverCpu;
    if (shares.length < 2 || Math.min(...shares) >= 0.25 * Math.max(...shares)) return true;
    if (attempt === 3) {
      console.log(`    (workers' CPU still uneven after ${attempt} warm-ups: ${shares.map(pct).join("+")})`);
      return true;
    }
  }
  return true;
}

/** The round with the highest throughput (the one least disturbed by the rest of a shared machine). */
function best(rounds: readonly LoadResult[]): LoadResult {
  return rounds.reduce((a, b) => (b.reqPerSec > a.reqPerSec ? b : a));
}

const roundsOf = (rounds: readonly LoadResult[]) => rounds.map((r) => fmt(r.reqPerSec)).join(" / ");

async function scaling(): Promise<void> {
  const counts = N > 1 ? [1, N] : [1];
  console.log(
    `\n1. Scaling on SQLite: serve --workers 1 vs --workers ${N} (os.availableParallelism() = ${N}); ${CONNECTIONS} connections, ` +
      `${WARMUP} s warm-up excluded, then ${ROUNDS} rounds of ${DURATION} s, the two servers interleaved (order reversed each round), best round shown`,
  );
  if (N === 1) console.log("   one core only: no comparison possible, --workers 1 alone is measured");
  /** The Verify workload's token, issued by each server. */
  const tokenOf = new Map<RoomgateProcess, string>();
  const workloads: Workload[] = [
    {
      name: "Verify (cache warm), Connect JSON, HTTP/1.1",
      run: (rg, s) => http1Load(spec(rg, VERIFY, { token: tokenOf.get(rg)! }, s), rg.servingPids()),
    },
    {
      name: "Create ×1, Connect JSON, HTTP/1.1",
      run: (rg, s) => http1Load(spec(rg, CREATE, createBody(), s), rg.servingPids()),
    },
    {
      name: "Verify (cache warm), Connect JSON, h2c",
      // One connection per worker at least, so a cluster spreads them; the same streams in flight in total.
      run: (rg, s) =>
        h2cLoad(spec(rg, VERIFY, { token: tokenOf.get(rg)! }, s), Math.max(4, rg.workers), rg.servingPids()),
    },
  ];
  const stores: BenchStore[] = [];
  const servers = new Map<number, RoomgateProcess>();
  try {
    // Both servers run throughout, each on its own store; the one not measured is idle.
    for (const workers of counts) {
      const store = await createStore("sqlite");
      stores.push(store);
      const rg = await startRoomgate(store, workers);
      servers.set(workers, rg);
      tokenOf.set(rg, await issue(rg));
      await callOk(rg.baseUrl, BENCH_API_KEY, VERIFY, { token: tokenOf.get(rg) });
      console.log(
        `  --workers ${workers}: started in ${fmt(rg.startupMs)} ms, serving pids ${rg.servingPids().join(", ")}`,
      );
    }
    for (const w of workloads) {
      console.log(`  ${w.name}`);
      let runnable = true;
      for (const workers of counts) runnable = (await warmUp(w, servers.get(workers)!)) && runnable;
      if (!runnable) {
        console.log("    skipped: h2load is not installed");
        continue;
      }
      const rounds = new Map<number, LoadResult[]>(counts.map((c) => [c, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const workers of round % 2 === 0 ? counts : [...counts].reverse()) {
          rounds.get(workers)!.push((await w.run(servers.get(workers)!, DURATION))!);
        }
      }
      for (const workers of counts) {
        const list = rounds.get(workers)!;
        console.log(`    --workers ${workers}  ${describe(best(list))}   (rounds: ${roundsOf(list)})`);
      }
      if (N === 1) continue;
      const one = best(rounds.get(1)!);
      const many = best(rounds.get(N)!);
      console.log(`    ratio --workers ${N} / --workers 1: ${ratio(many.reqPerSec, one.reqPerSec)}`);
      summary.push([
        `${w.name.replace(", Connect JSON", "")}: workers ${N}/1`,
        `${fmt(many.reqPerSec)} req/s`,
        `${fmt(one.reqPerSec)} req/s (gen CPU ${pct(one.genCpu)} / ${pct(many.genCpu)})`,
        ratio(many.reqPerSec, one.reqPerSec),
      ]);
    }
  } finally {
    await Promise.all([...servers.values()].map((rg) => rg.stop()));
    await Promise.all(stores.map((s) => s.remove()));
  }
  console.log(
    `  (${N} workers share ${N} cores with the load generator: the generator's CPU share above is taken from those cores;` +
      ` wrk costs ~19 µs and h2load ~5 µs of CPU per request)`,
  );
}

// --- 2. propagation --------------------------------------------------------------

interface Delays {
  readonly delays: number[];
  /** Samples whose very first Verify on B was refused. */
  readonly firstRefused: number;
}

/**
 * One sample: a token for a fresh user, issued on A and accepted by B; the
 * user revoked on A; then Verify on B (with `min_event_id` = the
 * revocation's event id when `consistent`) in a tight loop until refused.
 * The delay runs from the moment A's answer has arrived.
 */
async function propagationSample(
  a: RoomgateProcess,
  b: RoomgateProcess,
  consistent: boolean,
): Promise<{ delay: number; firstRefused: boolean }> {
  const userId = randomUUID();
  const token = await issue(a, userId);
  await callOk(b.baseUrl, BENCH_API_KEY, VERIFY, { token }); // B accepts it before the revocation
  // Back-to-back samples would revoke at the same point of B's polling cycle
  // each time (a sample ends just after B's poll): a random pause spreads
  // the revocations evenly over one default SQLite poll period.
  await sleep(Math.random() * JITTER_MS);
  const revoked = await callOk(a.baseUrl, BENCH_API_KEY, REVOKE_USER, { user_id: userId, reason: "bench" });
  const t0 = performance.now();
  const eventId = String(revoked["eventId"] ?? "");
  if (!/^\d+$/.test(eventId)) throw new Error(`RevokeUser: no event id in ${JSON.stringify(revoked)}`);
  const body = consistent ? { token, min_event_id: eventId } : { token };
  for (let calls = 1; ; calls++) {
    const r = await call(b.baseUrl, BENCH_API_KEY, VERIFY, body);
    if (!r.ok && r.code === "unauthenticated") return { delay: performance.now() - t0, firstRefused: calls === 1 };
    if (!r.ok) throw new Error(`Verify on B: HTTP ${r.status} ${r.code}: ${r.message}`);
    if (performance.now() - t0 > 10_000) throw new Error("B still accepts the token 10 s after the revocation");
  }
}

/** One default SQLite feed poll period (ROOMGATE_FEED_POLL_MS). */
const JITTER_MS = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measureDelays(a: RoomgateProcess, b: RoomgateProcess, consistent: boolean): Promise<Delays> {
  const delays: number[] = [];
  let firstRefused = 0;
  for (let i = 0; i < SAMPLES; i++) {
    const s = await propagationSample(a, b, consistent);
    delays.push(s.delay);
    if (s.firstRefused) firstRefused++;
  }
  delays.sort((x, y) => x - y);
  return { delays, firstRefused };
}

async function propagation(): Promise<void> {
  console.log(
    `\n2. Propagation delay: issue + RevokeUser on A, then Verify on B in a tight loop until refused; ${SAMPLES} samples each ` +
      `(time from A's answer to B's first refusal; a random 0-${JITTER_MS} ms pause before each revocation)`,
  );
  const setups: { kind: "sqlite" | "postgres"; label: string; targetMs: number }[] = [
    { kind: "sqlite", label: "SQLite, one file, feed polling (ROOMGATE_FEED_POLL_MS default 50)", targetMs: 250 },
    { kind: "postgres", label: "PostgreSQL, LISTEN/NOTIFY (polling 1000 ms as fallback)", targetMs: 100 },
  ];
  for (const s of setups) {
    if (s.kind === "postgres" && !(await postgresAnswers())) {
      console.log(`  ${s.label}: SKIPPED, no PostgreSQL answers at ${new URL(POSTGRES_ADMIN_URL).host}`);
      summary.push([`propagation p99, PostgreSQL`, "skipped", `≤ ${s.targetMs} ms`, "NOT MEASURED"]);
      continue;
    }
    const store = await createStore(s.kind);
    const replicas: RoomgateProcess[] = [];
    try {
      // The first start migrates the store; the second finds it ready.
      replicas.push(await startRoomgate(store, 1));
      replicas.push(await startRoomgate(store, 1));
      const [a, b] = replicas as [RoomgateProcess, RoomgateProcess];
      console.log(`  ${s.label}`);
      const plain = await measureDelays(a, b, false);
      const p99 = quantile(plain.delays, 0.99);
      const verdict = p99 <= s.targetMs ? "MET" : "MISSED";
      console.log(
        `    plain Verify on B:          p50 ${ms(quantile(plain.delays, 0.5)).padStart(6)} ms   p99 ${ms(p99).padStart(6)} ms   ` +
          `max ${ms(plain.delays.at(-1)!).padStart(6)} ms   target p99 ≤ ${s.targetMs} ms: ${verdict}   ` +
          `(refused on the first call: ${plain.firstRefused}/${SAMPLES})`,
      );
      const fresh = await measureDelays(a, b, true);
      console.log(
        `    Verify with min_event_id:   p50 ${ms(quantile(fresh.delays, 0.5)).padStart(6)} ms   p99 ${ms(quantile(fresh.delays, 0.99)).padStart(6)} ms   ` +
          `max ${ms(fresh.delays.at(-1)!).padStart(6)} ms   refused on the first call: ${fresh.firstRefused}/${SAMPLES}`,
      );
      const name = s.kind === "sqlite" ? "SQLite" : "PostgreSQL";
      summary.push([
        `propagation p50 / p99, ${name}`,
        `${ms(quantile(plain.delays, 0.5))} / ${ms(p99)} ms`,
        `p99 ≤ ${s.targetMs} ms`,
        verdict,
      ]);
      summary.push([
        `min_event_id refused on 1st call, ${name}`,
        `${fresh.firstRefused}/${SAMPLES}`,
        `${SAMPLES}/${SAMPLES}`,
        fresh.firstRefused === SAMPLES ? "MET" : "MISSED",
      ]);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
      await store.remove();
    }
  }
}

// --- 3. one million revocations ----------------------------------------------------

/** Verify over HTTP/1.1 as in section 1: warm-up excluded, then the best of the measured rounds. */
async function verifyThroughput(
  rg: RoomgateProcess,
  token: string,
): Promise<{ best: LoadResult; rounds: LoadResult[] }> {
  const w: Workload = { name: "Verify", run: (r, s) => http1Load(spec(r, VERIFY, { token }, s), r.servingPids()) };
  await warmUp(w, rg);
  const rounds: LoadResult[] = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push((await w.run(rg, DURATION))!);
  return { best: best(rounds), rounds };
}

/** Resolves once `rg` has applied event `eventId` (a Verify with min_event_id waits for the feed; `unavailable` means: not yet, ask again). */
async function waitApplied(rg: RoomgateProcess, token: string, eventId: number): Promise<void> {
  for (;;) {
    const r = await call(rg.baseUrl, BENCH_API_KEY, VERIFY, { token, min_event_id: String(eventId) });
    if (r.ok) return;
    if (r.code !== "unavailable") throw new Error(`Verify with min_event_id: HTTP ${r.status} ${r.code}: ${r.message}`);
  }
}

async function expectRefused(rg: RoomgateProcess, token: string, who: string): Promise<void> {
  const r = await call(rg.baseUrl, BENCH_API_KEY, VERIFY, { token });
  if (r.ok || r.code !== "unauthenticated")
    throw new Error(`${who} still accepts the token revoked last in the bulk load`);
}

async function million(): Promise<void> {
  console.log(
    `\n3. Verify with ${fmt(REVOCATIONS)} token revocations loaded through the change feed (one replica, SQLite)`,
  );
  const store: BenchStore = await createStore("sqlite");
  const running: RoomgateProcess[] = [];
  try {
    const rg = await startRoomgate(store, 1);
    running.push(rg);
    const token = await issue(rg); // never revoked: the Verify workload
    const last = await issue(rg); // revoked by the load's last event
    const lastTokenId = String((await callOk(rg.baseUrl, BENCH_API_KEY, VERIFY, { token: last }))["tokenId"]);

    // Baseline start-up: a second replica on the same, migrated store, no revocations.
    const empty = await startRoomgate(store, 1);
    const emptyStartMs = empty.startupMs;
    const emptyRss = rssBytes(empty.pid);
    await empty.stop();

    const { best: before, rounds: beforeRounds } = await verifyThroughput(rg, token);
    const rssBefore = rssBytes(rg.pid);
    console.log(`  Verify before:  ${describe(before)}   (rounds: ${roundsOf(beforeRounds)})`);

    // The replica is paused (SIGSTOP) while the rows are written, so the time
    // below is its feed's alone, not the writer's pace.
    const tenantId = onlyTenantId(store.dbPath);
    process.kill(rg.pid, "SIGSTOP");
    let written: ReturnType<typeof writeTokenRevocations>;
    try {
      written = writeTokenRevocations(store.dbPath, { tenantId, count: REVOCATIONS, batch: BATCH, lastTokenId });
    } finally {
      process.kill(rg.pid, "SIGCONT");
    }
    const t0 = performance.now();
    console.log(
      `  wrote ${fmt(REVOCATIONS)} revocations + events (ids ${written.firstEventId}..${written.lastEventId}) in ${written.seconds.toFixed(1)} s ` +
        `(${fmt(REVOCATIONS / written.seconds)}/s, ${fmt(BATCH)} per transaction) while the replica was paused`,
    );
    await waitApplied(rg, token, written.lastEventId);
    const feedSeconds = (performance.now() - t0) / 1000;
    const rssAfter = rssBytes(rg.pid);
    await expectRefused(rg, last, "the running replica");
    console.log(
      `  feed applied them in ${feedSeconds.toFixed(2)} s after resuming (${fmt(REVOCATIONS / feedSeconds)} events/s); ` +
        `RSS ${mib(rssBefore)} before, ${mib(rssAfter)} after`,
    );

    const { best: after, rounds: afterRounds } = await verifyThroughput(rg, token);
    console.log(`  Verify after:   ${describe(after)}   (rounds: ${roundsOf(afterRounds)})`);
    console.log(`  ratio after / before: ${ratio(after.reqPerSec, before.reqPerSec)}`);

    const fresh = await startRoomgate(store, 1);
    running.push(fresh);
    await expectRefused(fresh, last, "a fresh replica");
    console.log(
      `  start-up of a fresh replica: ${fmt(fresh.startupMs)} ms with ${fmt(REVOCATIONS)} revocations in the tables (RSS ${mib(rssBytes(fresh.pid))}), ` +
        `${fmt(emptyStartMs)} ms with none (RSS ${mib(emptyRss)}): ${ratio(fresh.startupMs, emptyStartMs)}`,
    );

    const n = fmt(REVOCATIONS);
    summary.push([
      `Verify, ${n} revocations via feed`,
      `${fmt(after.reqPerSec)} req/s`,
      `${fmt(before.reqPerSec)} req/s (none)`,
      ratio(after.reqPerSec, before.reqPerSec),
    ]);
    summary.push([
      `feed apply of ${n} events`,
      `${feedSeconds.toFixed(2)} s`,
      `${fmt(REVOCATIONS / feedSeconds)} events/s`,
      "",
    ]);
    summary.push([
      `replica RSS, ${n} revocations`,
      mib(rssAfter),
      `${mib(rssBefore)} (none)`,
      rssBefore && rssAfter ? ratio(rssAfter, rssBefore) : "",
    ]);
    summary.push([
      `fresh replica start-up, ${n} in tables`,
      `${fmt(fresh.startupMs)} ms`,
      `${fmt(emptyStartMs)} ms (none)`,
      ratio(fresh.startupMs, emptyStartMs),
    ]);
  } finally {
    await Promise.all(running.map((r) => r.stop()));
    await store.remove();
  }
}

// --- main --------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0 = performance.now();
  const gens = [
    installed("wrk") ? "wrk (HTTP/1.1)" : "autocannon (HTTP/1.1; wrk is not installed, apt-get install -y wrk)",
    installed("h2load") ? "h2load (h2c)" : "no h2c load (h2load is not installed, apt-get install -y nghttp2-client)",
  ];
  console.log(
    `replicas: real \`roomgate serve\` processes; load generators: ${gens.join(", ")}; generator and server CPU from /proc`,
  );
  if (ONLY.has("scaling")) {
    console.log(`\n(load average before this section: ${loadAverage()}; the machine is shared)`);
    await scaling();
  }
  if (ONLY.has("propagation")) {
    console.log(`\n(load average before this section: ${loadAverage()}; the machine is shared)`);
    await propagation();
  }
  if (ONLY.has("million")) {
    console.log(`\n(load average before this section: ${loadAverage()}; the machine is shared)`);
    await million();
  }
  printSummary();
  console.log(`\ntotal ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

await main();
