import { create } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import http from "node:http";
import http2 from "node:http2";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen/grpc/health/v1/health_pb.js";
import { Code } from "@connectrpc/connect";
import { users } from "../../src/store/schema.js";
import {
  connectTransport,
  createRequestBytes,
  expectCode,
  expectNoStackTrace,
  grpcTransport,
  validArgument,
} from "../support/clients.js";
import { h1Request, h2Request, type H1Response } from "../support/raw-http.js";
import { permissionsClient, userToken, insertUser } from "../support/permissions-fixtures.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { rowCount } from "../support/spaces-clients.js";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(() => srv.close());

const CONSUMER = "/consumer/api/v1/user";
const PERMISSIONS = "/api/v1/room-permissions/3";
const CREATE = "/room.tokens.private.v1.Service/Create";

const userCount = () => rowCount(srv, users);
const consumerUrl = (key = srv.apiKey) => `${srv.baseUrl}${CONSUMER}?auth=${encodeURIComponent(key)}`;

let seq = 0;
function seedBody(): Record<string, unknown> {
  seq++;
  return {
    chatRoom: `edge-room-${seq}`,
    externalUserId: `edge-${seq}`,
    username: "jon",
    uniqueUserIdentifier: `edge-uui-${seq}`,
  };
}

/** The parsed JSON body of a REST error, with its keys. */
function json(res: H1Response): Record<string, unknown> {
  expect(res.headers["content-type"]).toBe("application/json");
  return JSON.parse(res.body.toString("utf8")) as Record<string, unknown>;
}

/** Seed 003's route: every error is `{"code","message"}`, nothing else. */
function expectConsumerError(res: H1Response, status: number, code: string, message?: string | RegExp): void {
  expect(res.status, res.body.toString()).toBe(status);
  const body = json(res);
  expect(Object.keys(body).sort()).toEqual(["code", "message"]);
  expect(body.code).toBe(code);
  expect(typeof body.message).toBe("string");
  expectNoStackTrace(body.message as string);
  if (typeof message === "string") expect(body.message).toBe(message);
  else if (message) expect(body.message).toMatch(message);
}

/** Seed 002's route: every error is `{"errorText","httpStatusCode"}` with the response's status. */
function expectSeed002Error(res: H1Response, status: number): void {
  expect(res.status, res.body.toString()).toBe(status);
  const body = json(res);
  expect(Object.keys(body).sort()).toEqual(["errorText", "httpStatusCode"]);
  expect(body.httpStatusCode).toBe(status);
  expect(typeof body.errorText).toBe("string");
  expect((body.errorText as string).length).toBeGreaterThan(0);
}

describe("issue 7 point 10: each REST route answers every error in its one shape", () => {
  it("POST (and DELETE) to seed 002's route is 405 with Allow: GET in seed 002's error shape", async () => {
    for (const method of ["POST", "DELETE", "PUT"]) {
      const res = await h1Request(`${srv.baseUrl}${PERMISSIONS}`, {
        method,
        headers: { "content-type": "application/json" },
        body: Buffer.from("{}"),
      });
      expectSeed002Error(res, 405);
      expect(res.headers["allow"]).toBe("GET");
    }
  });

  it("GET to seed 003's route is 405 with Allow: POST in its shape, and writes nothing", async () => {
    const before = await userCount();
    const res = await h1Request(consumerUrl(), { method: "GET" });
    expectConsumerError(res, 405, "unimplemented");
    expect(res.headers["allow"]).toBe("POST");
    expect(await userCount()).toBe(before);
  });

  it("seed 003's route: bad JSON, an oversized body and bad fields all answer {code, message}; nothing is written", async () => {
    const before = await userCount();
    const post = (body: Buffer | Buffer[], key?: string) =>
      h1Request(consumerUrl(key), { headers: { "content-type": "application/json" }, body });
    expectConsumerError(
      await post(Buffer.from("{not json")),
      400,
      "invalid_argument",
      "request body is not valid JSON",
    );
    expectConsumerError(
      await post([Buffer.from("{not"), Buffer.from(" json")]),
      400,
      "invalid_argument",
      "request body is not valid JSON",
    );
    expectConsumerError(await post(Buffer.from("[]")), 400, "invalid_argument", "request body must be a JSON object");
    expectConsumerError(
      await post(Buffer.from(JSON.stringify({ ...seedBody(), meta: "x".repeat(100 * 1024) }))),
      413,
      "resource_exhausted",
    );
    expectConsumerError(
      await post(Buffer.from(JSON.stringify(seedBody())), "wrong-key"),
      401,
      "unauthenticated",
      "invalid API key",
    );
    expectConsumerError(
      await post(Buffer.from(JSON.stringify({ ...seedBody(), nope: 1 }))),
      400,
      "invalid_argument",
      'unknown field "nope"',
    );
    expect(await userCount()).toBe(before);
  });

  it("seed 002's route: an oversized body and a missing credential answer {errorText, httpStatusCode}", async () => {
    expectSeed002Error(
      await h1Request(`${srv.baseUrl}${PERMISSIONS}`, { method: "GET", body: Buffer.alloc(100 * 1024, 0x20) }),
      413,
    );
    expectSeed002Error(await h1Request(`${srv.baseUrl}${PERMISSIONS}`, { method: "GET" }), 401);
  });

  it("an unknown path is still a bare 404", async () => {
    const res = await h1Request(`${srv.baseUrl}/api/v1/nope`, { method: "GET" });
    expect(res.status).toBe(404);
  });
});

// ---- point 13 ---------------------------------------------------------------

type GrpcHealthClient = grpc.Client & {
  check(
    req: { service: string },
    md: grpc.Metadata,
    cb: (err: grpc.ServiceError | null, res?: { status: string }) => void,
  ): void;
};

function grpcHealth(): GrpcHealthClient {
  const def = protoLoader.loadSync("grpc/health/v1/health.proto", {
    includeDirs: [fileURLToPath(new URL("../../proto", import.meta.url))],
    enums: String,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  return new pkg.grpc.health.v1.Health(
    `127.0.0.1:${srv.port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as GrpcHealthClient;
}

/** Authorization headers a prober or a sidecar might attach. */
async function authorizations(): Promise<Record<string, string>> {
  return {
    "garbage bearer": "Bearer %%%not-a-token%%%",
    "not a bearer at all": "Basic dXNlcjpwYXNz",
    "valid-looking unknown token": `Bearer ${"AQAB".repeat(20)}`,
    "valid-looking unknown API key": `Bearer rgk_0123456789abcdef_${"A".repeat(43)}`,
    "a real API key": `Bearer ${srv.apiKey}`,
    "a real user access token": `Bearer ${userToken(srv, await insertUser(srv))}`,
  };
}

describe("issue 7 point 13: grpc.health.v1 ignores credentials", () => {
  it("grpc-js: Check with any Authorization header is SERVING", async () => {
    const client = grpcHealth();
    try {
      for (const [name, value] of Object.entries(await authorizations())) {
        const md = new grpc.Metadata();
        md.set("authorization", value);
        const res = await new Promise<{ status: string }>((resolve, reject) =>
          client.check({ service: "" }, md, (err, r) => (err ? reject(err) : resolve(r!))),
        );
        expect(res.status, name).toBe("SERVING");
      }
    } finally {
      client.close();
    }
  });

  it("Connect (JSON over HTTP/1.1, binary over HTTP/2) and connect's gRPC: Check and Watch with any Authorization header are SERVING", async () => {
    const clients: [string, Client<typeof Health>][] = [
      ["Connect JSON", createClient(Health, connectTransport(srv.baseUrl))],
      [
        "Connect binary h2",
        createClient(Health, createConnectTransport({ baseUrl: srv.baseUrl, httpVersion: "2", useBinaryFormat: true })),
      ],
      ["gRPC", createClient(Health, grpcTransport(srv.baseUrl))],
    ];
    for (const [protocol, client] of clients) {
      for (const [name, authorization] of Object.entries(await authorizations())) {
        const headers = { authorization };
        expect((await client.check({ service: "" }, { headers })).status, `${protocol}: ${name}`).toBe(Status.SERVING);
        const abort = new AbortController();
        for await (const res of client.watch(
          create(HealthCheckRequestSchema, { service: "room.tokens.private.v1.Service" }),
          { headers, signal: abort.signal },
        )) {
          expect(res.status, `${protocol} watch: ${name}`).toBe(Status.SERVING);
          abort.abort();
          break;
        }
      }
    }
  });

  it("end-user services still refuse a credential that does not open", async () => {
    await expectCode(
      permissionsClient(srv).getRoomPermissions(
        { roomId: "3" },
        { headers: { authorization: "Bearer %%%not-a-token%%%" } },
      ),
      Code.Unauthenticated,
    );
    await expectCode(
      permissionsClient(srv).getRoomPermissions({ roomId: "3" }, { headers: { authorization: "Basic dXNlcjpwYXNz" } }),
      Code.Unauthenticated,
    );
  });
});

// ---- point 19 ---------------------------------------------------------------

describe("issue 7 point 19: a malformed Connect binary body gets the same answer with and without Content-Length", () => {
  const bodies: [string, Buffer][] = [
    ["a wrong wire type", Buffer.from([0x0f, 0x01])],
    ["a truncated message", Buffer.from(createRequestBytes([validArgument(0), validArgument(1)]).subarray(0, -4))],
  ];
  const headers = () => ({ "content-type": "application/proto", authorization: `Bearer ${srv.apiKey}` });

  for (const [name, bytes] of bodies) {
    it(`HTTP/1.1, ${name}: Content-Length and chunked both get invalid_argument with the parse error`, async () => {
      const before = await srv.h.grants.countGrants();
      const sized = await h1Request(`${srv.baseUrl}${CREATE}`, { headers: headers(), body: bytes });
      const chunked = await h1Request(`${srv.baseUrl}${CREATE}`, {
        headers: headers(),
        body: [bytes.subarray(0, 1), bytes.subarray(1)],
      });
      for (const res of [sized, chunked]) {
        expect(res.status).toBe(400);
        const err = JSON.parse(res.body.toString()) as { code: string; message: string };
        expect(err.code).toBe("invalid_argument");
        expect(err.message).toMatch(/^request is not valid protobuf binary \(/);
      }
      expect(sized.body.toString()).toBe(chunked.body.toString());
      expect(await srv.h.grants.countGrants()).toBe(before);
    });

    it(`HTTP/2, ${name}: with and without content-length, the same answer`, async () => {
      const session = http2.connect(srv.baseUrl);
      try {
        const before = await srv.h.grants.countGrants();
        const base = { ":path": CREATE, ...headers() };
        const sized = await h2Request(session, { ...base, "content-length": String(bytes.length) }, [bytes]);
        const unsized = await h2Request(session, base, [bytes.subarray(0, 1), bytes.subarray(1)]);
        for (const res of [sized, unsized]) {
          expect(res.status).toBe(400);
          expect((JSON.parse(res.body.toString()) as { message: string }).message).toMatch(
            /^request is not valid protobuf binary \(/,
          );
        }
        expect(sized.body.toString()).toBe(unsized.body.toString());
        expect(await srv.h.grants.countGrants()).toBe(before);
      } finally {
        session.close();
      }
    });
  }

  it("a well-formed binary body with Content-Length still succeeds", async () => {
    const res = await h1Request(`${srv.baseUrl}${CREATE}`, {
      headers: headers(),
      body: Buffer.from(createRequestBytes([validArgument(7)])),
    });
    expect(res.status).toBe(200);
  });
});

// ---- point 20 ---------------------------------------------------------------

describe("issue 7 point 20: an oversized REST body does not break the client's keep-alive connection", () => {
  const big = () => Buffer.from(JSON.stringify({ ...seedBody(), meta: "x".repeat(100 * 1024) }));
  const ok = () => Buffer.from(JSON.stringify(seedBody()));
  const jsonHeaders = { "content-type": "application/json" };

  it("413 (Content-Length and chunked), then the next call on the same keep-alive agent succeeds", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await userCount();
      for (const body of [big(), [big().subarray(0, 50_000), big().subarray(50_000)]]) {
        const refused = await h1Request(consumerUrl(), { agent, headers: jsonHeaders, body });
        expectConsumerError(refused, 413, "resource_exhausted");
        const next = await h1Request(consumerUrl(), { agent, headers: jsonHeaders, body: ok() });
        expect(next.status, next.body.toString()).toBe(200);
        // The rest of the body was read and discarded: the same connection carries the next call.
        expect(refused.headers["connection"]).toBe("keep-alive");
        expect(next.reusedSocket).toBe(true);
      }
      expect(await userCount()).toBe(before + 2);
    } finally {
      agent.destroy();
    }
  });

  it("concurrency: oversized and valid calls interleaved on 3 keep-alive connections: every one answered, none reset", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
    try {
      const before = await userCount();
      const calls = Array.from({ length: 12 }, (_, i) =>
        h1Request(consumerUrl(), { agent, headers: jsonHeaders, body: i % 2 === 0 ? big() : ok() }).then(
          (r) => r.status,
        ),
      );
      const statuses = await Promise.all(calls);
      expect(statuses).toEqual(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 413 : 200)));
      expect(await userCount()).toBe(before + 6);
    } finally {
      agent.destroy();
    }
  });

  it("the same on seed 002's route", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const url = `${srv.baseUrl}${PERMISSIONS}`;
      expectSeed002Error(await h1Request(url, { agent, method: "GET", body: Buffer.alloc(100 * 1024, 0x20) }), 413);
      expectSeed002Error(await h1Request(url, { agent, method: "GET" }), 401);
    } finally {
      agent.destroy();
    }
  });

  it("a body far over the limit (Content-Length or chunked) is answered with Connection: close, and the agent's next call is not reset", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await userCount();
      const huge = Buffer.alloc(4 * 1024 * 1024, 0x20);
      const pieces = Array.from({ length: 64 }, (_, i) => huge.subarray(i * 65_536, (i + 1) * 65_536));
      for (const body of [huge, pieces]) {
        // The client may still be writing when the server closes, so this
        // call may fail on the client side; when it is answered, it says close.
        const refused = await h1Request(consumerUrl(), { agent, headers: jsonHeaders, body }).catch(() => undefined);
        if (refused) {
          expectConsumerError(refused, 413, "resource_exhausted");
          expect(refused.headers["connection"]).toBe("close");
        }
        const next = await h1Request(consumerUrl(), { agent, headers: jsonHeaders, body: ok() });
        expect(next.status, next.body.toString()).toBe(200);
      }
      expect(await userCount()).toBe(before + 2);
    } finally {
      agent.destroy();
    }
  });

  it("HTTP/2: 413 on one stream, the session keeps serving", async () => {
    const session = http2.connect(srv.baseUrl);
    try {
      const path = `${CONSUMER}?auth=${encodeURIComponent(srv.apiKey)}`;
      const refused = await h2Request(session, { ":path": path, ...jsonHeaders }, [big()]);
      expect(refused.status).toBe(413);
      expect(Object.keys(JSON.parse(refused.body.toString()) as object).sort()).toEqual(["code", "message"]);
      const next = await h2Request(session, { ":path": path, ...jsonHeaders }, [ok()]);
      expect(next.status, next.body.toString()).toBe(200);
    } finally {
      session.close();
    }
  });
});
