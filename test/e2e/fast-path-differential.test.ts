import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckRequestSchema } from "../../gen/grpc/health/v1/health_pb.js";
import {
  Action as PrivateAction,
  Service as ModerationPrivate,
} from "../../gen/room/moderation/private/v1/service_pb.js";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { VerifyRequestSchema } from "../../gen/room/tokens/private/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { LoginRequestSchema, LoginResponseSchema } from "../../gen/room/users/v1/service_pb.js";
import { serve, type RunningServer } from "../../src/app/serve.js";
import { bearer, connectTransport, tokensClient } from "../support/clients.js";
import { insertRoom, memberToken, userWithRoomRole } from "../support/permissions-fixtures.js";
import { envelope } from "../support/raw-http.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { createTestUser } from "../support/users.js";
import {
  CJ,
  CP,
  GRPC,
  h1,
  h2,
  HEALTH,
  json,
  LOGIN,
  MALFORMED,
  PERMS,
  UNKNOWN_FIELD,
  VAT,
  VERIFY,
  verifyBin,
  type Req,
  type Seen,
  type Transport,
} from "../support/wire.js";

// Issue 11: the fast path must speak exactly connect-node's protocol. One
// App is served twice — fast path on and off, so state, keys and tokens
// are the same — and every request below goes to both, over HTTP/1.1 and
// h2, Connect and gRPC; status, headers (only date and x-request-id values
// ignored), trailers and bodies must match byte for byte.

const READ_MAX = 4096;
let srv: TestServer;
let off: RunningServer;
let now = Date.now();
const sessions: http2.ClientHttp2Session[] = [];

/** Fixtures the requests use (filled in beforeAll). */
const fx = {
  token: "",
  mediumToken: "",
  blockedToken: "",
  userToken: "",
  roomId: "",
  loginUser: "",
  loginPassword: "pw-differential-secret",
};

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
  const transport = connectTransport(srv.baseUrl);
  // Its answers are over compressMinBytes (1 KiB: compressed when accepted).
  const created = await tokensClient(transport).create(
    { arguments: [{ userId: "diff-user", roomId: "diff-room", metadata: { note: "m".repeat(1500) } }] },
    bearer(srv.apiKey),
  );
  fx.mediumToken = created.tokens[0]!;
  await createClient(ModerationPrivate, transport).act(
    { action: PrivateAction.ROOM_BLOCK, roomId, targetUserId: userId, reason: "diff" },
    bearer(srv.apiKey),
  );
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

function session(port: number): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  sessions.push(s);
  return s;
}

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

const auth = () => ({ authorization: `Bearer ${srv.apiKey}` });

/** Connect requests (JSON and binary) sent over HTTP/1.1 and h2. */
function connectCases(): Req[] {
  const big = json({ token: "x".repeat(READ_MAX + 100) });
  return [
    // Valid calls of several methods.
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: fx.token }) },
    {
      path: VERIFY,
      headers: { "content-type": "application/json; charset=utf-8", ...auth() },
      body: json({ token: fx.token }),
    },
    {
      path: VERIFY,
      headers: { "content-type": "application/json;charset=UTF-8", ...auth(), "connect-protocol-version": "1" },
      body: json({ token: fx.token }),
    },
    { path: VERIFY, headers: { ...CP, ...auth() }, body: verifyBin(fx.token) },
    { path: VERIFY, headers: { ...CJ, ...auth(), "accept-encoding": "gzip, br" }, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { ...CJ, ...auth(), "x-request-id": "diff-request-1" }, body: json({ token: fx.token }) },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: [Buffer.from('{"tok'), Buffer.from(`en":"${fx.token}"}`)] },
    { path: VAT, headers: { ...CJ, ...auth() }, body: json({ token: fx.userToken }) },
    { path: VERIFY, headers: { ...CJ, ...auth(), "accept-encoding": "gzip" }, body: json({ token: fx.mediumToken }) },
    { path: VERIFY, headers: { ...CP, ...auth(), "accept-encoding": "br, gzip" }, body: verifyBin(fx.mediumToken) },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: fx.mediumToken }) },
    { path: PERMS, headers: { ...CJ, authorization: `Bearer ${fx.userToken}` }, body: json({ roomId: fx.roomId }) },
    {
      path: PERMS,
      headers: { ...CJ, cookie: `theme=dark; roomgate_session=${fx.userToken}` },
      body: json({ roomId: fx.roomId }),
    },
    { path: HEALTH, headers: CJ, body: json({}) },
    {
      path: HEALTH,
      headers: CP,
      body: Buffer.from(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema))),
    },
    // Errors from the service and the interceptors.
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: "" }) },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: "not-a-token" }) },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: fx.blockedToken }) },
    { path: VERIFY, headers: { ...CP, ...auth() }, body: verifyBin(fx.blockedToken) },
    { path: VERIFY, headers: CJ, body: json({ token: fx.token }) },
    {
      path: VERIFY,
      headers: { ...CJ, authorization: "Bearer wrong-key-000000000000" },
      body: json({ token: fx.token }),
    },
    { path: VERIFY, headers: { ...CJ, authorization: "Basic abc" }, body: json({ token: fx.token }) },
    { path: PERMS, headers: { ...CJ, authorization: "Bearer not-a-user-token" }, body: json({ roomId: fx.roomId }) },
    {
      path: PERMS,
      headers: { ...CJ, authorization: `Bearer ${fx.blockedToken}` },
      body: json({ roomId: "another-room" }),
    },
    // Unknown fields, malformed bodies.
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: fx.token, bogus: 1 }) },
    { path: VERIFY, headers: { ...CP, ...auth() }, body: Buffer.concat([verifyBin(fx.token), UNKNOWN_FIELD]) },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: Buffer.from('{"token":') },
    {
      path: VERIFY,
      headers: { ...CJ, ...auth() },
      body: Buffer.from([0x7b, 0x22, 0x74, 0x6f, 0x6b, 0x65, 0x6e, 0x22, 0x3a, 0x22, 0xfe, 0x22, 0x7d]),
    },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: Buffer.alloc(0) },
    { path: VERIFY, headers: { ...CP, ...auth() }, body: MALFORMED },
    { path: VERIFY, headers: { ...CP, ...auth() }, body: Buffer.alloc(0) },
    // Oversized: announced, and not announced (chunked / h2 without length).
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: big },
    { path: VERIFY, headers: { ...CJ, ...auth() }, body: [big.subarray(0, 2000), big.subarray(2000)] },
    { path: VERIFY, headers: { ...CP, ...auth() }, body: [verifyBin("y".repeat(READ_MAX + 10))] },
    // Wrong content types, compressed bodies, wrong methods.
    { path: VERIFY, headers: { "content-type": "text/plain", ...auth() }, body: json({ token: fx.token }) },
    {
      path: VERIFY,
      headers: { "content-type": "application/connect+json", ...auth() },
      body: json({ token: fx.token }),
    },
    { path: VERIFY, headers: { ...auth() }, body: json({ token: fx.token }) },
    {
      path: VERIFY,
      headers: { ...CJ, ...auth(), "content-encoding": "gzip" },
      body: gzipSync(json({ token: fx.token })),
    },
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
    {
      path: LOGIN,
      headers: { ...CJ, cookie: "roomgate_session=stale" },
      body: json({ tenantId: srv.tenantId, username: fx.loginUser, password: fx.loginPassword }),
    },
    {
      path: LOGIN,
      headers: CP,
      body: Buffer.from(
        toBinary(
          LoginRequestSchema,
          create(LoginRequestSchema, { tenantId: srv.tenantId, username: fx.loginUser, password: fx.loginPassword }),
        ),
      ),
    },
  ];
}

/** gRPC requests (h2 only). */
function grpcCases(): Req[] {
  const valid = envelope(verifyBin(fx.token));
  return [
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: valid },
    {
      path: VERIFY,
      headers: { "content-type": "application/grpc+proto", ...auth(), "grpc-accept-encoding": "gzip" },
      body: valid,
    },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: [valid.subarray(0, 3), valid.subarray(3)] },
    {
      path: VERIFY,
      headers: { ...GRPC, ...auth(), "grpc-accept-encoding": "gzip" },
      body: envelope(verifyBin(fx.mediumToken)),
    },
    {
      path: VAT,
      headers: { ...GRPC, ...auth() },
      body: envelope(Buffer.from(toBinary(VerifyRequestSchema, create(VerifyRequestSchema, { token: fx.userToken })))),
    },
    { path: HEALTH, headers: GRPC, body: envelope(new Uint8Array(0)) },
    {
      path: LOGIN,
      headers: GRPC,
      body: envelope(
        toBinary(
          LoginRequestSchema,
          create(LoginRequestSchema, { tenantId: srv.tenantId, username: fx.loginUser, password: fx.loginPassword }),
        ),
      ),
    },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: envelope(verifyBin(fx.blockedToken)) },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: envelope(verifyBin("")) },
    { path: VERIFY, headers: GRPC, body: valid },
    { path: VERIFY, headers: { ...GRPC, authorization: "Bearer wrong-key-000000000000" }, body: valid },
    {
      path: VERIFY,
      headers: { ...GRPC, ...auth() },
      body: envelope(Buffer.concat([verifyBin(fx.token), UNKNOWN_FIELD])),
    },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: envelope(MALFORMED) },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: Buffer.concat([valid, valid]) },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: valid.subarray(0, valid.length - 2) },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: [] },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: envelope(verifyBin(fx.token), 1) },
    { path: VERIFY, headers: { ...GRPC, ...auth() }, body: envelope(verifyBin("z".repeat(READ_MAX + 10))) },
    {
      path: VERIFY,
      headers: { ...GRPC, ...auth(), "grpc-encoding": "gzip" },
      body: envelope(gzipSync(verifyBin(fx.token)), 1),
    },
    {
      path: VERIFY,
      headers: { "content-type": "application/grpc+json", ...auth() },
      body: envelope(json({ token: fx.token })),
    },
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
  // Both cookies (issue 19: the session's access token and its refresh token).
  for (const [k, v] of s.headers) {
    const fromCookie = k === "set-cookie" ? /^roomgate_(?:session|refresh)=([^;]+)/.exec(v)?.[1] : undefined;
    if (fromCookie) tokens.push(fromCookie);
  }
  try {
    const m = fromBinary(
      LoginResponseSchema,
      body[0] === 0 && s.headers.some(([, v]) => v.startsWith("application/grpc")) ? body.subarray(5) : body,
    );
    for (const t of [m.accessToken, m.refreshToken, m.sessionId]) if (t) tokens.push(t);
  } catch {
    // JSON or an error body: the cookie's token is the one to mask.
  }
  for (const field of ["accessToken", "refreshToken", "sessionId"]) {
    const json = new RegExp(`"${field}":"([^"]*)"`).exec(text)?.[1];
    if (json) tokens.push(json);
  }
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
    const zipped = await same("h1", {
      path: VERIFY,
      headers: { ...CJ, ...auth(), "accept-encoding": "gzip" },
      body: json({ token: fx.mediumToken }),
    });
    expect(zipped.headers).toContainEqual(["content-encoding", "gzip"]);
    const grpcZipped = await same("h2", {
      path: VERIFY,
      headers: { ...GRPC, ...auth(), "grpc-accept-encoding": "gzip" },
      body: envelope(verifyBin(fx.mediumToken)),
    });
    expect(grpcZipped.headers).toContainEqual(["grpc-encoding", "gzip"]);
    expect(Buffer.from(grpcZipped.body, "base64")[0]).toBe(1);
  });

  it("the Login answer really carries a session cookie and the RoomAccessDenied detail really is there", async () => {
    const login = await same("h1", connectCases().find((r) => r.path === LOGIN && r.headers["cookie"])!, maskLogin);
    expect(login.status).toBe(200);
    expect(login.headers.find(([k]) => k === "set-cookie")?.[1]).toMatch(/^roomgate_session=<token>;/);
    const denied = await same(
      "h2",
      grpcCases().find((r) => Buffer.isBuffer(r.body) && r.body.equals(envelope(verifyBin(fx.blockedToken))))!,
    );
    expect(denied.trailers.find(([k]) => k === "grpc-status")?.[1]).toBe("7");
    expect(denied.trailers.some(([k]) => k === "grpc-status-details-bin")).toBe(true);
  });

  it("concurrent calls — many streams on one h2 session, many HTTP/1.1 connections — each get their own answer", async () => {
    const pick = [
      ...connectCases()
        .filter((r) => r.path === "/room.tokens.private.v1.Service/Verify" && r.method === undefined)
        .slice(0, 8),
    ];
    // Login answers carry a fresh token each time: left out.
    const grpc = grpcCases()
      .filter((r) => r.path !== LOGIN)
      .slice(0, 8);
    // One at a time first (the reference), then all at once, interleaved, several times over.
    const reference = await Promise.resolve().then(async () => {
      const out: Seen[] = [];
      for (const r of pick) out.push((await both("h1", r))[1]);
      const s = session(off.port);
      for (const r of [...pick, ...grpc]) out.push(await h2(s, r));
      return out;
    });
    const fastSession = session(srv.port);
    const rounds = 5;
    const all = await Promise.all(
      Array.from({ length: rounds }, () => [
        ...pick.map((r) => h1(srv.port, r)),
        ...[...pick, ...grpc].map((r) => h2(fastSession, r)),
      ]).flat(),
    );
    for (let i = 0; i < rounds; i++) {
      const slice = all.slice(i * reference.length, (i + 1) * reference.length);
      for (const [j, seen] of slice.entries()) expect(seen, `round ${i} request ${j}`).toEqual(reference[j]);
    }
  });
});
