/**
 * Verify cost as revocations pile up: RoomTokens.verify with 0, 1,000,
 * 100,000 and 1,000,000 revoked token ids (plus user, user-in-room and room
 * watermarks) in the in-memory RevocationIndex, on a warm token (in the
 * verified-token cache) and on the cold path (cache disabled: decrypt and
 * decode every call). The verified token itself is not revoked, so every
 * check runs to the end, as it does for nearly every real Verify. (A warm
 * token re-runs the checks only when the index has changed since its last
 * Verify; between revocations that is a single integer compare.)
 *
 * Baseline: the 0-revocations index, measured in the same run. Sizes are
 * interleaved over several rounds and the median per size is reported, so
 * drift (turbo, GC, noisy neighbours) hits all alike. Heap is what each
 * index retains (ids as loaded strings included), measured after a full GC.
 *
 * Run: npx tsx bench/revocations.ts  [--ms 300] [--rounds 5] [--sizes 0,1000,100000,1000000]
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Keyring } from "../src/domain/tokens/keyring.js";
import { RevocationIndex, type Revocation } from "../src/domain/tokens/revocations.js";
import { DEFAULT_TOKEN_LIMITS, RoomTokens } from "../src/domain/tokens/room-tokens.js";
import { TokenCodec } from "../src/domain/tokens/token-codec.js";
import { formatOps, measure } from "./lib/measure.js";
import { standaloneLive } from "./lib/standalone-live.js";

const { values: args } = parseArgs({
  options: {
    ms: { type: "string", default: "300" },
    rounds: { type: "string", default: "5" },
    sizes: { type: "string", default: "0,1000,100000,1000000" },
  },
});
const minMs = Number(args.ms);
const rounds = Number(args.rounds);
const sizes = args.sizes.split(",").map(Number);
if (sizes[0] !== 0) throw new Error("--sizes must start with 0 (the baseline)");

// A full GC on demand, without asking for `node --expose-gc`.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const heapUsed = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const TENANT = "3f0c6a52-8d2e-4f7b-9a41-6c2d1e8b7f30";
const USER = "b7e4d2a1-5c3f-4e8a-9d6b-2f1a0c9e8d7b";
const ROOM = "e1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b";
const now = Date.now();
const clock = () => now;

/** Watermarks per non-empty index: users, users in a room, rooms. */
const WATERMARKS = { user: 1_000, userRoom: 1_000, room: 100 };

/**
 * An index with `n` revoked token ids (time-ordered 32-hex ids like real
 * ones, each a fresh string as the store would load it) and, when n > 0,
 * the watermarks — including old ones on the bench token's user and room,
 * issued before the token, so those lookups hit and compare.
 */
function buildIndex(n: number, watermarks: boolean): RevocationIndex {
  const index = new RevocationIndex();
  const random = randomBytes(10 * Math.min(n, 100_000));
  for (let i = 0; i < n; i++) {
    const at = now - 86_400_000 + i;
    const slot = i % 100_000;
    if (slot === 0 && i > 0) randomBytes(10 * Math.min(n - i, 100_000)).copy(random);
    const id = at.toString(16).padStart(12, "0") + random.toString("hex", slot * 10, slot * 10 + 10);
    index.add({ kind: "token", tenantId: TENANT, tokenId: id, at });
  }
  if (watermarks) {
    const rs: Revocation[] = [];
    for (let i = 0; i < WATERMARKS.user; i++)
      rs.push({ kind: "user", tenantId: TENANT, userId: `user-${i}`, at: now - 1_000 });
    for (let i = 0; i < WATERMARKS.userRoom; i++)
      rs.push({ kind: "user_room", tenantId: TENANT, userId: `user-${i}`, roomId: `room-${i % 50}`, at: now - 1_000 });
    for (let i = 0; i < WATERMARKS.room; i++)
      rs.push({ kind: "room", tenantId: TENANT, roomId: `room-${i}`, at: now - 1_000 });
    rs.push({ kind: "user", tenantId: TENANT, userId: USER, at: now - 60_000 });
    rs.push({ kind: "user_room", tenantId: TENANT, userId: USER, roomId: ROOM, at: now - 60_000 });
    rs.push({ kind: "room", tenantId: TENANT, roomId: ROOM, at: now - 60_000 });
    for (const r of rs) index.add(r);
  }
  return index;
}

const codec = new TokenCodec(
  new Keyring([{ id: 0x1234abcd, secret: randomBytes(32), state: "active", createdAt: now }]),
);
const noStore = { recordGrants: async () => undefined };

interface Case {
  readonly label: string;
  readonly size: number;
  readonly watermarks: boolean;
  readonly index: RevocationIndex;
  readonly heapBytes: number;
  readonly warm: RoomTokens;
  readonly cold: RoomTokens;
}

// The token to verify: issued now, after every watermark above.
const issuer = new RoomTokens(codec, noStore, DEFAULT_TOKEN_LIMITS, clock, standaloneLive());
const [token] = await issuer.issue(TENANT, "bench", [
  { userId: USER, roomId: ROOM, permissions: [200], metadata: { note: "temporary moderator" } },
]);

// 0 ids and no watermarks is the baseline; "0 + watermarks" separates the
// cost of having any watermark from the cost of many revoked ids.
const plan = [
  { label: "0", size: 0, watermarks: false },
  { label: "0 + watermarks", size: 0, watermarks: true },
  ...sizes.filter((n) => n > 0).map((n) => ({ label: n.toLocaleString("en-US"), size: n, watermarks: true })),
];
const cases: Case[] = [];
for (const { label, size, watermarks } of plan) {
  const before = heapUsed();
  const index = buildIndex(size, watermarks);
  const heapBytes = Math.max(0, heapUsed() - before);
  const warm = new RoomTokens(codec, noStore, DEFAULT_TOKEN_LIMITS, clock, standaloneLive({ revocations: index }));
  const cold = new RoomTokens(
    codec,
    noStore,
    { ...DEFAULT_TOKEN_LIMITS, verifyCacheSize: 0 },
    clock,
    standaloneLive({ revocations: index }),
  );
  // Sanity: the bench token verifies, a revoked id and a watermarked token do not.
  if (warm.verify(TENANT, token!).roomId !== ROOM || cold.verify(TENANT, token!).userId !== USER)
    throw new Error("bench token does not verify");
  if (index.revokedTokenCount !== size) throw new Error(`index holds ${index.revokedTokenCount} ids, expected ${size}`);
  if (watermarks) {
    if (
      !index.isRevoked({ tenantId: TENANT, tokenId: "x", userId: USER, roomId: "elsewhere", issuedAt: now - 60_000 })
    ) {
      throw new Error("user watermark not applied");
    }
  }
  cases.push({ label, size, watermarks, index, heapBytes, warm, cold });
  process.stderr.write(`index "${label}" built (${(heapBytes / 2 ** 20).toFixed(1)} MiB)\n`);
}

// --- measure, interleaved -----------------------------------------------------
const samples = new Map<string, number[]>();
const push = (k: string, v: number) => samples.set(k, [...(samples.get(k) ?? []), v]);
for (let r = 0; r < rounds; r++) {
  // Rotate the order each round so no size always runs first or last.
  const order = cases.map((_, i) => cases[(i + r) % cases.length]!);
  for (const c of order) {
    push(`warm ${c.label}`, await measure(`warm ${c.label}`, () => c.warm.verify(TENANT, token!), { minMs }));
    push(`cold ${c.label}`, await measure(`cold ${c.label}`, () => c.cold.verify(TENANT, token!), { minMs }));
  }
  process.stderr.write(`round ${r + 1}/${rounds} done\n`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ops = (k: string) => median(samples.get(k)!);

console.log(
  `node ${process.version}, ${rounds} rounds x ${minMs} ms, median per size; baseline = 0 revocations (same run)`,
);
console.log(
  `watermarks in every index but the baseline: ${WATERMARKS.user.toLocaleString("en-US")} user, ${WATERMARKS.userRoom.toLocaleString("en-US")} user-in-room, ` +
    `${WATERMARKS.room} room (+3 on the verified token's user/room, older than the token)`,
);
const watermarkHeap = cases.find((c) => c.size === 0 && c.watermarks)!.heapBytes;
const nsPerOp = (k: string) => 1e9 / ops(k);
const header = [
  "revoked ids",
  "warm ops/s",
  "vs 0",
  "warm ns",
  "cold ops/s",
  "vs 0",
  "cold ns",
  "index heap",
  "per id",
];
const rowsOut = cases.map((c) => [
  c.label,
  formatOps(ops(`warm ${c.label}`)),
  `${(ops(`warm ${c.label}`) / ops("warm 0")).toFixed(2)}x`,
  nsPerOp(`warm ${c.label}`).toFixed(0),
  formatOps(ops(`cold ${c.label}`)),
  `${(ops(`cold ${c.label}`) / ops("cold 0")).toFixed(2)}x`,
  nsPerOp(`cold ${c.label}`).toFixed(0),
  `${(c.heapBytes / 2 ** 20).toFixed(1)} MiB`,
  // Per revoked id, the watermarks' share taken out.
  c.size > 0 ? `${Math.round((c.heapBytes - watermarkHeap) / c.size)} B` : "—",
]);
const widths = header.map((h, i) => Math.max(h.length, ...rowsOut.map((row) => row[i]!.length)));
console.log("");
console.log(header.map((h, i) => h.padStart(widths[i]!)).join("  "));
for (const row of rowsOut) console.log(row.map((v, i) => v.padStart(widths[i]!)).join("  "));

const worstWarm = Math.min(...cases.map((c) => ops(`warm ${c.label}`) / ops("warm 0")));
const worstCold = Math.min(...cases.map((c) => ops(`cold ${c.label}`) / ops("cold 0")));
const largest = cases[cases.length - 1]!;
const growth = ops(`warm ${largest.label}`) / ops("warm 0 + watermarks");
console.log("");
console.log(
  `worst ratio vs 0 revocations: warm ${worstWarm.toFixed(2)}x, cold ${worstCold.toFixed(2)}x. ` +
    `Cold runs the lookups (one Set.has, up to five Map.get) on every call; warm runs them once per change of the ` +
    `index (generation stamp on the cached token), so ${largest.label} ids cost warm ` +
    `${(nsPerOp(`warm ${largest.label}`) - nsPerOp("warm 0")).toFixed(0)} ns; ${largest.label} ids vs watermarks only: ${growth.toFixed(2)}x (warm)`,
);
// Keep every index reachable until the end, so the heap figures stay honest.
if (cases.reduce((n, c) => n + c.index.revokedTokenCount, 0) < 0) console.log("unreachable");
