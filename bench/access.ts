/**
 * Issue 20's benchmark targets, in one run on one roomgate server (the real
 * app: bench/lib/rpc-server.ts "ours", one process):
 *
 *   1. Check's rate beside Verify's: same server, same protocol, same load
 *      generator, same connections (Connect JSON over HTTP/1.1 with wrk —
 *      autocannon when wrk is missing — and gRPC over h2c with h2load — the
 *      node:http2 generator when h2load is missing). Check asks one
 *      permission for a user who holds a room role and a member token in
 *      the room (both grant it); Verify verifies that user's token (cache
 *      hit). Calls are interleaved over rounds (order reversed every round).
 *      Target: Check ≥ 0.9× Verify. Server CPU per call is shown too: it
 *      does not depend on the generator.
 *   2. LookupMembers, one page of 100 from a room of 100,000 members.
 *   3. LookupRooms, one page of 100 for a user in 10,000 rooms.
 *      Targets: p50 ≤ 10 ms. Calls are made one at a time over one
 *      keep-alive connection (Connect JSON); the figure is the client's
 *      round trip. Cases: the first page, pages at random positions (page
 *      tokens collected by walking every page from the start, itself
 *      reported), and the first page right after a change that rebuilds the
 *      sorted candidate list (a token Create for a new member of the room /
 *      for the user in a new room, then the page with its min_event_id), and
 *      after a room is created elsewhere in the tenant (a token Create for a
 *      new user in a new room).
 *      Baselines in the same run: one-at-a-time Verify (the transport's
 *      floor), a room of 100 members, a user in 100 rooms.
 *
 * The state is built through the public API only: token Create, 1,000
 * tokens a call (every member holds one member token of the room; the user
 * of LookupRooms holds one in each room).
 *
 * Run: npx tsx bench/access.ts [--duration 5] [--warmup 1] [--connections 32] [--rounds 2]
 *        [--pick best|median] [--h2-sessions 4] [--no-pin] [--protocols json,grpc]
 *        [--members 100000] [--rooms 10000] [--samples 200] [--changes 50] [--profile DIR]
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { randomUUID } from "node:crypto";
import { CheckRequestSchema, CheckResponseSchema } from "../gen/room/access/private/v1/service_pb.js";
import { Permission } from "../gen/room/permissions/v1/permission_pb.js";
import { VerifyRequestSchema, VerifyResponseSchema } from "../gen/room/tokens/private/v1/service_pb.js";
import {
  createTokens,
  JsonClient,
  LOOKUP_PERMISSION,
  lookupPage,
  membersOf,
  PAGE_SIZE,
  roomsOf,
  walkPages,
  type LookupKind,
} from "./lib/access-client.js";
import {
  type LatencyCase,
  rateKey,
  type Rates,
  renderAccessTargets,
  renderLatencies,
  renderRates,
} from "./lib/access-table.js";
import { SEED_ROOM_ID } from "./lib/bench-app.js";
import { summarizeProfile, type Bucket } from "./lib/cpuprofile.js";
import { encodeRequest, probe, type CallSpec, type ProtocolId } from "./lib/http-calls.js";
import { h2loadRun, wrkRun, type RunResult, type RunSpec } from "./lib/http-load.js";
import type { Pick } from "./lib/http-table.js";
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
    protocols: { type: "string", default: "json,grpc" },
    members: { type: "string", default: "100000" },
    rooms: { type: "string", default: "10000" },
    samples: { type: "string", default: "200" },
    changes: { type: "string", default: "50" },
    profile: { type: "string" },
  },
});
const [duration, connections, rounds, h2Sessions, members, rooms, samples, changes] = [
  args.duration,
  args.connections,
  args.rounds,
  args["h2-sessions"],
  args.members,
  args.rooms,
  args.samples,
  args.changes,
].map(Number) as [number, number, number, number, number, number, number, number];
const warmup = Number(args.warmup);
const pick = args.pick as Pick;
const protocols = args.protocols.split(",").filter((p) => p !== "") as ProtocolId[];
if (
  ![duration, connections, rounds, h2Sessions, samples, changes].every((n) => Number.isInteger(n) && n > 0) ||
  ![members, rooms].every((n) => Number.isInteger(n) && n > PAGE_SIZE) ||
  !(warmup >= 0) ||
  !["best", "median"].includes(pick) ||
  !protocols.every((p) => ["json", "binary", "grpc"].includes(p))
) {
  throw new Error(
    "--duration, --connections, --rounds, --h2-sessions, --samples, --changes: positive integers; " +
      `--members, --rooms: integers above ${PAGE_SIZE}; --warmup ≥ 0; --pick best|median; --protocols json,binary,grpc`,
  );
}

/** The server on one CPU, the generator (and, with a fallback generator, this process) on the other. */
const pin = !args["no-pin"] && availableParallelism() >= 2 && installed("taskset");
const SERVER_CPU = 0;
const GENERATOR_CPU = 1;
const fallback =
  (protocols.includes("grpc") && !installed("h2load")) || (protocols.some((p) => p !== "grpc") && !installed("wrk"));

const fmt = (n: number): string => n.toLocaleString("en-US");

/** What the calls are made about: set up through the public API before anything is measured. */
interface Scene {
  /** The user with role_room_user in SEED_ROOM_ID and a member token there. */
  readonly userId: string;
  readonly token: string;
  readonly bigRoom: string;
  readonly smallRoom: string;
  readonly bigUser: string;
  readonly smallUser: string;
}

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const r = await fn();
  console.log(`  ${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return r;
}

async function setUp(c: JsonClient, s: ServerHandle): Promise<Scene> {
  const who = await c.ok("room.users.private.v1.Service/VerifyAccessToken", { token: s.userToken });
  const userId = String(who.body["userId"]);
  const { tokens } = await createTokens(c, [{ userId, roomId: SEED_ROOM_ID, permissions: [LOOKUP_PERMISSION] }]);
  const scene: Scene = {
    userId,
    token: tokens[0]!,
    bigRoom: randomUUID(),
    smallRoom: randomUUID(),
    bigUser: randomUUID(),
    smallUser: randomUUID(),
  };
  console.log("seeding through token Create (1,000 tokens a call):");
  await timed(`a room of ${fmt(members)} members`, () => createTokens(c, membersOf(scene.bigRoom, members)));
  await timed(`a user in ${fmt(rooms)} rooms`, () => createTokens(c, roomsOf(scene.bigUser, rooms)));
  await createTokens(c, [...membersOf(scene.smallRoom, PAGE_SIZE), ...roomsOf(scene.smallUser, PAGE_SIZE)]);
  return scene;
}

function rateCalls(scene: Scene): Record<"verify" | "check", CallSpec> {
  const apiKey = (r: { apiKey: string }) => r.apiKey;
  return {
    verify: {
      id: "verify",
      path: "/room.tokens.private.v1.Service/Verify",
      input: VerifyRequestSchema,
      output: VerifyResponseSchema,
      message: () => ({ token: scene.token }),
      credential: apiKey,
    },
    check: {
      id: "check",
      path: "/room.access.private.v1.Service/Check",
      input: CheckRequestSchema,
      output: CheckResponseSchema,
      message: () => ({
        userId: scene.userId,
        roomId: SEED_ROOM_ID,
        permissions: [Permission.PermissionCanSendMessagesInMainThread],
      }),
      credential: apiKey,
    },
  };
}

/** Both calls must succeed on every protocol and answer the same on each; Check must be what it claims to be. */
async function checkAnswers(s: ServerHandle, c: JsonClient, scene: Scene, calls: readonly CallSpec[]): Promise<void> {
  const check = await c.ok("room.access.private.v1.Service/Check", {
    user_id: scene.userId,
    room_id: SEED_ROOM_ID,
    permissions: [LOOKUP_PERMISSION],
  });
  const answer = (check.body["answers"] as { allowed?: boolean; grantedBy?: { kind: string }[] }[])[0];
  const kinds = (answer?.grantedBy ?? []).map((w) => w.kind).sort();
  if (answer?.allowed !== true || kinds.join(",") !== "room_role,token") {
    throw new Error(`Check: expected allowed by room_role and token, got ${JSON.stringify(check.body)}`);
  }
  for (const call of calls) {
    const answers = new Set<string>();
    for (const p of protocols) answers.add(await probe(call, p, s));
    if (answers.size !== 1)
      throw new Error(`${call.id}: the protocols answer differently:\n${[...answers].join("\n")}`);
  }
}

function runOnce(call: CallSpec, protocol: ProtocolId, s: ServerHandle, seconds: number): Promise<RunResult> {
  const spec: RunSpec = {
    ...encodeRequest(call, protocol, s),
    connections,
    h2Sessions,
    seconds,
    serverPid: s.pid,
    generatorCpu: pin ? GENERATOR_CPU : undefined,
  };
  if (protocol === "grpc") return installed("h2load") ? h2loadRun(spec) : nodeH2Run(spec);
  return installed("wrk") ? wrkRun(spec) : autocannonRun(spec);
}

async function measureRates(s: ServerHandle, scene: Scene): Promise<Rates> {
  const calls = rateCalls(scene);
  const rates: Rates = new Map();
  for (const p of protocols) {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (["verify", "check"] as const) : (["check", "verify"] as const);
      for (const id of order) {
        if (warmup > 0) await runOnce(calls[id], p, s, warmup);
        const r = await runOnce(calls[id], p, s, duration);
        rates.set(rateKey(id, p), [...(rates.get(rateKey(id, p)) ?? []), r]);
        process.stderr.write(
          `  . ${id} ${p} round ${round + 1}: ${Math.round(r.reqPerSec)} req/s, server ${Math.round(r.serverUsPerReq)} µs/req, gen ${Math.round(r.genCpu * 100)}%\n`,
        );
      }
    }
    // With --profile: one more run of each, under the server's profiler (not counted above).
    if (args.profile !== undefined) {
      for (const id of ["verify", "check"] as const)
        await profiled(s, `rate-${id}-${p}`, () => runOnce(calls[id], p, s, duration));
    }
  }
  return rates;
}

// --- lookups, one call at a time ------------------------------------------------

const BUCKETS: readonly Bucket[] = [
  { name: "memberCandidates (list build)", fn: /^memberCandidates$/ },
  { name: "roomCandidates (list build)", fn: /^roomCandidates$/ },
  { name: "standingOf (judging rows)", fn: /^standingOf$/ },
  { name: "AccessChecker.check", fn: /^check$/, file: /access-checker/ },
  { name: "AccessPrivateService.check", fn: /^check$/, file: /access-private-service/ },
  { name: "RoomTokens.verify", fn: /^verify$/, file: /room-tokens/ },
  { name: "TokensPrivateService.verify", fn: /^verify$/, file: /tokens-private-service/ },
  { name: "answerMessage (response messages)", fn: /^answerMessage$/ },
  { name: "page-token seal/open", fn: /^(seal|open)$/, file: /paging/ },
  { name: "token Create (the change)", fn: /^create$/, file: /tokens-private-service/ },
  { name: "garbage collector", fn: /^\(garbage collector\)$/ },
];
const profileLines: string[] = [];

/** Runs `fn`; with --profile, under the server's CPU profiler, and keeps a summary for the end. */
async function profiled<T>(s: ServerHandle, name: string, fn: () => Promise<T>): Promise<T> {
  if (args.profile === undefined) return fn();
  mkdirSync(args.profile, { recursive: true });
  const path = join(args.profile, `access-${name}.cpuprofile`);
  await s.startProfile(100);
  const r = await fn();
  await s.stopProfile(path);
  const sum = summarizeProfile(path, BUCKETS, 12);
  profileLines.push(`\n${name}: ${sum.totalMs.toFixed(0)} ms sampled (${path})`);
  for (const b of sum.buckets) if (b.ms > 0) profileLines.push(`  ${b.name.padEnd(36)} ${b.ms.toFixed(1)} ms`);
  profileLines.push("  top self time:");
  for (const f of sum.self) profileLines.push(`    ${f.ms.toFixed(1).padStart(8)} ms  ${f.frame}`);
  return r;
}

async function repeat(n: number, fn: () => Promise<number>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) ms.push(await fn());
  return ms;
}

const CALL: Record<LookupKind, string> = { members: "LookupMembers", rooms: "LookupRooms" };

/**
 * The big list's cases: first page, every page walked in order, random
 * pages, and the first page right after a change of the list itself
 * (`change`) or of the tenant (a room created elsewhere).
 */
async function bigCases(
  s: ServerHandle,
  c: JsonClient,
  kind: LookupKind,
  subject: string,
  size: number,
  change: () => Promise<string>,
): Promise<LatencyCase[]> {
  const call = `${CALL[kind]}, ${kind === "members" ? `room of ${fmt(size)} members` : `user in ${fmt(size)} rooms`}`;
  const base = `${kind}-small`;
  await lookupPage(c, { kind, subject }); // builds the list once: the steady cases follow
  const steady = await profiled(s, `${kind}-steady`, async () => {
    const first = await repeat(samples, async () => (await lookupPage(c, { kind, subject })).ms);
    const walk = await walkPages(c, kind, subject, size);
    const random = await repeat(samples, async () => {
      const pageToken = walk.tokens[Math.floor(Math.random() * walk.tokens.length)]!;
      return (await lookupPage(c, { kind, subject, pageToken })).ms;
    });
    return { first, walk, random };
  });
  const afterChange = (fn: () => Promise<string>) => () =>
    repeat(changes, async () => (await lookupPage(c, { kind, subject, minEventId: await fn() })).ms);
  const after = await profiled(s, `${kind}-after-change`, afterChange(change));
  // A room created elsewhere in the tenant: a token Create for a new user in a new room.
  const elsewhere = await profiled(
    s,
    `${kind}-after-elsewhere`,
    afterChange(async () => (await createTokens(c, roomsOf(randomUUID(), 1))).eventId),
  );
  return [
    { id: `${kind}-first`, call, label: "first page, steady", ms: steady.first, baseline: base, target: true },
    {
      id: `${kind}-random`,
      call,
      label: "random page (tokens from the walk), steady",
      ms: steady.random,
      baseline: base,
      target: true,
    },
    { id: `${kind}-walk`, call, label: `every page in order (${steady.walk.ms.length} pages)`, ms: steady.walk.ms },
    {
      id: `${kind}-after`,
      call,
      label: `first page right after a change (${kind === "members" ? "a new member" : "the user in a new room"})`,
      ms: after,
      target: true,
    },
    {
      id: `${kind}-elsewhere`,
      call,
      label: "first page right after a room is created elsewhere in the tenant",
      ms: elsewhere,
      target: true,
    },
  ];
}

async function measureLookups(s: ServerHandle, c: JsonClient, scene: Scene): Promise<LatencyCase[]> {
  const verify = await repeat(
    samples,
    async () => (await c.ok("room.tokens.private.v1.Service/Verify", { token: scene.token })).ms,
  );
  const small = async (kind: LookupKind, subject: string) => {
    await lookupPage(c, { kind, subject });
    return repeat(samples, async () => (await lookupPage(c, { kind, subject })).ms);
  };
  const cases: LatencyCase[] = [
    { id: "verify", call: "Verify (cache hit), one at a time", label: "the transport's floor", ms: verify },
    {
      id: "members-small",
      call: "LookupMembers, room of 100 members",
      label: "the whole room",
      ms: await small("members", scene.smallRoom),
    },
  ];
  // A change to the room: a new member's token (the room's candidate list is rebuilt on the next page).
  const joinRoom = async () => (await createTokens(c, membersOf(scene.bigRoom, 1))).eventId;
  cases.push(...(await bigCases(s, c, "members", scene.bigRoom, members, joinRoom)));
  cases.push({
    id: "rooms-small",
    call: "LookupRooms, user in 100 rooms",
    label: "all their rooms",
    ms: await small("rooms", scene.smallUser),
  });
  // A change to the user: a token in a new room (the user's candidate list is rebuilt on the next page).
  const joinNewRoom = async () => (await createTokens(c, roomsOf(scene.bigUser, 1))).eventId;
  cases.push(...(await bigCases(s, c, "rooms", scene.bigUser, rooms, joinNewRoom)));
  return cases;
}

async function main(): Promise<void> {
  console.log(
    `access: ${connections} connections (gRPC: ${connections} streams over ${h2Sessions} h2c connections), ` +
      `${warmup} s warm-up + ${duration} s per call, ${rounds} round(s) interleaved, ${pick} round reported; ` +
      `lookups one at a time, ${samples} calls per case, ${changes} changes; load average ${loadAverage()}`,
  );
  console.log(pin ? `pinned: server on CPU ${SERVER_CPU}, generators on CPU ${GENERATOR_CPU} (taskset)` : "not pinned");
  if (fallback) {
    console.log(
      `FALLBACK GENERATOR (${[!installed("wrk") && "wrk missing: autocannon", !installed("h2load") && "h2load missing: the node:http2 generator"].filter(Boolean).join("; ")}): ` +
        "it runs in this process and costs several times wrk's/h2load's CPU per request, so it may cap the rates; server CPU per call does not depend on it",
    );
  }
  const s = await startServer("ours");
  const c = new JsonClient(s.port, s.apiKey);
  try {
    if (pin) {
      execFileSync("taskset", ["-a", "-p", "-c", String(SERVER_CPU), String(s.pid)], { stdio: "ignore" });
      if (fallback)
        execFileSync("taskset", ["-a", "-p", "-c", String(GENERATOR_CPU), String(process.pid)], { stdio: "ignore" });
    }
    const scene = await setUp(c, s);
    const calls = rateCalls(scene);
    await checkAnswers(s, c, scene, [calls.verify, calls.check]);
    const rates = await measureRates(s, scene);
    const cases = await measureLookups(s, c, scene);
    console.log("");
    console.log(renderRates(rates, protocols, pick));
    console.log("");
    console.log(
      "req/s with p50 / p99 latency under load; server CPU µs/req: the server's user+sys CPU over the run ÷ requests;",
    );
    console.log("gen CPU: the generator's share of a core († GENERATOR-BOUND: ≥ 90%, the generator set the pace).");
    console.log("");
    console.log(renderLatencies(cases));
    console.log("");
    console.log(
      `one call at a time over one keep-alive connection, Connect JSON, page size ${PAGE_SIZE}, permission ${LOOKUP_PERMISSION}; ` +
        "round trip at the client. A change: a token Create (a new member of the room / the user in a new room / a new user in a new room elsewhere), then the page with its min_event_id.",
    );
    for (const l of profileLines) console.log(l);
    console.log("");
    console.log(`load average at the end: ${loadAverage()}`);
    console.log("");
    console.log("Targets (issue 20):");
    for (const line of renderAccessTargets(rates, protocols, pick, cases)) console.log(line);
  } finally {
    c.close();
    await s.stop();
  }
}

await main();
