/**
 * Issue 16's figures, against real `roomgate serve` processes, every ratio
 * against a baseline of the same run (nothing here is asserted):
 *
 *   1. A write's own latency, sequential calls over keep-alive: RevokeUser
 *      (removing: waits for every live replica) and Create ×1 (granting) —
 *      SQLite with 1 worker vs 2 workers (the sibling sync through the
 *      primary), PostgreSQL with 1 replica vs 3 replicas (the removal
 *      barrier).
 *   2. Propagation on PostgreSQL with three replicas: from a write's answer
 *      on A until B and C both show it, polling Verify — for a removing
 *      write (RevokeUser; the barrier makes it 0 by construction) and a
 *      granting one (unmute: the feed delay).
 *   3. What the leases cost PostgreSQL: transactions per second of an idle
 *      replica set (heartbeats and the feed), per replica.
 *
 * Run: npx tsx bench/consistency.ts [--samples 300]
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import pg from "pg";
import { call, callOk } from "./lib/connect-json.js";
import { quantile } from "./lib/h2load.js";
import { loadAverage } from "./lib/procfs.js";
import {
  BENCH_API_KEY,
  createStore,
  postgresAnswers,
  startRoomgate,
  type BenchStore,
  type RoomgateProcess,
} from "./lib/replica-procs.js";

const { values: args } = parseArgs({ options: { samples: { type: "string", default: "300" } } });
const SAMPLES = Number(args.samples);
const TOKENS = "room.tokens.private.v1.Service";
const SEND = "PermissionCanSendMessagesInMainThread";
const ROOM = "e1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b";
const summary: [string, string, string, string][] = [];
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));
const p = (xs: number[]) => `${ms(quantile(xs, 0.5))} / ${ms(quantile(xs, 0.99))} ms`;

async function createToken(rg: RoomgateProcess, userId: string): Promise<string> {
  const r = await callOk(rg.baseUrl, BENCH_API_KEY, `${TOKENS}/Create`, {
    arguments: [{ user_id: userId, room_id: ROOM, permissions: [SEND] }],
  });
  return (r["tokens"] as string[])[0]!;
}

/** `n` sequential calls of `once`, each timed; sorted milliseconds. */
async function timed(n: number, once: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await once(i);
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

/** RevokeUser and Create ×1 latencies on `rg` (each RevokeUser revokes a fresh user with a live token). */
async function writeLatencies(rg: RoomgateProcess): Promise<{ revoke: number[]; create: number[] }> {
  const users = Array.from({ length: SAMPLES }, () => randomUUID());
  const create = await timed(SAMPLES, (i) => createToken(rg, users[i]!));
  const revoke = await timed(SAMPLES, (i) =>
    callOk(rg.baseUrl, BENCH_API_KEY, `${TOKENS}/RevokeUser`, { user_id: users[i], reason: "bench" }),
  );
  return { revoke, create };
}

async function withReplicas<T>(
  kind: "sqlite" | "postgres",
  count: number,
  workers: number,
  fn: (rs: RoomgateProcess[], store: BenchStore) => Promise<T>,
): Promise<T> {
  const store = await createStore(kind);
  const rs: RoomgateProcess[] = [];
  try {
    rs.push(await startRoomgate(store, workers));
    for (let i = 1; i < count; i++) rs.push(await startRoomgate(store, workers));
    return await fn(rs, store);
  } finally {
    await Promise.all(rs.map((r) => r.stop()));
    await store.remove();
  }
}

async function latencySection(
  label: string,
  kind: "sqlite" | "postgres",
  base: [number, number],
  other: [number, number],
): Promise<void> {
  const [baseCount, baseWorkers] = base;
  const [otherCount, otherWorkers] = other;
  const a = await withReplicas(kind, baseCount, baseWorkers, (rs) => writeLatencies(rs[0]!));
  const b = await withReplicas(kind, otherCount, otherWorkers, (rs) => writeLatencies(rs[0]!));
  const what = (n: number, w: number) => `${n} replica${n > 1 ? "s" : ""} × ${w} worker${w > 1 ? "s" : ""}`;
  for (const [name, x, y] of [
    ["RevokeUser", a.revoke, b.revoke],
    ["Create ×1", a.create, b.create],
  ] as const) {
    const rise = quantile(y, 0.5) - quantile(x, 0.5);
    console.log(
      `  ${label} ${name.padEnd(10)} ${what(baseCount, baseWorkers)}: p50/p99 ${p(x)}   ${what(otherCount, otherWorkers)}: ${p(y)}   p50 rise ${ms(rise)} ms`,
    );
    summary.push([
      `${name} p50/p99, ${label}, ${what(otherCount, otherWorkers)}`,
      p(y),
      `${what(baseCount, baseWorkers)}: ${p(x)}`,
      `p50 ${rise >= 0 ? "+" : ""}${ms(rise)} ms`,
    ]);
  }
}

/** Polls Verify of `token` on `r` until `done` says the answer shows the write; ms from `t0`. */
async function until(
  r: RoomgateProcess,
  token: string,
  t0: number,
  done: (res: Awaited<ReturnType<typeof call>>) => boolean,
): Promise<number> {
  for (;;) {
    const res = await call(r.baseUrl, BENCH_API_KEY, `${TOKENS}/Verify`, { token });
    if (done(res)) return performance.now() - t0;
    if (performance.now() - t0 > 10_000) throw new Error("a replica did not show the write within 10 s");
  }
}

async function propagation(rs: RoomgateProcess[]): Promise<void> {
  const [a, ...others] = rs as [RoomgateProcess, ...RoomgateProcess[]];
  const removing: number[] = [];
  const granting: number[] = [];
  let firstRefused = 0;
  for (let i = 0; i < SAMPLES; i++) {
    const userId = randomUUID();
    const token = await createToken(a, userId);
    const act = (action: string) =>
      callOk(a.baseUrl, BENCH_API_KEY, "room.moderation.private.v1.Service/Act", {
        action,
        room_id: ROOM,
        target_user_id: userId,
      });
    await act("ACTION_CHAT_MUTE");
    await Promise.all(
      others.map((r) =>
        until(r, token, performance.now(), (res) => res.ok && !(res.body["permissions"] as string[]).includes(SEND)),
      ),
    );
    await act("ACTION_CHAT_UNMUTE");
    let t0 = performance.now();
    const g = await Promise.all(
      others.map((r) => until(r, token, t0, (res) => res.ok && (res.body["permissions"] as string[]).includes(SEND))),
    );
    granting.push(Math.max(...g));
    await callOk(a.baseUrl, BENCH_API_KEY, `${TOKENS}/RevokeUser`, { user_id: userId, reason: "bench" });
    t0 = performance.now();
    let polls = 0;
    const r = await Promise.all(
      others.map((o) =>
        until(o, token, t0, (res) => {
          polls++;
          return !res.ok && res.code === "unauthenticated";
        }),
      ),
    );
    removing.push(Math.max(...r));
    if (polls === others.length) firstRefused++;
  }
  removing.sort((x, y) => x - y);
  granting.sort((x, y) => x - y);
  console.log(
    `  removing (RevokeUser): answer → B and C refuse: p50/p99 ${p(removing)}; refused on the first call by both: ${firstRefused}/${SAMPLES}`,
  );
  console.log(`  granting (unmute):     answer → B and C allow:  p50/p99 ${p(granting)}`);
  summary.push([
    "propagation, removing, PostgreSQL ×3",
    p(removing),
    `first call refused ${SAMPLES}/${SAMPLES}`,
    `${firstRefused}/${SAMPLES}`,
  ]);
  summary.push([
    "propagation, granting (unmute), PostgreSQL ×3",
    p(granting),
    "p99 ≤ 50 ms",
    quantile(granting, 0.99) <= 50 ? "MET" : "MISSED",
  ]);
}

/** Removing writes per second with `concurrency` callers over keep-alive for `seconds`, spread over the replicas. */
async function removingThroughput(rs: RoomgateProcess[], concurrency: number, seconds: number): Promise<number> {
  const users = Array.from({ length: concurrency }, () => randomUUID());
  for (const u of users) await createToken(rs[0]!, u);
  const end = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    users.map(async (u, i) => {
      const r = rs[i % rs.length]!;
      while (performance.now() < end) {
        await callOk(r.baseUrl, BENCH_API_KEY, `${TOKENS}/RevokeUser`, { user_id: u, reason: "bench" });
        done++;
      }
    }),
  );
  return done / seconds;
}

/** Commits per second in the store's database while `rs` idle, over `seconds`. */
async function idleCommits(store: BenchStore, seconds: number): Promise<number> {
  const client = new pg.Client({ connectionString: store.env["ROOMGATE_DATABASE_URL"] });
  await client.connect();
  try {
    const read = async () =>
      Number(
        (await client.query("select xact_commit from pg_stat_database where datname = current_database()")).rows[0]
          .xact_commit,
      );
    await client.query("select pg_stat_clear_snapshot()");
    const before = await read();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    await client.query("select pg_stat_clear_snapshot()");
    return ((await read()) - before) / seconds;
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  console.log(`consistency: ${SAMPLES} samples per figure; load average ${loadAverage()}`);
  console.log("\n1. A write's own latency (sequential, keep-alive)");
  await latencySection("SQLite", "sqlite", [1, 1], [1, 2]);
  if (!(await postgresAnswers())) {
    console.log("  PostgreSQL: SKIPPED, no server answers");
  } else {
    await latencySection("PostgreSQL", "postgres", [1, 1], [3, 1]);
    console.log("\n2. Propagation, three replicas on PostgreSQL");
    await withReplicas("postgres", 3, 1, (rs) => propagation(rs));
    console.log(
      "\n2b. Removing-write throughput on PostgreSQL (RevokeUser, 32 callers, 5 s; writers share one advisory lock)",
    );
    for (const n of [1, 3]) {
      const rate = await withReplicas("postgres", n, 1, (rs) => removingThroughput(rs, 32, 5));
      console.log(`  ${n} replica(s) × 1 worker: ${rate.toFixed(0)} RevokeUser/s`);
      summary.push([`RevokeUser/s, PostgreSQL, ${n} × 1 worker, 32 callers`, rate.toFixed(0), "", ""]);
    }
    console.log("\n3. What an idle replica costs PostgreSQL (heartbeats, feed)");
    for (const n of [1, 3]) {
      const perSecond = await withReplicas("postgres", n, 2, (_rs, store) => idleCommits(store, 10));
      console.log(
        `  ${n} replica(s) × 2 workers, idle: ${perSecond.toFixed(1)} commits/s (${(perSecond / (2 * n)).toFixed(1)} per process)`,
      );
      summary.push([
        `idle commits/s, PostgreSQL, ${n} × 2 workers`,
        perSecond.toFixed(1),
        "",
        `${(perSecond / (2 * n)).toFixed(1)} per process`,
      ]);
    }
  }
  console.log("\nSummary");
  for (const r of summary) console.log(`  | ${r.join(" | ")} |`);
}

await main();
