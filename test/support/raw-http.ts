import http from "node:http";
import type http2 from "node:http2";

/** What a raw HTTP/1.1 exchange produced. */
export interface H1Response {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** True when the agent sent this request on a connection it had used before. */
  readonly reusedSocket: boolean;
}

/** Options for {@link h1Request}. */
export interface H1Options {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /**
   * The body. One Buffer is sent with Content-Length; an array is sent
   * chunked (Transfer-Encoding), one write per element.
   */
  readonly body?: Buffer | readonly Buffer[];
  readonly agent?: http.Agent | false;
}

/** One HTTP/1.1 request with Node's client, so framing and the agent are under the test's control. */
export function h1Request(url: string, opts: H1Options = {}): Promise<H1Response> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (Buffer.isBuffer(opts.body)) headers["content-length"] = opts.body.length;
    const req = http.request(url, { method: opts.method ?? "POST", headers, agent: opts.agent ?? false });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: Buffer.concat(chunks),
          reusedSocket: req.reusedSocket,
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    if (Buffer.isBuffer(opts.body)) req.end(opts.body);
    else if (opts.body) {
      for (const piece of opts.body) req.write(piece);
      req.end();
    } else req.end();
  });
}

/** What a raw HTTP/2 stream produced. */
export interface H2Response {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly trailers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request on an open HTTP/2 session; `body` pieces are written in order, then the stream is ended. */
export function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body: readonly Buffer[] = [],
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ...headers });
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => (responseHeaders = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () =>
      resolve({
        status: Number(responseHeaders[":status"]),
        headers: responseHeaders,
        trailers,
        body: Buffer.concat(chunks),
      }),
    );
    stream.on("error", reject);
    for (const piece of body) stream.write(piece);
    stream.end();
  });
}

/** One gRPC / gRPC-Web / Connect-streaming envelope around `payload`. */
export function envelope(payload: Uint8Array, flags = 0): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = flags;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

/** Splits a body into its envelopes. */
export function envelopes(body: Buffer): { flags: number; payload: Buffer }[] {
  const out: { flags: number; payload: Buffer }[] = [];
  let at = 0;
  while (at + 5 <= body.length) {
    const len = body.readUInt32BE(at + 1);
    out.push({ flags: body[at]!, payload: body.subarray(at + 5, at + 5 + len) });
    at += 5 + len;
  }
  return out;
}

/** The grpc-status of a gRPC-Web response: from its headers, else from its trailer frame. */
export function grpcWebStatus(
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
): string | undefined {
  const h = headers["grpc-status"];
  if (typeof h === "string") return h;
  const trailer = envelopes(body).find((e) => (e.flags & 0x80) !== 0);
  return trailer ? /grpc-status:\s*(\d+)/i.exec(trailer.payload.toString("latin1"))?.[1] : undefined;
}

/** Error code of a failed client call, for calls that are allowed to be refused at the connection level. */
export function errorCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message;
}
