import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRequestBytes, validArgument } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

const PATH = "/room.tokens.private.v1.Service/Create";
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(() => srv.close());

/** One uncompressed gRPC / gRPC-Web envelope around `payload`. */
function envelope(payload: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

/** A CreateRequest whose last bytes are cut: truncated inside a field. */
function truncated(): Uint8Array {
  const valid = createRequestBytes([validArgument(0), validArgument(1)]);
  return valid.subarray(0, valid.length - 4);
}

/** Raw gRPC over h2c; resolves with the grpc-status and message. */
function grpcCall(body: Buffer): Promise<{ status: string | undefined; message: string | undefined }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(srv.baseUrl);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": PATH,
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${srv.apiKey}`,
    });
    let headers: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => (headers = h));
    stream.on("trailers", (t) => (headers = { ...headers, ...t }));
    stream.resume();
    stream.on("end", () => {
      session.close();
      const msg = headers["grpc-message"];
      resolve({
        status: headers["grpc-status"] as string | undefined,
        message: typeof msg === "string" ? decodeURIComponent(msg) : undefined,
      });
    });
    stream.end(body);
  });
}

describe("malformed protobuf binary is invalid_argument in every protocol, and writes nothing", () => {
  it("gRPC: truncated message → status 3", async () => {
    const before = await srv.h.grants.countGrants();
    const r = await grpcCall(envelope(truncated()));
    expect(r.status).toBe("3");
    expect(r.message).toMatch(/^request is not valid protobuf binary \(/);
    expect(await srv.h.grants.countGrants()).toBe(before);
  });

  it("gRPC: a well-formed message still succeeds through the same guard", async () => {
    const r = await grpcCall(envelope(createRequestBytes([validArgument(0)])));
    expect(r.status).toBe("0");
  });

  it("gRPC-Web over HTTP/1.1: truncated message → grpc-status 3", async () => {
    const before = await srv.h.grants.countGrants();
    const res = await fetch(`${srv.baseUrl}${PATH}`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", authorization: `Bearer ${srv.apiKey}` },
      body: envelope(truncated()),
    });
    const text = Buffer.from(await res.arrayBuffer()).toString("latin1");
    const status = res.headers.get("grpc-status") ?? /grpc-status:\s*(\d+)/.exec(text)?.[1];
    expect(status).toBe("3");
    expect(await srv.h.grants.countGrants()).toBe(before);
  });

  it("Connect binary: a wrong wire type is invalid_argument, not internal", async () => {
    const before = await srv.h.grants.countGrants();
    // Field 1 (arguments) with wire type 7, which does not exist.
    const res = await fetch(`${srv.baseUrl}${PATH}`, {
      method: "POST",
      headers: { "content-type": "application/proto", authorization: `Bearer ${srv.apiKey}` },
      body: new Uint8Array([0x0f, 0x01]),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("invalid_argument");
    expect(await srv.h.grants.countGrants()).toBe(before);
  });
});
