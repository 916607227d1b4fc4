import { createClient } from "@connectrpc/connect";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as Audit } from "../../gen/room/audit/private/v1/service_pb.js";
import { users } from "../../src/store/schema.js";
import { bearer, connectTransport, tokensClient } from "../support/clients.js";
import { envelope, envelopes, grpcWebStatus, h1Request, h2Request } from "../support/raw-http.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { rowCount } from "../support/spaces-clients.js";

// Issue 7 point 17: invalid UTF-8 inside a JSON body used to be turned into
// U+FFFD and written, so "alice\xfe" and "alice\xff" were one user.

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(() => srv.close());

const MESSAGE = "request body is not valid UTF-8";
const TOKENS = "/room.tokens.private.v1.Service";
const ROOM = "utf8-room";

/** `before` + raw bytes + `after`, as one body: the bytes are not escaped, they are sent as they are. */
const raw = (before: string, bytes: number[], after: string) =>
  Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]);

/** A Create body whose user_id is "alice" followed by the raw byte `b`. */
const createBody = (b: number, room = ROOM) =>
  raw('{"arguments":[{"user_id":"alice', [b], `","room_id":"${room}","permissions":["PermissionRoomKick"]}]}`);

const apiHeaders = (contentType: string) => ({ "content-type": contentType, authorization: `Bearer ${srv.apiKey}` });
const userCount = () => rowCount(srv, users);
const audit = () => createClient(Audit, connectTransport(srv.baseUrl));

/** Asserts nothing was written: no grant, no audit entry for the test room, no user. */
async function expectNothingWritten(before: { grants: number; users: number }, room = ROOM): Promise<void> {
  expect(await srv.h.grants.countGrants()).toBe(before.grants);
  expect(await userCount()).toBe(before.users);
  expect((await audit().list({ roomId: room, pageSize: 500 }, bearer(srv.apiKey))).entries).toEqual([]);
}
const snapshot = async () => ({ grants: await srv.h.grants.countGrants(), users: await userCount() });

/** A Connect unary error body. */
function connectError(body: Buffer): { code: string; message: string } {
  return JSON.parse(body.toString("utf8")) as { code: string; message: string };
}

describe("issue 7 point 17: invalid UTF-8 in JSON is invalid_argument and writes nothing", () => {
  it('Connect unary JSON: token Create with user_id "alice\\xfe" and "alice\\xff" (HTTP/1.1 and HTTP/2)', async () => {
    const before = await snapshot();
    const session = http2.connect(srv.baseUrl);
    try {
      for (const b of [0xfe, 0xff]) {
        const h1 = await h1Request(`${srv.baseUrl}${TOKENS}/Create`, {
          headers: apiHeaders("application/json"),
          body: createBody(b),
        });
        expect(h1.status).toBe(400);
        expect(connectError(h1.body)).toEqual({ code: "invalid_argument", message: MESSAGE });
        const h2 = await h2Request(session, { ":path": `${TOKENS}/Create`, ...apiHeaders("application/json") }, [
          createBody(b),
        ]);
        expect(h2.status).toBe(400);
        expect(connectError(h2.body)).toEqual({ code: "invalid_argument", message: MESSAGE });
      }
    } finally {
      session.close();
    }
    await expectNothingWritten(before);
  });

  it("gRPC+json over h2c and gRPC-Web+json over HTTP/1.1: status 3", async () => {
    const before = await snapshot();
    const session = http2.connect(srv.baseUrl);
    try {
      const grpcRes = await h2Request(
        session,
        { ":path": `${TOKENS}/Create`, te: "trailers", ...apiHeaders("application/grpc+json") },
        [envelope(createBody(0xfe))],
      );
      expect(grpcRes.trailers["grpc-status"] ?? grpcRes.headers["grpc-status"]).toBe("3");
      expect(decodeURIComponent(String(grpcRes.trailers["grpc-message"] ?? grpcRes.headers["grpc-message"]))).toBe(
        MESSAGE,
      );
    } finally {
      session.close();
    }
    const web = await h1Request(`${srv.baseUrl}${TOKENS}/Create`, {
      headers: apiHeaders("application/grpc-web+json"),
      body: envelope(createBody(0xff)),
    });
    expect(grpcWebStatus(web.headers, web.body)).toBe("3");
    await expectNothingWritten(before);
  });

  it("Connect streaming JSON: Watch with an invalid room_id ends with invalid_argument", async () => {
    const res = await h1Request(`${srv.baseUrl}/room.events.private.v1.Service/Watch`, {
      headers: apiHeaders("application/connect+json"),
      body: envelope(raw('{"roomId":"r', [0xfe], '"}')),
    });
    const end = envelopes(res.body).find((e) => (e.flags & 0x02) !== 0);
    expect(end, res.body.toString("latin1")).toBeDefined();
    expect((JSON.parse(end!.payload.toString()) as { error: { code: string; message: string } }).error).toEqual({
      code: "invalid_argument",
      message: MESSAGE,
    });
  });

  it("Connect GET: a percent-encoded invalid byte in ?message= is invalid_argument, not read as U+FFFD", async () => {
    const message = encodeURIComponent('{"roomId":"r').concat("%FE", encodeURIComponent('"}'));
    const res = await h1Request(
      `${srv.baseUrl}/room.audit.private.v1.Service/List?connect=v1&encoding=json&message=${message}`,
      {
        method: "GET",
        headers: { authorization: `Bearer ${srv.apiKey}` },
      },
    );
    expect(res.status).toBe(400);
    expect(connectError(res.body)).toEqual({ code: "invalid_argument", message: MESSAGE });
    // The same request with a valid character still works.
    const ok = await h1Request(
      `${srv.baseUrl}/room.audit.private.v1.Service/List?connect=v1&encoding=json&message=${encodeURIComponent('{"roomId":"rþ"}')}`,
      {
        method: "GET",
        headers: { authorization: `Bearer ${srv.apiKey}` },
      },
    );
    expect(ok.status, ok.body.toString()).toBe(200);
  });

  it("seed 003's REST route and its RPC twin CreateUser, and users CreateUser: nothing is written", async () => {
    const before = await snapshot();
    const rest = await h1Request(`${srv.baseUrl}/consumer/api/v1/user?auth=${encodeURIComponent(srv.apiKey)}`, {
      headers: { "content-type": "application/json" },
      body: raw('{"chatRoom":"utf8-room","externalUserId":"alice', [0xfe], '","uniqueUserIdentifier":"alice"}'),
    });
    expect(rest.status).toBe(400);
    expect(JSON.parse(rest.body.toString())).toEqual({ code: "invalid_argument", message: MESSAGE });

    const rpc = await h1Request(`${srv.baseUrl}/room.consumer.private.v1.Service/CreateUser`, {
      headers: apiHeaders("application/json"),
      body: raw('{"chatRoom":"utf8-room","uniqueUserIdentifier":"alice', [0xfe], '"}'),
    });
    expect(rpc.status).toBe(400);
    expect(connectError(rpc.body)).toEqual({ code: "invalid_argument", message: MESSAGE });

    const createUser = await h1Request(`${srv.baseUrl}/room.users.private.v1.Service/CreateUser`, {
      headers: apiHeaders("application/json"),
      body: raw('{"email":"alice@example.com","username":"alice', [0xff], '","password":"correct-horse-battery"}'),
    });
    expect(createUser.status).toBe(400);
    expect(connectError(createUser.body)).toEqual({ code: "invalid_argument", message: MESSAGE });
    await expectNothingWritten(before);
  });

  it("binary requests refuse it too (gRPC, h2c)", async () => {
    const before = await snapshot();
    const arg = new BinaryWriter();
    arg.tag(1, WireType.LengthDelimited).bytes(Buffer.from([0x61, 0x6c, 0x69, 0x63, 0x65, 0xfe]));
    arg.tag(2, WireType.LengthDelimited).string(ROOM);
    const req = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(arg.finish()).finish();
    const session = http2.connect(srv.baseUrl);
    try {
      const res = await h2Request(
        session,
        { ":path": `${TOKENS}/Create`, te: "trailers", ...apiHeaders("application/grpc") },
        [envelope(req)],
      );
      expect(res.trailers["grpc-status"] ?? res.headers["grpc-status"]).toBe("3");
    } finally {
      session.close();
    }
    await expectNothingWritten(before);
  });

  it('valid UTF-8 still round-trips exactly: "aliceþ" is written as itself', async () => {
    const room = "utf8-ok-room";
    const res = await h1Request(`${srv.baseUrl}${TOKENS}/Create`, {
      headers: apiHeaders("application/json"),
      body: Buffer.from(
        JSON.stringify({ arguments: [{ user_id: "aliceþ", room_id: room, permissions: ["PermissionRoomKick"] }] }),
      ),
    });
    expect(res.status, res.body.toString()).toBe(200);
    const token = (JSON.parse(res.body.toString()) as { tokens: string[] }).tokens[0]!;
    const claims = await tokensClient(connectTransport(srv.baseUrl)).verify({ token }, bearer(srv.apiKey));
    expect(claims.userId).toBe("aliceþ");
  });

  it("property: any invalid UTF-8 inside a JSON string is invalid_argument over Connect JSON and writes nothing", async () => {
    const fatal = new TextDecoder("utf-8", { fatal: true });
    const invalid = fc.uint8Array({ minLength: 1, maxLength: 6 }).filter((b) => {
      if (b.some((x) => x < 0x20 || x === 0x22 || x === 0x5c)) return false; // keep the JSON well-formed otherwise
      try {
        fatal.decode(b);
        return false;
      } catch {
        return true;
      }
    });
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(invalid, async (bytes) => {
        const body = raw('{"arguments":[{"user_id":"u', [...bytes], `","room_id":"${ROOM}"}]}`);
        const res = await h1Request(`${srv.baseUrl}${TOKENS}/Create`, {
          headers: apiHeaders("application/json"),
          body,
        });
        expect(res.status).toBe(400);
        expect(connectError(res.body)).toEqual({ code: "invalid_argument", message: MESSAGE });
      }),
      { numRuns: 40 },
    );
    await expectNothingWritten(before);
  });
});
