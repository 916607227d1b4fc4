import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type UnaryRequest } from "@connectrpc/connect";
import * as connectProtocol from "@connectrpc/connect/protocol";
import http from "node:http";
import http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { VerifyRequestSchema } from "../../gen/room/tokens/private/v1/service_pb.js";
import { FastCall } from "../../src/server/fast/call.js";
import { createNodeHandler } from "../../src/server/node-adapter.js";
import { routes } from "../../src/server/routes.js";
import { bearer, connectTransport, tokensClient } from "../support/clients.js";
import { memberToken } from "../support/permissions-fixtures.js";
import { envelope } from "../support/raw-http.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { CJ, CP, GRPC, h1, h2, json, VERIFY, verifyBin, type Req, type Transport } from "../support/wire.js";

// Issue 11: the differential test only proves something if the fast path is
// the one answering — and the real interceptors never touch the parts of
// the call the fast path makes lazily (signal, trailer, URL, a copied
// request). Here a test interceptor in front of the real chain records
// which path carried each call and uses those parts; handlers with the fast
// path on and off (the same App underneath) must answer alike.

let srv: TestServer;
const fx = { token: "", mediumToken: "" };

beforeAll(async () => {
  srv = await startTestServer();
  fx.token = await memberToken(srv, "probe-user", "probe-room", [P.PermissionRoomKick]);
  const transport = connectTransport(srv.baseUrl);
  // An answer of about 1.6 KB: over the 1,500 bytes of writeMaxBytes below.
  const created = await tokensClient(transport).create(
    { arguments: [{ userId: "probe-user", roomId: "probe-room", metadata: { note: "m".repeat(1500) } }] },
    bearer(srv.apiKey),
  );
  fx.mediumToken = created.tokens[0]!;
});
afterAll(() => srv?.close());

const auth = () => ({ authorization: `Bearer ${srv.apiKey}` });

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
      await new Promise<void>((resolve) =>
        req.signal.aborted ? resolve() : req.signal.addEventListener("abort", () => resolve()),
      );
      throw req.signal.reason;
    }
    if (req.header.get("x-probe") === "metadata") {
      // After the answer set a header: the error's metadata joins it. Protocol headers among the metadata stay out.
      const res = await next(req);
      res.header.set("x-meta", "from-answer");
      throw new ConnectError("probe", Code.Aborted, [
        ["x-meta", "from-error"],
        ["content-type", "text/evil"],
        ["grpc-status", "13"],
        ["grpc-message", "evil"],
        ["connect-timeout-ms", "1"],
      ]);
    }
    if (req.header.get("x-probe") === "wire-error") {
      // An error as a connect client parses it from another server's answer (connect 2.2+ marks it): its metadata stays out.
      throw Object.assign(new ConnectError("probe", Code.Aborted, [["x-meta", "from-wire"]]), { isWireError: true });
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
    await Promise.all([
      new Promise<void>((r) => h1Server.listen(0, "127.0.0.1", r)),
      new Promise<void>((r) => h2Server.listen(0, "127.0.0.1", r)),
    ]);
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
      expect(
        (await s.h1({ path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: fx.token }) })).status,
      ).toBe(200);
      expect((await s.h1({ path: VERIFY, headers: { ...CP, ...auth() }, body: verifyBin(fx.token) })).status).toBe(200);
      expect(
        (await s.h2({ path: VERIFY, headers: { ...CJ, ...auth() }, body: json({ token: fx.token }) })).status,
      ).toBe(200);
      expect(
        (await s.h2({ path: VERIFY, headers: { ...GRPC, ...auth() }, body: envelope(verifyBin(fx.token)) })).trailers,
      ).toContainEqual(["grpc-status", "0"]);
      // Not qualifying: compressed, and gRPC-Web.
      expect(
        (
          await s.h1({
            path: VERIFY,
            headers: { ...CJ, ...auth(), "content-encoding": "gzip" },
            body: gzipSync(json({ token: fx.token })),
          })
        ).status,
      ).toBe(200);
      expect(
        (
          await s.h1({
            path: VERIFY,
            headers: { "content-type": "application/grpc-web+proto", ...auth() },
            body: envelope(verifyBin(fx.token)),
          })
        ).status,
      ).toBe(200);
      await s.close();
      expect(kinds).toEqual(
        fastPath ? ["fast", "fast", "fast", "fast", "connect", "connect"] : Array(6).fill("connect"),
      );
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
      const timeout: Record<string, string> =
        headers["content-type"] === "application/grpc" ? { "grpc-timeout": "30m" } : { "connect-timeout-ms": "30" };
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
        expect(
          [...a.headers, ...a.trailers].some(([k]) => k === "trailer-x-probe-trailer" || k === "x-probe-trailer"),
        ).toBe(true);
      }
    }
    // The deadline aborted the signal (deadline_exceeded: 504 / grpc-status 4); the replaced request verified.
    expect(statuses).toEqual([
      "504",
      "200",
      "200",
      "504",
      "200",
      "200",
      "504",
      "200",
      "200",
      "200 4",
      "200 0",
      "200 0",
    ]);
    await Promise.all([fast.close(), slow.close()]);
  });

  it("an error's metadata: as connect 2.2+ answers it (protocol headers and a wire error's metadata left out)", async () => {
    const [fast, slow] = [await start(true), await start(false)];
    // connect 2.1.2's Connect handler set every metadata entry, protocol headers too; 2.2 on merge as the fast path does.
    const connectMerges = "mergeNonProtocolHeaders" in connectProtocol;
    const forbidden = ["grpc-status", "grpc-message", "connect-timeout-ms"];
    for (const [t, headers, body] of [
      ["h1", { ...CJ, ...auth() }, json({ token: fx.token })],
      ["h2", { ...CP, ...auth() }, verifyBin(fx.token)],
      ["h2", { ...GRPC, ...auth() }, envelope(verifyBin(fx.token))],
    ] as const) {
      const grpc = headers["content-type"] === "application/grpc";
      for (const probe of ["metadata", "wire-error"]) {
        const r: Req = { path: VERIFY, headers: { ...headers, "x-probe": probe }, body };
        const [a, b] = [await fast[t](r), await slow[t](r)];
        // gRPC: both paths write the trailer with connect's own setTrailerStatus, on every connect version.
        if (grpc || connectMerges) expect(a, `${t} ${probe} ${headers["content-type"]}`).toEqual(b);
        if (grpc) {
          expect(a.trailers).toContainEqual(["grpc-status", "10"]);
          continue;
        }
        expect(a.status).toBe(409);
        expect(a.headers.filter(([k]) => k === "content-type")).toEqual([["content-type", "application/json"]]);
        expect(a.headers.filter(([k]) => forbidden.includes(k))).toEqual([]);
        const meta: [string, string][] = probe === "metadata" ? [["x-meta", "from-answer, from-error"]] : [];
        expect(a.headers.filter(([k]) => k === "x-meta")).toEqual(meta);
      }
    }
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
