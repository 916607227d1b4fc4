import { create, toBinary } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { Code } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateRequestSchema } from "../../gen/room/tokens/private/v1/service_pb.js";
import {
  type ArgInit,
  bearer,
  connectTransport,
  createRequestBytes,
  expectCode,
  expectNoStackTrace,
  postRaw,
  toArgument,
  tokensClient,
  type TokensClient,
  validArgument,
} from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

let srv: TestServer;
let json: TokensClient;
let binary: TokensClient;

beforeAll(async () => {
  srv = await startTestServer();
  json = tokensClient(connectTransport(srv.baseUrl));
  binary = tokensClient(createConnectTransport({ baseUrl: srv.baseUrl, httpVersion: "1.1", useBinaryFormat: true }));
});
afterAll(async () => {
  await srv?.close();
});

/** Runs `fn` and asserts that no grant was stored meanwhile. */
async function writesNothing(fn: () => Promise<unknown>): Promise<void> {
  const before = await srv.h.grants.countGrants();
  await fn();
  expect(await srv.h.grants.countGrants()).toBe(before);
}

/** Create with one argument over the binary client, expecting `code` and `message`. */
async function createFails(args: ArgInit[], code: Code, message: string | RegExp): Promise<void> {
  await writesNothing(() =>
    expectCode(binary.create({ arguments: args.map(toArgument) }, bearer(srv.apiKey)), code, message),
  );
}

/** A Connect unary error read off the wire: HTTP status and the JSON error body. */
async function rawCreateError(
  body: string | Uint8Array,
  contentType: "application/json" | "application/proto",
  headers: Record<string, string> = { authorization: `Bearer ${srv.apiKey}` },
): Promise<{ status: number; code: string; message: string }> {
  const res = await postRaw(srv.baseUrl, "Create", body, { "content-type": contentType, ...headers });
  expect(res.contentType).toMatch(/^application\/json/);
  const err = JSON.parse(res.text) as { code: string; message: string };
  expectNoStackTrace(err.message);
  return { status: res.status, code: err.code, message: err.message };
}

describe("Create: JSON that the parser must refuse (nothing silently dropped)", () => {
  it("a misspelled field (usr_id) is invalid_argument", async () => {
    await writesNothing(async () => {
      const e = await rawCreateError(
        JSON.stringify({ arguments: [{ usr_id: "u", room_id: "r", permissions: ["PermissionRoomKick"] }] }),
        "application/json",
      );
      expect(e).toMatchObject({ status: 400, code: "invalid_argument" });
      expect(e.message).toMatch(/"usr_id" is unknown/);
    });
  });

  it("an unknown top-level field is invalid_argument", async () => {
    await writesNothing(async () => {
      const e = await rawCreateError(
        JSON.stringify({ arguments: [{ user_id: "u", room_id: "r" }], argument: [] }),
        "application/json",
      );
      expect(e).toMatchObject({ status: 400, code: "invalid_argument" });
      expect(e.message).toMatch(/"argument" is unknown/);
    });
  });

  it("a misspelled permission name (PermissionRoomKik) is invalid_argument", async () => {
    await writesNothing(async () => {
      const e = await rawCreateError(
        JSON.stringify({ arguments: [{ user_id: "u", room_id: "r", permissions: ["PermissionRoomKik"] }] }),
        "application/json",
      );
      expect(e).toMatchObject({ status: 400, code: "invalid_argument" });
      expect(e.message).toMatch(/PermissionRoomKik/);
    });
  });

  it.each([["PermissionUnspecified"], [0]])("permission %j is invalid_argument", async (p) => {
    await writesNothing(async () => {
      const e = await rawCreateError(
        JSON.stringify({ arguments: [{ user_id: "u", room_id: "r", permissions: ["PermissionRoomKick", p] }] }),
        "application/json",
      );
      expect(e).toEqual({
        status: 400,
        code: "invalid_argument",
        message: "arguments[0].permissions[1]: unknown permission 0",
      });
    });
  });

  it("malformed JSON is invalid_argument", async () => {
    await writesNothing(async () => {
      const e = await rawCreateError('{"arguments":[{"user_id":"u",', "application/json");
      expect(e).toMatchObject({ status: 400, code: "invalid_argument" });
    });
  });
});

describe("Create: argument rules", () => {
  it("an unknown permission number (999) over binary is invalid_argument", async () => {
    await createFails(
      [validArgument(0, { permissions: [999] })],
      Code.InvalidArgument,
      "arguments[0].permissions[0]: unknown permission 999",
    );
  });

  it("PermissionUnspecified (0) over binary is invalid_argument", async () => {
    await createFails(
      [validArgument(0, { permissions: [0] })],
      Code.InvalidArgument,
      "arguments[0].permissions[0]: unknown permission 0",
    );
  });

  it("an empty user_id is invalid_argument", async () => {
    await createFails(
      [validArgument(0, { userId: "" })],
      Code.InvalidArgument,
      "arguments[0].user_id: must not be empty",
    );
  });

  it("an empty room_id is invalid_argument", async () => {
    await createFails(
      [validArgument(0, { roomId: "" })],
      Code.InvalidArgument,
      "arguments[0].room_id: must not be empty",
    );
  });

  it("a user_id over 256 bytes is invalid_argument, counted in UTF-8 bytes", async () => {
    await createFails(
      [validArgument(0, { userId: "u".repeat(257) })],
      Code.InvalidArgument,
      "arguments[0].user_id: longer than 256 bytes",
    );
    // 129 characters, 258 bytes.
    await createFails(
      [validArgument(0, { userId: "é".repeat(129) })],
      Code.InvalidArgument,
      "arguments[0].user_id: longer than 256 bytes",
    );
  });

  it("a user_id of exactly 256 bytes is accepted (boundary)", async () => {
    const before = await srv.h.grants.countGrants();
    const { tokens } = await binary.create(
      { arguments: [toArgument(validArgument(0, { userId: "é".repeat(128) }))] },
      bearer(srv.apiKey),
    );
    expect(tokens).toHaveLength(1);
    expect(await srv.h.grants.countGrants()).toBe(before + 1);
  });

  it.each([["\u0007"], ["\n"], ["\u0000"], ["\u007f"]])(
    "a control character %j in room_id is invalid_argument",
    async (c) => {
      await createFails(
        [validArgument(0, { roomId: `room${c}1` })],
        Code.InvalidArgument,
        "arguments[0].room_id: must not contain control characters",
      );
    },
  );

  it("no arguments is invalid_argument", async () => {
    await createFails([], Code.InvalidArgument, "arguments: at least one argument is required");
    await writesNothing(async () => {
      const e = await rawCreateError("{}", "application/json");
      expect(e).toEqual({
        status: 400,
        code: "invalid_argument",
        message: "arguments: at least one argument is required",
      });
    });
  });

  it("1,001 arguments (over the default batch limit of 1,000) is invalid_argument", async () => {
    const args = Array.from({ length: 1_001 }, (_, i) => validArgument(i));
    await createFails(args, Code.InvalidArgument, "arguments: 1001 arguments exceed the batch limit of 1000");
  });

  it("exactly 1,000 arguments are accepted and all written (boundary)", async () => {
    const before = await srv.h.grants.countGrants();
    const args = Array.from({ length: 1_000 }, (_, i) => toArgument(validArgument(i)));
    const { tokens } = await binary.create({ arguments: args }, bearer(srv.apiKey));
    expect(tokens).toHaveLength(1_000);
    expect(new Set(tokens).size).toBe(1_000);
    expect(await srv.h.grants.countGrants()).toBe(before + 1_000);
  });

  it("metadata over 4 KiB is invalid_argument", async () => {
    // {"note":"xxx…"} is 11 bytes of JSON around the value.
    await createFails(
      [validArgument(0, { metadata: { note: "x".repeat(4_086) } })],
      Code.InvalidArgument,
      "arguments[0].metadata: 4097 bytes exceed the limit of 4096",
    );
  });

  it("metadata of exactly 4 KiB is accepted (boundary)", async () => {
    const { tokens } = await binary.create(
      { arguments: [toArgument(validArgument(0, { metadata: { note: "x".repeat(4_085) } }))] },
      bearer(srv.apiKey),
    );
    const v = await binary.verify({ token: tokens[0]! }, bearer(srv.apiKey));
    expect((v.metadata!["note"] as string).length).toBe(4_085);
  });

  it("ttl_seconds over the maximum (30 days) is invalid_argument", async () => {
    await createFails(
      [validArgument(0, { ttlSeconds: 30 * 86_400 + 1 })],
      Code.InvalidArgument,
      "arguments[0].ttl_seconds: 2592001 exceeds the maximum of 2592000",
    );
  });

  it("ttl_seconds of exactly 30 days is accepted (boundary)", async () => {
    const { tokens } = await binary.create(
      { arguments: [toArgument(validArgument(0, { ttlSeconds: 30 * 86_400 }))] },
      bearer(srv.apiKey),
    );
    const v = await binary.verify({ token: tokens[0]! }, bearer(srv.apiKey));
    expect(Number(v.expiresAt!.seconds - v.issuedAt!.seconds)).toBe(30 * 86_400);
  });

  it("a batch of 5 with one bad argument in the middle writes none of them", async () => {
    const args = [0, 1, 2, 3, 4].map((i) => validArgument(i, { roomId: `atomic-room-${i}` }));
    args[2] = validArgument(2, { permissions: [203, 999] });
    const before = await srv.h.grants.countGrants();
    await createFails(args, Code.InvalidArgument, "arguments[2].permissions[1]: unknown permission 999");
    expect(await srv.h.grants.countGrants()).toBe(before);
    // The same batch made valid is written whole.
    args[2] = validArgument(2);
    const { tokens } = await binary.create({ arguments: args.map(toArgument) }, bearer(srv.apiKey));
    expect(tokens).toHaveLength(5);
    expect(await srv.h.grants.countGrants()).toBe(before + 5);
  });
});

describe("Create: binary requests with unknown fields", () => {
  it("an unknown field appended to a binary CreateRequest is invalid_argument", async () => {
    const valid = createRequestBytes([validArgument(0)]);
    const withUnknown = new Uint8Array([...valid, 0xa0, 0x1f, 0x01]); // field 500, varint 1
    await writesNothing(async () => {
      const e = await rawCreateError(withUnknown, "application/proto");
      expect(e).toEqual({ status: 400, code: "invalid_argument", message: "unknown field in request" });
    });
    // Control: the same bytes without the extra field are accepted.
    const ok = await postRaw(srv.baseUrl, "Create", valid, {
      "content-type": "application/proto",
      authorization: `Bearer ${srv.apiKey}`,
    });
    expect(ok.status).toBe(200);
  });

  it("an unknown field nested in an argument is invalid_argument and names where", async () => {
    const arg = toArgument(validArgument(0));
    arg.$unknown = [{ no: 500, wireType: WireType.Varint, data: new Uint8Array([1]) }];
    const bytes = toBinary(
      CreateRequestSchema,
      create(CreateRequestSchema, { arguments: [toArgument(validArgument(1)), arg] }),
    );
    await writesNothing(async () => {
      const e = await rawCreateError(bytes, "application/proto");
      expect(e).toEqual({ status: 400, code: "invalid_argument", message: "unknown field in request at arguments[1]" });
    });
  });

  // BUG (see report): a truncated binary body is answered with `internal`
  // ("parse binary: premature EOF", HTTP 500) instead of invalid_argument.
  it("a truncated binary body is invalid_argument", async () => {
    const valid = createRequestBytes([validArgument(0)]);
    await writesNothing(async () => {
      const e = await rawCreateError(valid.subarray(0, valid.length - 3), "application/proto");
      expect(e).toMatchObject({ status: 400, code: "invalid_argument" });
    });
  });
});

describe("Create: credentials", () => {
  const body = JSON.stringify({ arguments: [{ user_id: "u", room_id: "r", permissions: ["PermissionRoomKick"] }] });

  it("a missing Authorization header is unauthenticated", async () => {
    await writesNothing(async () => {
      const e = await rawCreateError(body, "application/json", {});
      expect(e).toEqual({
        status: 401,
        code: "unauthenticated",
        message: "missing API key: send Authorization: Bearer <key>",
      });
    });
    await writesNothing(() =>
      expectCode(json.create({ arguments: [toArgument(validArgument())] }), Code.Unauthenticated),
    );
  });

  it("a wrong key is unauthenticated", async () => {
    await writesNothing(async () => {
      const e = await rawCreateError(body, "application/json", { authorization: `Bearer ${srv.apiKey}x` });
      expect(e).toEqual({ status: 401, code: "unauthenticated", message: "invalid API key" });
    });
    await writesNothing(() =>
      expectCode(
        json.create({ arguments: [toArgument(validArgument())] }, bearer(`rgk_0000000000000000_${"A".repeat(43)}`)),
        Code.Unauthenticated,
        "invalid API key",
      ),
    );
  });

  it("Authorization: Basic is unauthenticated", async () => {
    await writesNothing(async () => {
      const basic = Buffer.from(`user:${srv.apiKey}`).toString("base64");
      const e = await rawCreateError(body, "application/json", { authorization: `Basic ${basic}` });
      expect(e).toEqual({
        status: 401,
        code: "unauthenticated",
        message: "malformed Authorization header: expected Bearer <key>",
      });
    });
  });

  it("the key of another tenant writes only to that tenant", async () => {
    const mine = await srv.h.grants.countGrants(srv.tenantId);
    await json.create({ arguments: [toArgument(validArgument())] }, bearer(srv.otherKey));
    expect(await srv.h.grants.countGrants(srv.tenantId)).toBe(mine);
    expect(await srv.h.grants.countGrants(srv.otherTenantId)).toBeGreaterThanOrEqual(1);
  });
});

describe("Create: request size limit (ROOMGATE_READ_MAX_BYTES=2048)", () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ env: { ROOMGATE_READ_MAX_BYTES: "2048" } });
  });
  afterAll(async () => {
    await small?.close();
  });

  it("a body over the limit is resource_exhausted and writes nothing", async () => {
    const big = validArgument(0, { metadata: { note: "x".repeat(3_000) } });
    for (const useBinaryFormat of [false, true]) {
      const client = tokensClient(
        createConnectTransport({ baseUrl: small.baseUrl, httpVersion: "1.1", useBinaryFormat }),
      );
      await expectCode(client.create({ arguments: [toArgument(big)] }, bearer(small.apiKey)), Code.ResourceExhausted);
    }
    const res = await postRaw(
      small.baseUrl,
      "Create",
      JSON.stringify({ arguments: [{ user_id: "u", room_id: "r", metadata: { note: "x".repeat(3_000) } }] }),
      {
        "content-type": "application/json",
        authorization: `Bearer ${small.apiKey}`,
      },
    );
    expect(res.status).toBe(429);
    expect(JSON.parse(res.text)).toMatchObject({ code: "resource_exhausted" });
    expect(await small.h.grants.countGrants()).toBe(0);
    // Control: a small request on the same server succeeds.
    const client = tokensClient(connectTransport(small.baseUrl));
    await client.create({ arguments: [toArgument(validArgument())] }, bearer(small.apiKey));
    expect(await small.h.grants.countGrants()).toBe(1);
  });
});

describe("Verify: bad tokens", () => {
  let token: string;
  beforeAll(async () => {
    const res = await json.create({ arguments: [toArgument(validArgument())] }, bearer(srv.apiKey));
    expect(res.tokens).toHaveLength(1);
    token = res.tokens[0]!;
    // Sanity: the token verifies as issued.
    await json.verify({ token }, bearer(srv.apiKey));
  });

  it("an empty token is invalid_argument", async () => {
    await expectCode(json.verify({ token: "" }, bearer(srv.apiKey)), Code.InvalidArgument, "token: must not be empty");
  });

  it.each([
    ["the version byte", 0],
    ["the key id", 3],
    ["the nonce", 20],
    ["the ciphertext", 70],
    ["the tag", -4],
  ])("one character changed in %s is unauthenticated: invalid token", async (_where, at) => {
    const i = at < 0 ? token.length + at : at;
    const c = token[i] === "A" ? "B" : "A";
    const altered = token.slice(0, i) + c + token.slice(i + 1);
    expect(altered).not.toBe(token);
    await expectCode(json.verify({ token: altered }, bearer(srv.apiKey)), Code.Unauthenticated, "invalid token");
  });

  it.each([
    ["= padding appended", (t: string) => `${t}=`],
    ["== padding appended", (t: string) => `${t}==`],
    ["a trailing space", (t: string) => `${t} `],
    ["a trailing character", (t: string) => `${t}A`],
    ["the last character removed", (t: string) => t.slice(0, -1)],
  ])("a re-spelled token (%s) is unauthenticated: invalid token", async (_name, f) => {
    const spelled = f(token);
    expect(spelled).not.toBe(token);
    await expectCode(json.verify({ token: spelled }, bearer(srv.apiKey)), Code.Unauthenticated, "invalid token");
  });

  it("a token in the standard base64 alphabet (+ and / for - and _) is unauthenticated: invalid token", async () => {
    // A batch of 10 makes a token with '-' or '_' certain for all practical purposes.
    const { tokens } = await json.create(
      { arguments: Array.from({ length: 10 }, (_, i) => toArgument(validArgument(i))) },
      bearer(srv.apiKey),
    );
    const t = tokens.find((x) => /[-_]/.test(x));
    expect(t, "no token with '-' or '_' among 10").toBeDefined();
    const standard = t!.replace(/-/g, "+").replace(/_/g, "/");
    await expectCode(json.verify({ token: standard }, bearer(srv.apiKey)), Code.Unauthenticated, "invalid token");
  });

  it("a token of tenant A verified with tenant B's key is unauthenticated: invalid token", async () => {
    await expectCode(json.verify({ token }, bearer(srv.otherKey)), Code.Unauthenticated, "invalid token");
  });

  it.each([["garbage"], ["not a token at all!"], ["A".repeat(100)], ["x".repeat(10_000)], ["🦊".repeat(40)]])(
    "random input %# is unauthenticated: invalid token",
    async (garbage) => {
      await expectCode(json.verify({ token: garbage }, bearer(srv.apiKey)), Code.Unauthenticated, "invalid token");
    },
  );

  it("Verify without a key is unauthenticated even for a good token", async () => {
    await expectCode(json.verify({ token }), Code.Unauthenticated, "missing API key: send Authorization: Bearer <key>");
  });
});
