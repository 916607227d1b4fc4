import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import http from "node:http";
import http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Interceptor, UnaryRequest } from "@connectrpc/connect";
import { HealthCheckRequestSchema } from "../../gen/grpc/health/v1/health_pb.js";
import { Action as PrivateAction, Service as ModerationPrivate } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { VerifyRequestSchema } from "../../gen/room/tokens/private/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { LoginRequestSchema, LoginResponseSchema } from "../../gen/room/users/v1/service_pb.js";
import { serve, type RunningServer } from "../../src/app.js";
import { FastCall } from "../../src/server/fast/call.js";
import { createNodeHandler } from "../../src/server/node-adapter.js";
import { routes } from "../../src/server/routes.js";
import { bearer, tokensClient } from "../support/clients.js";
import { insertRoom, memberToken, userWithRoomRole } from "../support/permissions-fixtures.js";
import { envelope } from "../support/raw-http.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { createTestUser } from "../support/users.js";

// Issue 11: the fast path must speak exactly connect-node's protocol. One
// App is served twice — fast path on and off, so state, keys and tokens
// are the same — and every request below goes to both, over HTTP/1.1 and
// h2, Connect and gRPC; status, headers (only date and x-request-id values
// ignored), trailers and bodies must match byte for byte.

const READ_MAX = 4096;
let srv: TestServer;
let off: RunningServer;
let now = Date.now();
let sessions: http2.ClientHttp2Session[] = [];

/** Fixtures the requests use (filled in beforeAll). */
const fx = { token: "", mediumToken: "", blockedToken: "", userToken: "", roomId: "", loginUser: "", loginPassword: "pw-differential-secret" };

beforeAll(async () => {
  now = Date.now();
  srv = await startTestServer({
    clock: () => now,
    env: {
      ROOMGATE_FAST_PATH: "on",
      ROOMGATE_READ_MAX_BYTES: String(READ_MAX),
      // Logins go to both servers: no limit may refuse the second of a pair.
      ROOMGATE_LOGIN_FAILURES_PER_MINUTE: "0",
      ROOMGATE_LOGIN_ACCOUNT_FAILURES_PER_MINUTE: "0",
      ROOMGATE_LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS: "0",
      ROOMGATE_LOGIN_ATTEMPTS_PER_SECOND_PER_TENANT: "0",
    },
  });
  off = await serve(srv.app, { fastPath: false });
  const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
  fx.token = await memberToken(srv, "diff-user", "diff-room", [P.PermissionRoomKick]);
  fx.blockedToken = await memberToken(srv, userId, roomId, [P.PermissionCanSendMessagesInMainThread]);
  const transport = createConnectTransport({ baseUrl: srv.baseUrl, httpVersion: "1.1" });
  // Its answers are over compressMinBytes (1 KiB: compressed when accepted).
  const created = await tokensClient(transport).create({ arguments: [{ userId: "diff-user", roomId: "diff-room", metadata: { note: "m".repeat(1500) } }] }, bearer(srv.apiKey));
  fx.mediumToken = created.tokens[0]!;
  await createClient(ModerationPrivate, transport).act({ action: PrivateAction.ROOM_BLOCK, roomId, targetUserId: userId, reason: "diff" }, bearer(srv.apiKey));
  const user = await createTestUser(srv);
  fx.userToken = user.token;
  fx.roomId = await insertRoom(srv, { isPublic: true });
  fx.loginUser = `diff-login-${now}`;
  await createClient(UsersPrivate, transport).createUser(
    { email: `${fx.loginUser}@example.test`, username: fx.loginUser, password: fx.loginPassword, phone: "" },
    bearer(srv.apiKey),
  );
});

afterAll(async () => {
  for (const s of sessions) s.close();
  await Promise.all([off?.close(), srv?.close()]);
});

/** One exchange as seen on the wire, ready to compare. */
interface Seen {
  readonly status: number;
  readonly headers: [string, string][];
  readonly trailers: [string, string][];
  readonly body: string;
}

/** Header pairs in wire order, names lower-cased; date dropped, x-request-id's value masked. */
function pairs(raw: readonly string[] | Record<string, unknown>): [string, string][] {
  const list: [string, string][] = [];
  if (Array.isArray(raw)) for (let i = 0; i < raw.length; i += 2) list.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  else for (const [k, v] of Object.entries(raw)) for (const one of Array.isArray(v) ? v : [v]) list.push([k, String(one)]);
  return list.filter(([k]) => k !== "date").map(([k, v]) => [k, k === "x-request-id" ? "<id>" : v]);
}

interface Req {
  readonly path: string;
  readonly method?: string;
  readonly headers: Record<string, string>;
  /** One Buffer (Content-Length on HTTP/1.1) or pieces (chunked on HTTP/1.1). */
  readonly body: Buffer | readonly Buffer[];
}

function h1(port: number, r: Req): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...r.headers };
    if (Buffer.isBuffer(r.body) && headers["content-length"] === undefined) headers["content-length"] = r.body.length;
    const req = http.request({ host: "127.0.0.1", port, path: r.path, method: r.method ?? "POST", headers, agent: false });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode!, headers: pairs(res.rawHeaders), trailers: pairs(res.rawTrailers), body: Buffer.concat(chunks).toString("base64") }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    if (Buffer.isBuffer(r.body)) req.end(r.body);
    else {
      for (const piece of r.body) req.write(piece);
      req.end();
    }
  });
}

function h2(session: http2.ClientHttp2Session, r: Req): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": r.method ?? "POST", ":path": r.path, ...r.headers });
    let status = 0;
    let headers: [string, string][] = [];
    let trailers: [string, string][] = [];
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      headers = pairs(Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(":"))));
    });
    stream.on("trailers", (t) => (trailers = pairs(t)));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve({ status, headers, trailers, body: Buffer.concat(chunks).toString("base64") }));
    stream.on("error", reject);
    const pieces = Buffer.isBuffer(r.body) ? [r.body] : r.body;
    for (const piece of pieces) stream.write(piece);
    stream.end();
  });
}

function session(port: number): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  sessions.push(s);
  return s;
}

type Transport = "h1" | "h2";

/** Sends `r` to the fast-path server, then to the connect-node one; returns both. */
async function both(transport: Transport, r: Req): Promise<[Seen, Seen]> {
  if (transport === "h1") return [await h1(srv.port, r), await h1(off.port, r)];
  const [a, b] = [session(srv.port), session(off.port)];
  const pair: [Seen, Seen] = [await h2(a, r), await h2(b, r)];
  a.close();
  b.close();
  return pair;
}

/** Asserts both servers answered `r` identically; `mask` normalises values that differ by design (fresh tokens). */
async function same(transport: Transport, r: Req, mask: (s: Seen) => Seen = (s) => s): Promise<Seen> {
  const [fast, slow] = await both(transport, r);
  const seen = mask(fast);
  expect(seen, `${transport} ${r.method ?? "POST"} ${r.path} ${JSON.stringify(r.headers)}`).toEqual(mask(slow));
  return seen;
}

const VERIFY = "/room.tokens.private.v1.Service/Verify";
const VAT = "/room.users.private.v1.Service/VerifyAccessToken";
const PERMS = "/room.permissions.v1.Service/GetRoomPermissions";
const LOGIN = "/room.users.v1.Service/Login";
const HEALTH = "/grpc.health.v1.Health/Check";
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const auth = () => ({ authorization: `Bearer ${srv.apiKey}` });
const CJ = { "content-type": "application/json" };
const CP = { "content-type": "application/proto" };
const GRPC = { "content-type": "application/grpc", te: "trailers" };
const verifyBin = (token: string) => Buffer.from(toBinary(VerifyRequestSchema, create(VerifyRequestSchema, { token })));
/** Field 99 (varint 1): a field VerifyRequest does not have. */
const UNKNOWN_FIELD = Buffer.from([0x98, 0x06, 0x01]);
const MALFORMED = Buffer.from([0x0a, 0x7f, 0x61]);

/** Connect requests (JSON and binary) sent over HTTP/1.1 and h2. */
function connectCases(): Req[] {
  const big = json({ token: "x".repeat(READ_MAX + 100) });
  return [
    // Valid calls of several methods.
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { "content-type": "application/json; charset=utf-8", ...auth() }, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { "content-type": "application/json;charset=UTF-8", ...auth(), "connect-protocol-version": "1" }, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { ...CP, ...auth() }, body: verifyBin(fx.token) },
    { path: VERIFY, headers: { ...CJ, ...auth(), "accept-encoding": "gzip, br" }, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { ...CJ, ...auth(), "x-request-id": "diff-request-1" }, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: [Buffer.from('{"tok'), Buffer.from(`en":"${fx.token}"}`)] },
    { path: VAT, headers: { ...CJ, ...auth() }, body: json({ token: fx.userToken }) },
    { path: VERIFY, headers: { ...CJ, ...auth(), "accept-encoding": "gzip" }, body: json({ token: fx.mediumToken }) },
    { path: VERIFY, headers: { ...CP, ...auth(), "accept-encoding": "br, gzip" }, body: verifyBin(fx.mediumToken) },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: fx.mediumToken }) },
    { path: PERMS, headers: { ...CJ, authorization: `Bearer ${fx.userToken}` }, body: json({ roomId: fx.roomId }) },
    { path: PERMS, headers: { ...CJ, cookie: `theme=dark; roomgate_session=${fx.userToken}` }, body: json({ roomId: fx.roomId }) },
    { path: HEALTH, headers: CJ, body: json({}) },
    { path: HEALTH, headers: CP, body: Buffer.from(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema))) },
    // Errors from the service and the interceptors.
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: "" }) },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: "not-a-token" }) },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: fx.blockedToken }) },
    { path: VERIFY, headers: { ...CP, ...auth() }, body: verifyBin(fx.blockedToken) },
    { path: VERIFY, headers: CJ, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { ...CJ, authorization: "Bearer wrong-key-000000000000" }, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { ...CJ, authorization: "Basic abc" }, body: json({ token: fx.token }) },
    { path: PERMS, headers: { ...CJ, authorization: "Bearer not-a-user-token" }, body: json({ roomId: fx.roomId }) },
    { path: PERMS, headers: { ...CJ, authorization: `Bearer ${fx.blockedToken}` }, body: json({ roomId: "another-room" }) },
    // Unknown fields, malformed bodies.
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: fx.token, bogus: 1 }) },
    { path: VERIFY, headers: { ...CP, ...auth() }, body: Buffer.concat([verifyBin(fx.token), UNKNOWN_FIELD]) },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: Buffer.from('{"token":') },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: Buffer.from([0x7b, 0x22, 0x74, 0x6f, 0x6b, 0x65, 0x6e, 0x22, 0x3a, 0x22, 0xfe, 0x22, 0x7d]) },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: Buffer.alloc(0) },
    { path: VERIFY, headers: { ...CP, ...auth() }, body: MALFORMED },
    { path: VERIFY, headers: { ...CP, ...auth() }, body: Buffer.alloc(0) },
    // Oversized: announced, and not announced (chunked / h2 without length).
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: big },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: [big.subarray(0, 2000), big.subarray(2000)] },
    { path: VERIFY, headers: { ...CP, ...auth() }, body: [verifyBin("y".repeat(READ_MAX + 10))] },
    // Wrong content types, compressed bodies, wrong methods.
    { path: VERIFY, headers: { "content-type": "text/plain", ...auth() }, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { "content-type": "application/connect+json", ...auth() }, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { ...auth() }, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { ...CJ, ...auth(), "content-encoding": "gzip" }, body: gzipSync(json({ token: fx.token })) },
    { path: VERIFY, headers: { ...CJ, ...auth(), "content-encoding": "zstd" }, body: json({ token: fx.token }) },
    { path: VERIFY, method: "PUT", headers: { ...CJ, ...auth() }, body: json({ token: fx.token }) },
    { path: VERIFY, method: "GET", headers: { ...auth() }, body: [] },
    { path: "/room.tokens.private.v1.Service/NoSuchMethod", headers: { ...CJ, ...auth() }, body: json({}) },
    // Deadlines: valid, already expired, over the maximum, malformed.
    { path: VERIFY, headers: { ...CJ, ...auth(), "connect-timeout-ms": "5000" }, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { ...CJ, ...auth(), "connect-timeout-ms": "0" }, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { ...CJ, ...auth(), "connect-timeout-ms": "99999999" }, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { ...CJ, ...auth(), "connect-timeout-ms": "soon" }, body: json({ token: fx.token }) },
    // Login: wrong password, and a success that sets the session cookie.
    { path: LOGIN, headers: CJ, body: json({ tenantId: srv.tenantId, username: fx.loginUser, password: "wrong" }) },
    { path: LOGIN, headers: { ...CJ, cookie: "roomgate_session=stale" }, body: json({ tenantId: srv.tenantId, username: fx.loginUser, password: fx.loginPassword }) },
    { path: LOGIN, headers: CP, body: Buffer.from(toBinary(LoginRequestSchema, create(LoginRequestSchema, { tenantId: srv.tenantId, username: fx.loginUser, password: fx.loginPassword }))) },
  ];
}

/** gRPC requests (h2 only). */
function grpcCases(): Req[] {
  const valid = envelope(verifyBin(fx.token));
  return [
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: valid },
    { path: VERIFY, headers: { "content-type": "application/grpc+proto", ...auth(), "grpc-accept-encoding": "gzip" }, body: valid },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: [valid.subarray(0, 3), valid.subarray(3)] },
    { path: VERIFY, headers: { ...GRPC, ...auth(), "grpc-accept-encoding": "gzip" }, body: envelope(verifyBin(fx.mediumToken)) },
    { path: VAT, headers: { ...GRPC, ...auth() }, body: envelope(Buffer.from(toBinary(VerifyRequestSchema, create(VerifyRequestSchema, { token: fx.userToken })))) },
    { path: HEALTH, headers: GRPC, body: envelope(new Uint8Array(0)) },
    { path: LOGIN, headers: GRPC, body: envelope(toBinary(LoginRequestSchema, create(LoginRequestSchema, { tenantId: srv.tenantId, username: fx.loginUser, password: fx.loginPassword }))) },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: envelope(verifyBin(fx.blockedToken)) },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: envelope(verifyBin("")) },
    { path: VERIFY, headers: GRPC, body: valid },
    { path: VERIFY, headers: { ...GRPC, authorization: "Bearer wrong-key-000000000000" }, body: valid },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: envelope(Buffer.concat([verifyBin(fx.token), UNKNOWN_FIELD])) },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: envelope(MALFORMED) },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: Buffer.concat([valid, valid]) },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: valid.subarray(0, valid.length - 2) },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: [] },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: envelope(verifyBin(fx.token), 1) },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: envelope(verifyBin("z".repeat(READ_MAX + 10))) },
    { path: VERIFY, headers: { ...GRPC, ...auth(), "grpc-encoding": "gzip" }, body: envelope(gzipSync(verifyBin(fx.token)), 1) },
    { path: VERIFY, headers: { "content-type": "application/grpc+json", ...auth() }, body: envelope(json({ token: fx.token })) },
    { path: VERIFY, headers: { "content-type": "application/grpc-web+proto", ...auth() }, body: valid },
    { path: VERIFY, method: "PUT", headers: { ...GRPC, ...auth() }, body: valid },
    { path: VERIFY, headers: { ...GRPC, ...auth(), "grpc-timeout": "5S" }, body: valid },
    { path: VERIFY, headers: { ...GRPC, ...auth(), "grpc-timeout": "0m" }, body: valid },
    { path: VERIFY, headers: { ...GRPC, ...auth(), "grpc-timeout": "99999H" }, body: valid },
    { path: VERIFY, headers: { ...GRPC, ...auth(), "grpc-timeout": "soon" }, body: valid },
  ];
}

/** Login answers carry a fresh token each time: it is replaced by a marker, everything else compared. */
function maskLogin(s: Seen): Seen {
  const body = Buffer.from(s.body, "base64");
  let tokens: string[] = [];
  let text = body.toString("latin1");
  const cookie = s.headers.find(([k]) => k === "set-cookie")?.[1];
  const fromCookie = cookie ? /^roomgate_session=([^;]*)/.exec(cookie)?.[1] : undefined;
  if (fromCookie) tokens.push(fromCookie);
  try {
    const m = fromBinary(LoginResponseSchema, body[0] === 0 && s.headers.some(([, v]) => v.startsWith("application/grpc")) ? body.subarray(5) : body);
    if (m.accessToken) tokens.push(m.accessToken);
  } catch {
    // JSON or an error body: the cookie's token is the one to mask.
  }
  const json = /"accessToken":"([^"]*)"/.exec(text)?.[1];
  if (json) tokens.push(json);
  tokens = [...new Set(tokens)];
  for (const t of tokens) text = text.split(t).join("<token>");
  const mask = (v: string) => tokens.reduce((acc, t) => acc.split(t).join("<token>"), v);
  return { ...s, body: text, headers: s.headers.map(([k, v]) => [k, mask(v)]) };
}

describe("issue 11: the fast path answers exactly as connect-node", () => {
  for (const transport of ["h1", "h2"] as const) {
    it(`Connect JSON and binary over ${transport === "h1" ? "HTTP/1.1" : "h2"}: every request answered identically`, async () => {
      const statuses = new Set<number>();
      for (const r of connectCases()) {
        const seen = await same(transport, r, r.path === LOGIN ? maskLogin : undefined);
        statuses.add(seen.status);
      }
      // The cases reach successes and every kind of refusal, not one answer over and over.
      for (const s of [200, 400, 401, 403, 404, 405, 415, 429]) expect(statuses).toContain(s);
    });
  }

  it("gRPC over h2c: headers, trailers (grpc-status, grpc-message, grpc-status-details-bin) and bodies identical", async () => {
    const codes = new Set<string>();
    for (const r of grpcCases()) {
      const seen = await same("h2", r, r.path === LOGIN ? maskLogin : undefined);
      codes.add(seen.trailers.find(([k]) => k === "grpc-status")?.[1] ?? `http ${seen.status}`);
    }
    for (const c of ["0", "3", "7", "8", "12", "16"]) expect(codes).toContain(c);
  });

  it("the cases really reach response compression", async () => {
    const zipped = await same("h1", { path: VERIFY, headers: { ...CJ, ...auth(), "accept-encoding": "gzip" }, body: json({ token: fx.mediumToken }) });
    expect(zipped.headers).toContainEqual(["content-encoding", "gzip"]);
    const grpcZipped = await same("h2", { path: VERIFY, headers: { ...GRPC, ...auth(), "grpc-accept-encoding": "gzip" }, body: envelope(verifyBin(fx.mediumToken)) });
    expect(grpcZipped.headers).toContainEqual(["grpc-encoding", "gzip"]);
    expect(Buffer.from(grpcZipped.body, "base64")[0]).toBe(1);
  });

  it("the Login answer really carries a session cookie and the RoomAccessDenied detail really is there", async () => {
    const login = await same("h1", connectCases().find((r) => r.path === LOGIN && r.headers["cookie"])!, maskLogin);
    expect(login.status).toBe(200);
    expect(login.headers.find(([k]) => k === "set-cookie")?.[1]).toMatch(/^roomgate_session=<token>;/);
    const denied = await same("h2", grpcCases().find((r) => Buffer.isBuffer(r.body) && r.body.equals(envelope(verifyBin(fx.blockedToken))))!);
    expect(denied.trailers.find(([k]) => k === "grpc-status")?.[1]).toBe("7");
    expect(denied.trailers.some(([k]) => k === "grpc-status-details-bin")).toBe(true);
  });
});

describe("issue 11: the fast path is the one answering, and its lazy context behaves as connect's", () => {
  const kinds: string[] = [];
  /**
   * A test interceptor in front of the real chain: records which path
   * carried the call, and on request uses what the real interceptors never
   * touch — the signal (with a deadline), the trailer, repeated response
   * headers, and a request of its own (a spread copy with another message).
   */
  const probe: Interceptor = (next) => async (req) => {
    kinds.push(FastCall.of(req as UnaryRequest) ? "fast" : "connect");
    if (req.header.get("x-probe") === "wait") {
      await new Promise<void>((resolve) => (req.signal.aborted ? resolve() : req.signal.addEventListener("abort", () => resolve())));
      throw req.signal.reason;
    }
    if (req.header.get("x-probe") === "replace" && !req.stream) {
      return next({ ...req, message: create(VerifyRequestSchema, { token: fx.token }) });
    }
    const res = await next(req);
    if (req.header.get("x-probe") === "trailer") {
      res.trailer.set("x-probe-trailer", "t");
      res.header.append("set-cookie", "a=1");
      res.header.append("set-cookie", "b=2");
      kinds.push(`header ${[...req.header.keys()].filter((k) => k.startsWith("x-")).join(",")}`);
    }
    return res;
  };

  async function start(fastPath: boolean, writeMaxBytes?: number) {
    const handler = createNodeHandler({
      ...srv.app.routerOptions,
      ...(writeMaxBytes ? { writeMaxBytes } : {}),
      interceptors: [probe, ...(srv.app.routerOptions.interceptors ?? [])],
      routes: routes(srv.app.services),
      log: pino({ level: "silent" }),
      fastPath,
    });
    const h1Server = http.createServer(handler);
    const h2Server = http2.createServer(handler);
    await Promise.all([new Promise<void>((r) => h1Server.listen(0, "127.0.0.1", r)), new Promise<void>((r) => h2Server.listen(0, "127.0.0.1", r))]);
    const session = http2.connect(`http://127.0.0.1:${(h2Server.address() as { port: number }).port}`);
    return {
      h1: (r: Req) => h1((h1Server.address() as { port: number }).port, r),
      h2: (r: Req) => h2(session, r),
      async close() {
        session.close();
        await Promise.all([new Promise((r) => h1Server.close(r)), new Promise((r) => h2Server.close(r))]);
      },
    };
  }

  it("qualifying calls reach the interceptors as fast-path calls; the others through connect-node", async () => {
    for (const fastPath of [true, false]) {
      const s = await start(fastPath);
      kinds.length = 0;
      expect((await s.h1({ path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: fx.token }) })).status).toBe(200);
      expect((await s.h1({ path: VERIFY, headers: { ...CP, ...auth() }, body: verifyBin(fx.token) })).status).toBe(200);
      expect((await s.h2({ path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: fx.token }) })).status).toBe(200);
      expect((await s.h2({ path: VERIFY, headers: { ...GRPC, ...auth() }, body: envelope(verifyBin(fx.token)) })).trailers).toContainEqual(["grpc-status", "0"]);
      // Not qualifying: compressed, and gRPC-Web.
      expect((await s.h1({ path: VERIFY, headers: { ...CJ, ...auth(), "content-encoding": "gzip" }, body: gzipSync(json({ token: fx.token })) })).status).toBe(200);
      expect((await s.h1({ path: VERIFY, headers: { "content-type": "application/grpc-web+proto", ...auth() }, body: envelope(verifyBin(fx.token)) })).status).toBe(200);
      await s.close();
      expect(kinds).toEqual(fastPath ? ["fast", "fast", "fast", "fast", "connect", "connect"] : Array(6).fill("connect"));
    }
  });

  it("signal (deadline), trailer, repeated headers, header iteration and a replaced request answer as on connect-node", async () => {
    const [fast, slow] = [await start(true), await start(false)];
    const cases: [Transport, Req][] = [];
    for (const [t, headers, empty, valid] of [
      ["h1", { ...CJ, ...auth() }, json({ token: "" }), json({ token: fx.token })],
      ["h1", { ...CP, ...auth() }, verifyBin(""), verifyBin(fx.token)],
      ["h2", { ...CJ, ...auth() }, json({ token: "" }), json({ token: fx.token })],
      ["h2", { ...GRPC, ...auth() }, envelope(verifyBin("")), envelope(verifyBin(fx.token))],
    ] as const) {
      const timeout: Record<string, string> = headers["content-type"] === "application/grpc" ? { "grpc-timeout": "30m" } : { "connect-timeout-ms": "30" };
      cases.push([t, { path: VERIFY, headers: { ...headers, "x-probe": "wait", ...timeout }, body: valid }]);
      cases.push([t, { path: VERIFY, headers: { ...headers, "x-probe": "trailer", "x-other": "1" }, body: valid }]);
      // The message an empty token would be refused with is replaced by a valid one.
      cases.push([t, { path: VERIFY, headers: { ...headers, "x-probe": "replace" }, body: empty }]);
    }
    const statuses: string[] = [];
    for (const [t, r] of cases) {
      kinds.length = 0;
      const a = await fast[t](r);
      const fastKinds = [...kinds];
      kinds.length = 0;
      const b = await slow[t](r);
      expect(a, `${t} ${JSON.stringify(r.headers)}`).toEqual(b);
      expect(fastKinds.slice(1)).toEqual(kinds.slice(1));
      expect(fastKinds[0]).toBe("fast");
      statuses.push(`${a.status} ${a.trailers.find(([k]) => k === "grpc-status")?.[1] ?? ""}`.trim());
      if (r.headers["x-probe"] === "trailer") {
        expect(a.headers.filter(([k]) => k === "set-cookie").map(([, v]) => v)).toEqual(["a=1", "b=2"]);
        expect([...a.headers, ...a.trailers].some(([k]) => k === "trailer-x-probe-trailer" || k === "x-probe-trailer")).toBe(true);
      }
    }
    // The deadline aborted the signal (deadline_exceeded: 504 / grpc-status 4); the replaced request verified.
    expect(statuses).toEqual(["504", "200", "200", "504", "200", "200", "504", "200", "200", "200 4", "200 0", "200 0"]);
    await Promise.all([fast.close(), slow.close()]);
  });

  it("an answer over writeMaxBytes is refused alike (Connect and gRPC)", async () => {
    const [fast, slow] = [await start(true, 1500), await start(false, 1500)];
    const cases: [Transport, Req][] = [
      ["h1", { path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: fx.mediumToken }) }],
      ["h2", { path: VERIFY, headers: { ...CP, ...auth() }, body: verifyBin(fx.mediumToken) }],
      ["h2", { path: VERIFY, headers: { ...GRPC, ...auth() }, body: envelope(verifyBin(fx.mediumToken)) }],
    ];
    for (const [t, r] of cases) {
      const a = await fast[t](r);
      expect(a).toEqual(await slow[t](r));
      const text = Buffer.from(a.body, "base64").toString() + JSON.stringify(a.trailers);
      expect(text).toContain("writeMaxBytes");
    }
    await Promise.all([fast.close(), slow.close()]);
  });
});
