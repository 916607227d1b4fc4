import { create, toBinary } from "@bufbuild/protobuf";
import http from "node:http";
import type http2 from "node:http2";
import { VerifyRequestSchema } from "../../gen/room/tokens/private/v1/service_pb.js";

// Raw exchanges for the fast-path tests (issue 11): everything a client can
// see of an answer — status, headers in wire order, trailers, body bytes —
// in a form two answers can be compared in.

/** One exchange as seen on the wire, ready to compare. */
export interface Seen {
  readonly status: number;
  readonly headers: [string, string][];
  readonly trailers: [string, string][];
  readonly body: string;
}

/** Header pairs in wire order, names lower-cased; date dropped, x-request-id's value masked. */
export function pairs(raw: readonly string[] | Record<string, unknown>): [string, string][] {
  const list: [string, string][] = [];
  if (Array.isArray(raw)) for (let i = 0; i < raw.length; i += 2) list.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  else
    for (const [k, v] of Object.entries(raw)) for (const one of Array.isArray(v) ? v : [v]) list.push([k, String(one)]);
  return list.filter(([k]) => k !== "date").map(([k, v]) => [k, k === "x-request-id" ? "<id>" : v]);
}

export interface Req {
  readonly path: string;
  readonly method?: string;
  readonly headers: Record<string, string>;
  /** One Buffer (Content-Length on HTTP/1.1) or pieces (chunked on HTTP/1.1). */
  readonly body: Buffer | readonly Buffer[];
}

/** One request on a fresh HTTP/1.1 connection. */
export function h1(port: number, r: Req): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...r.headers };
    if (Buffer.isBuffer(r.body) && headers["content-length"] === undefined) headers["content-length"] = r.body.length;
    const req = http.request({
      host: "127.0.0.1",
      port,
      path: r.path,
      method: r.method ?? "POST",
      headers,
      agent: false,
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode!,
          headers: pairs(res.rawHeaders),
          trailers: pairs(res.rawTrailers),
          body: Buffer.concat(chunks).toString("base64"),
        }),
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

/** One request (stream) on an open h2 session. */
export function h2(session: http2.ClientHttp2Session, r: Req): Promise<Seen> {
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

/** The transports a Connect request is compared over. */
export type Transport = "h1" | "h2";

export const VERIFY = "/room.tokens.private.v1.Service/Verify";
export const VAT = "/room.users.private.v1.Service/VerifyAccessToken";
export const PERMS = "/room.permissions.v1.Service/GetRoomPermissions";
export const LOGIN = "/room.users.v1.Service/Login";
export const HEALTH = "/grpc.health.v1.Health/Check";
export const json = (v: unknown) => Buffer.from(JSON.stringify(v));
export const CJ = { "content-type": "application/json" };
export const CP = { "content-type": "application/proto" };
export const GRPC = { "content-type": "application/grpc", te: "trailers" };
export const verifyBin = (token: string) =>
  Buffer.from(toBinary(VerifyRequestSchema, create(VerifyRequestSchema, { token })));
/** Field 99 (varint 1): a field VerifyRequest does not have. */
export const UNKNOWN_FIELD = Buffer.from([0x98, 0x06, 0x01]);
export const MALFORMED = Buffer.from([0x0a, 0x7f, 0x61]);
