/**
 * Latency of one Create with 1,000 arguments, end to end over a real socket
 * (Connect JSON, HTTP/1.1 keep-alive) against the real roomgate in a child
 * process — target ≤ 25 ms p50 server time (measured in the server process:
 * request headers parsed to the response's last byte written) — with
 * baselines measured in the same run:
 *
 *   over the socket   ours (fetch, body pre-serialised) · ours (generated
 *                     Connect client) · plain-connect · bare-http
 *   in-process        RoomTokens.issue (no RPC) · the same sealing inline
 *                     (no sealing thread) · issue with a no-op store ·
 *                     SqlGrantStore.recordGrants · raw better-sqlite3
 *                     insert of the 1,000 grant rows (synchronous=FULL as
 *                     configured, and OFF to show the fsync) · Connect's JSON
 *                     decode of the request / encode of the response · the
 *                     strict-fields interceptor's walk
 *
 * Contenders run interleaved, one call each per iteration (order rotating),
 * so machine noise hits all alike. When ours' p50 is over the target (or
 * with --profile) the server is CPU-profiled over a further run of calls
 * and the time is attributed.
 *
 * Every contender that writes has its own store (fresh temp dir), so all
 * stores grow alike during the run; --prefill N starts each with N grants.
 *
 * Run: npx tsx bench/create-batch.ts [--iterations 30] [--warmup 10]
 *                                    [--prefill 0] [--profile]
 */
import { create, fromJsonString, toJsonString, type JsonObject } from "@bufbuild/protobuf";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type Database from "better-sqlite3";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Permission } from "../gen/room/permissions/v1/permission_pb.js";
import {
  CreateRequestSchema,
  CreateResponseSchema,
  Service,
  type CreateRequest,
} from "../gen/room/tokens/private/v1/service_pb.js";
import { BatchSealer } from "../src/domain/tokens/batch-sealer.js";
import { RoomTokens, type GrantRecord, type TokenRequest } from "../src/domain/tokens/room-tokens.js";
import { strictFieldsInterceptor } from "../src/server/interceptors.js";
import {
  createBenchApp,
  FLOOR_PATH,
  limitsOf,
  prefillGrants,
  roomTokensOf,
  SEED_ROOM_ID,
  seedArgumentJson,
  sqliteOf,
  type BenchApp,
  type ServerKind,
} from "./lib/bench-app.js";
import { summarizeProfile, type Bucket } from "./lib/cpuprofile.js";
import { quantile } from "./lib/h2load.js";
import { startServer, type ServerHandle } from "./lib/servers.js";
import { standaloneLive } from "./lib/standalone-live.js";

const { values: args } = parseArgs({
  options: {
    iterations: { type: "string", default: "30" },
    warmup: { type: "string", default: "10" },
    batch: { type: "string", default: "1000" },
    profile: { type: "boolean", default: false },
    prefill: { type: "string", default: "0" },
  },
});
const ITERATIONS = Number(args.iterations);
const WARMUP = Number(args.warmup);
const N = Number(args.batch);
const PREFILL = Number(args.prefill);
const TARGET_MS = 25;

// --- the request: N seed-000 shaped arguments, distinct users, one room --------
const userIds = Array.from({ length: N }, () => randomUUID());
const bodyJson = JSON.stringify({ arguments: userIds.map((u) => seedArgumentJson(u, SEED_ROOM_ID)) });
const metadata: JsonObject = { note: "temporary moderator" };
const domainRequests: TokenRequest[] = userIds.map((userId) => ({
  userId,
  roomId: SEED_ROOM_ID,
  metadata,
  permissions: [Permission.PermissionRoomKick],
}));
const protoRequest: CreateRequest = create(CreateRequestSchema, {
  arguments: userIds.map((userId) => ({
    userId,
    roomId: SEED_ROOM_ID,
    metadata,
    permissions: [Permission.PermissionRoomKick],
  })),
});

type Contender = { name: string; group: "socket" | "in-process"; run: () => Promise<void> | void };

function expectTokens(n: number, where: string): void {
  if (n !== N) throw new Error(`${where}: got ${n} tokens, want ${N}`);
}

function fetchContender(name: string, s: ServerHandle): Contender {
  const url = `http://127.0.0.1:${s.port}/room.tokens.private.v1.Service/Create`;
  const headers = {
    "content-type": "application/json",
    "connect-protocol-version": "1",
    authorization: `Bearer ${s.apiKey}`,
  };
  return {
    name,
    group: "socket",
    async run() {
      const res = await fetch(url, { method: "POST", headers, body: bodyJson });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${name}: HTTP ${res.status} ${text.slice(0, 300)}`);
      expectTokens((JSON.parse(text) as { tokens: string[] }).tokens.length, name);
    },
  };
}

/** The bare server's floor path: same bytes both ways, no token or store work. */
function floorContender(name: string, s: ServerHandle): Contender {
  const url = `http://127.0.0.1:${s.port}${FLOOR_PATH}`;
  return {
    name,
    group: "socket",
    async run() {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: bodyJson });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${name}: HTTP ${res.status}`);
      expectTokens((JSON.parse(text) as { tokens: string[] }).tokens.length, name);
    },
  };
}

function clientContender(name: string, s: ServerHandle): Contender {
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${s.apiKey}`);
    return next(req);
  };
  const client = createClient(
    Service,
    createConnectTransport({ baseUrl: `http://127.0.0.1:${s.port}`, httpVersion: "1.1", interceptors: [auth] }),
  );
  return {
    name,
    group: "socket",
    async run() {
      expectTokens((await client.create(protoRequest)).tokens.length, name);
    },
  };
}

/** Grant rows exactly as RoomTokens.issue builds them, fresh ids per call. */
function makeRecords(tenantId: string, issuedBy: string): GrantRecord[] {
  const now = Date.now();
  return userIds.map((userId) => ({
    id: randomBytes(16).toString("hex"),
    tenantId,
    userId,
    roomId: SEED_ROOM_ID,
    permissions: [Permission.PermissionRoomKick],
    metadata,
    issuedAt: now,
    expiresAt: now + 86_400_000,
    issuedBy,
  }));
}

const GRANT_SQL =
  "insert into grants (id, tenant_id, user_id, room_id, permissions, metadata, issued_at, expires_at, issued_by) values (?, ?, ?, ?, ?, ?, ?, ?, ?)";
const ROOM_SQL = "insert into rooms (tenant_id, id, created_at) values (?, ?, ?) on conflict do nothing";

/** Raw better-sqlite3: one transaction, prepared statements, the same rows and room upsert. */
function rawInserter(sqlite: Database.Database): (records: readonly GrantRecord[]) => void {
  const grant = sqlite.prepare(GRANT_SQL);
  const room = sqlite.prepare(ROOM_SQL);
  return sqlite.transaction((records: readonly GrantRecord[]) => {
    const seen = new Set<string>();
    for (const g of records) {
      if (!seen.has(g.roomId)) {
        seen.add(g.roomId);
        room.run(g.tenantId, g.roomId, g.issuedAt);
      }
      grant.run(
        g.id,
        g.tenantId,
        g.userId,
        g.roomId,
        JSON.stringify(g.permissions),
        JSON.stringify(g.metadata),
        g.issuedAt,
        g.expiresAt,
        g.issuedBy,
      );
    }
  });
}

function stats(samples: number[]): { min: number; p50: number; p90: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { min: s[0]!, p50: quantile(s, 0.5), p90: quantile(s, 0.9) };
}

const f2 = (n: number) => n.toFixed(2).padStart(7);

async function main(): Promise<void> {
  console.log(
    `create-batch: one Create with ${N} arguments; ${WARMUP} warm-up + ${ITERATIONS} timed iterations, contenders interleaved` +
      `; every writer has its own store${PREFILL > 0 ? `, prefilled with ${PREFILL.toLocaleString("en-US")} grants` : " (starting empty)"}`,
  );
  // Each contender that writes gets its own store, so all stores grow alike:
  // insert cost rises with table size (random-keyed indexes), see the README of this report.
  const locals: BenchApp[] = [];
  const local = async (): Promise<BenchApp> => {
    const l = await createBenchApp();
    locals.push(l);
    await prefillGrants(l.app, l.principal.tenantId, PREFILL);
    await l.app.sealer.whenReady();
    return l;
  };
  const servers: ServerHandle[] = [];
  try {
    const serverArgs = PREFILL > 0 ? ["--prefill", String(PREFILL)] : [];
    const settled = await Promise.allSettled(
      (["ours", "ours", "connect", "bare"] as ServerKind[]).map((k) => startServer(k, [], serverArgs)),
    );
    for (const r of settled) if (r.status === "fulfilled") servers.push(r.value);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    const [ours, ours2, plain, bare] = servers as [ServerHandle, ServerHandle, ServerHandle, ServerHandle];

    const issueApp = await local();
    const tokens = roomTokensOf(issueApp.app);
    const noStore = new RoomTokens(
      issueApp.app.codec,
      { async recordGrants() {} },
      limitsOf(issueApp.app),
      Date.now,
      standaloneLive(),
    );
    // The same issue with every batch sealed inline (no sealing thread), on a store of its own:
    // what overlapping sealing with the insert saves, measured side by side.
    const inlineApp = await local();
    const inlineTokens = new RoomTokens(
      inlineApp.app.codec,
      inlineApp.app.grants,
      limitsOf(inlineApp.app),
      Date.now,
      { ...standaloneLive(), journal: inlineApp.app.journal, transact: inlineApp.app.transact },
      new BatchSealer(inlineApp.app.codec, { worker: false }),
    );
    const repoApp = await local();
    const rawFullApp = await local();
    const rawOffApp = await local();
    sqliteOf(rawOffApp.app).pragma("synchronous = OFF");
    const rawFull = rawInserter(sqliteOf(rawFullApp.app));
    const rawOff = rawInserter(sqliteOf(rawOffApp.app));

    const decoded = fromJsonString(CreateRequestSchema, bodyJson, { ignoreUnknownFields: false });
    const response = create(CreateResponseSchema, {
      tokens: await noStore.issue(issueApp.principal.tenantId, issueApp.principal.keyId, domainRequests),
    });
    const strictWalk = strictFieldsInterceptor()((async () => undefined) as never) as unknown as (
      req: unknown,
    ) => Promise<unknown>;

    const pending: Record<string, GrantRecord[]> = {};
    const contenders: Contender[] = [
      fetchContender("ours (fetch)", ours),
      clientContender("ours (generated client)", ours2),
      fetchContender("plain-connect (fetch)", plain),
      fetchContender("bare-http (fetch)", bare),
      floorContender("HTTP floor (same bytes, no work)", bare),
      {
        name: "RoomTokens.issue in-process",
        group: "in-process",
        run: async () =>
          expectTokens(
            (await tokens.issue(issueApp.principal.tenantId, issueApp.principal.keyId, domainRequests)).length,
            "issue",
          ),
      },
      {
        name: "  issue, sealing inline (no thread)",
        group: "in-process",
        run: async () =>
          expectTokens(
            (await inlineTokens.issue(inlineApp.principal.tenantId, inlineApp.principal.keyId, domainRequests)).length,
            "inline issue",
          ),
      },
      {
        name: "  issue, no-op store",
        group: "in-process",
        run: async () =>
          expectTokens(
            (await noStore.issue(issueApp.principal.tenantId, issueApp.principal.keyId, domainRequests)).length,
            "no-op issue",
          ),
      },
      {
        name: "  SqlGrantStore.recordGrants",
        group: "in-process",
        run: () => repoApp.app.grants.recordGrants(pending["repo"]!),
      },
      { name: "  raw sqlite insert (sync FULL)", group: "in-process", run: () => rawFull(pending["full"]!) },
      { name: "  raw sqlite insert (sync OFF)", group: "in-process", run: () => rawOff(pending["off"]!) },
      {
        name: "Connect JSON decode request",
        group: "in-process",
        run: () => void fromJsonString(CreateRequestSchema, bodyJson, { ignoreUnknownFields: false }),
      },
      {
        name: "Connect JSON encode response",
        group: "in-process",
        run: () => void toJsonString(CreateResponseSchema, response),
      },
      {
        name: "strict-fields interceptor walk",
        group: "in-process",
        run: () =>
          strictWalk({ stream: false, message: decoded, header: new Headers({ "content-type": "application/proto" }) }),
      },
    ];
    const refill = (): void => {
      pending["repo"] = makeRecords(repoApp.principal.tenantId, repoApp.principal.keyId);
      pending["full"] = makeRecords(rawFullApp.principal.tenantId, rawFullApp.principal.keyId);
      pending["off"] = makeRecords(rawOffApp.principal.tenantId, rawOffApp.principal.keyId);
    };

    await contenders.find((c) => c.name === "bare-http (fetch)")!.run(); // gives the floor its response

    const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
    for (let i = 0; i < WARMUP + ITERATIONS; i++) {
      // Server times count from the first timed iteration.
      if (i === WARMUP) await Promise.all(servers.map((s) => s.serverTimes()));
      refill();
      const shift = i % contenders.length;
      const order = [...contenders.slice(shift), ...contenders.slice(0, shift)];
      for (const c of order) {
        const t0 = performance.now();
        await c.run();
        const dt = performance.now() - t0;
        if (i >= WARMUP) samples.get(c.name)!.push(dt);
      }
    }

    // Server time: the Create's request headers parsed to its response's last
    // byte written, in the server process — what the target is stated in.
    const serverSide: Array<[string, ServerHandle]> = [
      ["ours (fetch)", ours],
      ["ours (generated client)", ours2],
      ["plain-connect (fetch)", plain],
      ["bare-http (fetch)", bare],
    ];
    const serverStats = new Map<string, ReturnType<typeof stats>>();
    const cpuStats = new Map<string, ReturnType<typeof stats>>();
    for (const [name, s] of serverSide) {
      const { times, cpu } = await s.serverTimes();
      if (times.length > 0) serverStats.set(name, stats(times));
      if (cpu.length > 0) cpuStats.set(name, stats(cpu));
    }

    console.log(`\n  ${"".padEnd(34)}     min     p50     p90  (ms)   p50 vs ours(fetch)`);
    const p50 = (name: string) => stats(samples.get(name)!).p50;
    const oursP50 = p50("ours (fetch)");
    let group = "";
    for (const c of contenders) {
      if (c.group !== group) {
        group = c.group;
        console.log(
          group === "socket"
            ? "  over the socket (Connect JSON, HTTP/1.1 keep-alive):"
            : "  in-process baselines (no RPC):",
        );
      }
      const s = stats(samples.get(c.name)!);
      console.log(
        `    ${c.name.padEnd(32)} ${f2(s.min)} ${f2(s.p50)} ${f2(s.p90)}         ${(s.p50 / oursP50).toFixed(2)}x`,
      );
    }
    console.log(`\n  server time per Create (in the server process, request parsed → response written):`);
    const oursServer = serverStats.get("ours (fetch)");
    for (const [name] of serverSide) {
      const s = serverStats.get(name);
      if (s === undefined) continue;
      console.log(
        `    ${name.padEnd(32)} ${f2(s.min)} ${f2(s.p50)} ${f2(s.p90)}         ${oursServer ? (s.p50 / oursServer.p50).toFixed(2) : "-"}x`,
      );
    }
    console.log(
      `  server CPU per Create (all threads of the server process; less disturbed by a busy machine than time):`,
    );
    const oursCpu = cpuStats.get("ours (fetch)");
    for (const [name] of serverSide) {
      const s = cpuStats.get(name);
      if (s === undefined) continue;
      console.log(
        `    ${name.padEnd(32)} ${f2(s.min)} ${f2(s.p50)} ${f2(s.p90)}         ${oursCpu ? (s.p50 / oursCpu.p50).toFixed(2) : "-"}x`,
      );
    }
    console.log(
      `\n  ratio ours(fetch) / RoomTokens.issue in-process = ${(oursP50 / p50("RoomTokens.issue in-process")).toFixed(2)}x`,
    );
    console.log(
      `  ratio ours(fetch) / plain-connect               = ${(oursP50 / p50("plain-connect (fetch)")).toFixed(2)}x`,
    );
    console.log(
      `  ratio ours(fetch) / bare-http                   = ${(oursP50 / p50("bare-http (fetch)")).toFixed(2)}x`,
    );
    console.log(
      `  ratio ours(fetch) / HTTP floor                  = ${(oursP50 / p50("HTTP floor (same bytes, no work)")).toFixed(2)}x`,
    );
    console.log(
      `  ratio raw insert sync FULL / sync OFF           = ${(p50("  raw sqlite insert (sync FULL)") / p50("  raw sqlite insert (sync OFF)")).toFixed(2)}x`,
    );
    const serverP50 = oursServer?.p50 ?? oursP50;
    const verdict = serverP50 <= TARGET_MS ? "MET" : "MISSED";
    console.log(
      `  target ≤ ${TARGET_MS} ms server time per ${N}-argument Create: ${verdict} (ours p50 ${serverP50.toFixed(2)} ms server time, ${oursP50.toFixed(2)} ms over the socket)`,
    );

    if (args.profile || serverP50 > TARGET_MS) await profileOurs(ours, contenders[0]!);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    for (const l of locals) {
      await l.app.close();
      rmSync(l.dataDir, { recursive: true, force: true });
    }
  }
}

const CONNECT = /@connectrpc[\\/]connect[\\/]/;
const PROFILE_BUCKETS: Bucket[] = [
  { name: "connect unary handler (all of it)", fn: /^handle$/, file: /protocol-connect[\\/]handler-factory/ },
  { name: "  read request body", fn: /^readUnaryMessageFromBody$/, file: CONNECT },
  { name: "  JSON → CreateRequest (fromJson)", fn: /^parseUnaryMessage$/, file: CONNECT },
  { name: "  interceptors: API key check", fn: /^authenticateApiKey$/ },
  { name: "  interceptors: strict-fields walk", fn: /^findUnknown$/ },
  { name: "  TokensPrivateService.create", fn: /^create$/, file: /tokens-private-service/ },
  { name: "    RoomTokens.issue", fn: /^issue$/, file: /room-tokens/ },
  {
    name: "      validation (ids, perms, metadata size)",
    fn: /^(checkId|checkPermissions|stringify|byteLength)$/,
    under: { fn: /^issue$/, file: /room-tokens/ },
  },
  {
    name: "      create(ClaimsSchema)",
    fn: /^create$/,
    file: /@bufbuild[\\/]protobuf/,
    under: { fn: /^issue$/, file: /room-tokens/ },
  },
  { name: "      toBinary(claims)", fn: /^toBinary$/, under: { fn: /^issue$/, file: /room-tokens/ } },
  { name: "      TokenCodec.seal (XAES-256-GCM)", fn: /^seal$/, file: /token-codec/ },
  { name: "      randomBytes (token ids)", fn: /^randomBytes$/, under: { fn: /^issue$/, file: /room-tokens/ } },
  { name: "      recordGrants (SQLite txn)", fn: /^recordGrants$/, file: /grant-store/ },
  { name: "  CreateResponse → JSON (toJson)", fn: /^serialize$/, file: CONNECT },
  { name: "write response to socket", fn: /^universalResponseToNodeResponse$/ },
  { name: "garbage collector", fn: /^\(garbage collector\)$/ },
  { name: "idle (server waits: client + transport)", fn: /^\(idle\)$/ },
];

/** Profiles the ours server over fresh calls and prints where the time goes. */
async function profileOurs(ours: ServerHandle, call: Contender): Promise<void> {
  const calls = Math.max(20, ITERATIONS);
  const dir = mkdtempSync(join(tmpdir(), "roomgate-bench-prof-"));
  const path = join(dir, "ours-create-batch.cpuprofile");
  try {
    await ours.startProfile(100);
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) await call.run();
    const wall = performance.now() - t0;
    await ours.stopProfile(path);
    const sum = summarizeProfile(path, PROFILE_BUCKETS, 20);
    console.log(
      `\n  server CPU profile (ours, ${calls} calls, ${(wall / calls).toFixed(2)} ms/call wall, sampled every 100 µs):`,
    );
    console.log("    where the time goes, per call (inclusive):");
    for (const b of sum.buckets) console.log(`      ${b.name.padEnd(48)} ${(b.ms / calls).toFixed(2).padStart(6)} ms`);
    console.log("    top self time, per call:");
    for (const s of sum.self) console.log(`      ${(s.ms / calls).toFixed(2).padStart(6)} ms  ${s.frame}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
