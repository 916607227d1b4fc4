/**
 * Token codec throughput against named baselines, in one process:
 *   seal: ours (protobuf + XAES-256-GCM token) vs raw AES-256-GCM vs jose JWE (dir/A256GCM, JSON)
 *   open: ours vs raw AES-256-GCM (+ protobuf decode, and bytes only) vs jose JWE + JSON.parse
 * Run: npx tsx bench/codec.ts  [--ms 400] [--rounds 5]
 * Contenders are interleaved over several rounds and the median per
 * contender is reported, so drift (turbo, GC, noisy neighbours) hits all alike.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomFillSync, webcrypto } from "node:crypto";
import { parseArgs } from "node:util";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { CompactEncrypt, compactDecrypt } from "jose";
import { ClaimsSchema } from "../gen/room/tokens/v1/claims_pb.js";
import { Keyring } from "../src/domain/tokens/keyring.js";
import { DEFAULT_TOKEN_LIMITS, RoomTokens } from "../src/domain/tokens/room-tokens.js";
import { TokenCodec, TokenKind } from "../src/domain/tokens/token-codec.js";
import { formatOps, measure, printRatios } from "./lib/measure.js";
import { standaloneLive } from "./lib/standalone-live.js";

const { values: args } = parseArgs({
  options: { ms: { type: "string", default: "400" }, rounds: { type: "string", default: "5" } },
});
const minMs = Number(args.ms);
const rounds = Number(args.rounds);

// --- realistic claims -------------------------------------------------------
const now = Date.now();
const claims = create(ClaimsSchema, {
  tokenId: randomBytes(16),
  tenantId: "3f0c6a52-8d2e-4f7b-9a41-6c2d1e8b7f30",
  userId: "b7e4d2a1-5c3f-4e8a-9d6b-2f1a0c9e8d7b",
  roomId: "e1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b",
  permissions: [200, 201, 202, 203],
  // Metadata travels as compact JSON text inside the claims.
  metadataJson: JSON.stringify({ note: "temporary moderator" }),
  // int64 fields are bigint in the generated type (and at runtime).
  issuedAtMs: BigInt(now),
  notBeforeMs: BigInt(now),
  expiresAtMs: BigInt(now + 24 * 3600 * 1000),
});
const jsonClaims = {
  jti: Buffer.from(claims.tokenId).toString("base64url"),
  tid: claims.tenantId,
  sub: claims.userId,
  room: claims.roomId,
  perms: claims.permissions,
  meta: JSON.parse(claims.metadataJson) as unknown,
  iat: now,
  nbf: now,
  exp: now + 24 * 3600 * 1000,
};

// --- contenders ---------------------------------------------------------------
const secret = randomBytes(32);
const codec = new TokenCodec(new Keyring([{ id: 0x1234abcd, secret, state: "active", createdAt: now }]));

const ourSeal = () => codec.seal(TokenKind.RoomMember, toBinary(ClaimsSchema, claims));
const ourOpen = (t: string) => fromBinary(ClaimsSchema, codec.open(TokenKind.RoomMember, t));

const rawKey = randomBytes(32);
function rawSeal(): string {
  const out = Buffer.allocUnsafe(12 + 16 + 512);
  randomFillSync(out, 0, 12);
  const c = createCipheriv("aes-256-gcm", rawKey, out.subarray(0, 12), { authTagLength: 16 });
  const ct = c.update(toBinary(ClaimsSchema, claims));
  c.final();
  ct.copy(out, 12);
  c.getAuthTag().copy(out, 12 + ct.length);
  return out.subarray(0, 12 + ct.length + 16).toString("base64url");
}
function rawOpenBytes(t: string): Uint8Array {
  const b = Buffer.from(t, "base64url");
  const d = createDecipheriv("aes-256-gcm", rawKey, b.subarray(0, 12), { authTagLength: 16 });
  d.setAuthTag(b.subarray(b.length - 16));
  const pt = d.update(b.subarray(12, b.length - 16));
  d.final();
  return pt;
}
const rawOpen = (t: string) => fromBinary(ClaimsSchema, rawOpenBytes(t));

// A pre-imported key, so jose does not pay an import per token.
const joseKey = await webcrypto.subtle.importKey("raw", secret, "AES-GCM", false, ["encrypt", "decrypt"]);
const joseHeader = { alg: "dir", enc: "A256GCM" } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const joseSeal = () =>
  new CompactEncrypt(encoder.encode(JSON.stringify(jsonClaims))).setProtectedHeader(joseHeader).encrypt(joseKey);
const joseOpen = async (t: string) =>
  JSON.parse(decoder.decode((await compactDecrypt(t, joseKey)).plaintext)) as unknown;

// --- sanity: every contender round-trips -------------------------------------
const ourToken = ourSeal();
const rawToken = rawSeal();
const joseToken = await joseSeal();
if (ourOpen(ourToken).roomId !== claims.roomId) throw new Error("ours does not round-trip");
if (rawOpen(rawToken).roomId !== claims.roomId) throw new Error("raw does not round-trip");
if (((await joseOpen(joseToken)) as { room: string }).room !== claims.roomId)
  throw new Error("jose does not round-trip");

// The service's verify path (RoomTokens.verify): decrypt, decode, tenant and
// expiry checks. Warm = the token was verified before (services verify the
// same token on every message); cold = the cache disabled, every call opens.
const noStore = { recordGrants: async () => undefined };
const warm = new RoomTokens(codec, noStore, DEFAULT_TOKEN_LIMITS, Date.now, standaloneLive());
const cold = new RoomTokens(
  codec,
  noStore,
  { ...DEFAULT_TOKEN_LIMITS, verifyCacheSize: 0 },
  Date.now,
  standaloneLive(),
);
const [verifyToken] = await warm.issue(claims.tenantId, "bench", [
  { userId: claims.userId, roomId: claims.roomId, permissions: [200], metadata: { note: "temporary moderator" } },
]);
warm.verify(claims.tenantId, verifyToken!);

const JOSE_IN_FLIGHT = 64;
const joseBatch = Array.from({ length: JOSE_IN_FLIGHT }, () => joseToken);

// --- measure, interleaved -----------------------------------------------------
const cases: Record<string, () => unknown> = {
  "seal ours": ourSeal,
  "seal raw-aes-gcm": rawSeal,
  "seal jose-jwe": joseSeal,
  "open ours": () => ourOpen(ourToken),
  "open ours(bytes only)": () => codec.open(TokenKind.RoomMember, ourToken),
  "open raw-aes-gcm(+decode)": () => rawOpen(rawToken),
  "open raw-aes-gcm(bytes only)": () => rawOpenBytes(rawToken),
  "open jose-jwe": () => joseOpen(joseToken),
  "verify ours(warm)": () => warm.verify(claims.tenantId, verifyToken!),
  "verify ours(cold)": () => cold.verify(claims.tenantId, verifyToken!),
  // WebCrypto runs on the libuv pool, so jose gains from concurrency; ops are per token.
  [`open jose-jwe(${JOSE_IN_FLIGHT} in flight)`]: () => Promise.all(joseBatch.map(joseOpen)),
};
const perCall: Record<string, number> = { [`open jose-jwe(${JOSE_IN_FLIGHT} in flight)`]: JOSE_IN_FLIGHT };
const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of Object.entries(cases))
    samples[name]!.push((await measure(name, fn, { minMs })) * (perCall[name] ?? 1));
  process.stderr.write(`round ${r + 1}/${rounds} done\n`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ops = (name: string) => median(samples[name]!);

console.log(`node ${process.version}, ${rounds} rounds x ${minMs} ms, median per contender`);
console.log(
  `token length: ours ${ourToken.length} chars (claims ${toBinary(ClaimsSchema, claims).length} B protobuf), ` +
    `raw-aes-gcm ${rawToken.length}, jose-jwe ${joseToken.length} (claims ${JSON.stringify(jsonClaims).length} B JSON)`,
);
printRatios(
  "seal",
  "seal ours",
  Object.fromEntries(["seal ours", "seal raw-aes-gcm", "seal jose-jwe"].map((n) => [n, ops(n)])),
);
printRatios(
  "open",
  "open ours",
  Object.fromEntries(
    Object.keys(cases)
      .filter((n) => n.startsWith("open ") || n.startsWith("verify "))
      .map((n) => [n, ops(n)]),
  ),
);
const ratio = (a: string, b: string) => `${(ops(a) / ops(b)).toFixed(2)}x`;
console.log("");
console.log(
  `seal: ours ${formatOps(ops("seal ours"))} ops/s = ${ratio("seal ours", "seal raw-aes-gcm")} raw-aes-gcm, ` +
    `${ratio("seal ours", "seal jose-jwe")} jose-jwe`,
);
console.log(
  `open: ours ${formatOps(ops("open ours"))} ops/s = ${ratio("open ours", "open raw-aes-gcm(+decode)")} raw-aes-gcm(+decode), ` +
    `${ratio("open ours", "open raw-aes-gcm(bytes only)")} raw-aes-gcm(bytes only), ${ratio("open ours", "open jose-jwe")} jose-jwe`,
);
console.log(
  `open bytes only: ours ${formatOps(ops("open ours(bytes only)"))} ops/s = ` +
    `${ratio("open ours(bytes only)", "open raw-aes-gcm(bytes only)")} raw-aes-gcm(bytes only), ` +
    `${ratio("open ours(bytes only)", "open jose-jwe")} jose-jwe, ` +
    `${ratio("open ours(bytes only)", `open jose-jwe(${JOSE_IN_FLIGHT} in flight)`)} jose-jwe(${JOSE_IN_FLIGHT} in flight)`,
);
console.log(
  `verify: ours warm ${formatOps(ops("verify ours(warm)"))} ops/s = ${ratio("verify ours(warm)", "open jose-jwe")} jose-jwe; ` +
    `cold ${formatOps(ops("verify ours(cold)"))} ops/s = ${ratio("verify ours(cold)", "open jose-jwe")} jose-jwe, ` +
    `${ratio("verify ours(cold)", "open raw-aes-gcm(+decode)")} raw-aes-gcm(+decode)`,
);
const vsJose = ops("verify ours(warm)") / ops("open jose-jwe");
const coldVsJose = ops("open ours") / ops("open jose-jwe");
const vsRaw = ops("open ours") / ops("open raw-aes-gcm(+decode)");
console.log(
  `targets: verify >= 30x jose-jwe: ${vsJose >= 30 ? "met" : "MISSED"} warm (${vsJose.toFixed(1)}x), ` +
    `${coldVsJose >= 30 ? "met" : "MISSED"} cold open (${coldVsJose.toFixed(1)}x); ` +
    `open >= 0.70x raw-aes-gcm(+decode): ${vsRaw >= 0.7 ? "met" : "MISSED"} (${vsRaw.toFixed(2)}x)`,
);
