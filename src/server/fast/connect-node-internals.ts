/**
 * The fence around the fast path (issue 18), part 2 of 2: every piece of
 * `@connectrpc/connect-node` the fast path copies (part 1,
 * connect-internals.ts, holds `@connectrpc/connect`'s). None of these is
 * exported by connect-node; each names its upstream source (connect-es
 * `packages/connect-node/src/…`, version 2.1.2, unchanged in 2.3.0).
 *
 * What upstream would need so this file can shrink: `nodeHeaderToWebHeader`,
 * `webHeaderToNodeHeaders` and `connectErrorFromH2ResetCode` exported (they
 * are internal to connect-node), and the request URL and abort signal of
 * `universalRequestFromNodeRequest` available without building the rest of the
 * universal request (a body iterable, a header copy, an abort controller per
 * call).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type http from "node:http";
import type http2 from "node:http2";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Copy of node-universal-header.ts `nodeHeaderToWebHeader`: a Node header
 * object as a fetch `Headers` (HTTP/2 pseudo-headers left out, repeated
 * fields appended).
 */
export function nodeHeaderToWebHeader(node: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith(":") || v === undefined) continue;
    if (typeof v === "string") h.append(k, v);
    else if (typeof v === "number") h.append(k, String(v));
    else for (const e of v) h.append(k, e);
  }
  return h;
}

/**
 * Copy of node-universal-header.ts `webHeaderToNodeHeaders` (without its
 * default headers): a `Headers` as Node's `writeHead` takes it, lower-case
 * names, repeated fields (set-cookie) as arrays, in `Headers` iteration order.
 */
export function nodeHeaders(h: Headers): Record<string, string | string[]> {
  const o: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  h.forEach((value, key) => {
    const k = key.toLowerCase();
    const existing = o[k];
    if (existing === undefined) o[k] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else o[k] = [existing, value];
  });
  return o;
}

/** Copy of node-universal-handler.ts `universalRequestFromNodeRequest`'s URL: scheme from the socket, authority from the request. */
export function requestUrl(req: NodeRequest): string {
  const encrypted = "encrypted" in req.socket && (req.socket as { encrypted?: boolean }).encrypted === true;
  const authority = "authority" in req ? req.authority : req.headers.host;
  return new URL(req.url ?? "", `${encrypted ? "https" : "http"}://${authority}`).toString();
}

/**
 * The request signal of node-universal-handler.ts
 * `universalRequestFromNodeRequest`: tells `onGone` once the response closes
 * (at once if it already has), with the reason connect-node gives — HTTP/2:
 * the stream's reset code as node-error.ts `connectErrorFromH2ResetCode` maps
 * it; HTTP/1.1: none. Of that mapping only CANCEL, the one reset a client
 * causes, is written out; anything else aborts without a reason, as
 * connect-node's HTTP/1.1 path does. Returns the function that stops watching.
 */
export function watchClientGone(req: NodeRequest, res: NodeResponse, onGone: (reason?: unknown) => void): () => void {
  const onClose = () => onGone(closeReason(req));
  if (res.writableFinished || res.destroyed) {
    onClose();
    return () => undefined;
  }
  (res as http.ServerResponse).once("close", onClose);
  return () => (res as http.ServerResponse).off("close", onClose);
}

function closeReason(req: NodeRequest): unknown {
  const rst = "stream" in req ? req.stream.rstCode : undefined;
  if (rst === 8) return new ConnectError("http/2 stream closed with error code CANCEL (0x8)", Code.Canceled);
  return undefined;
}

/**
 * The Node error codes node-error.ts `connectErrorFromNodeReason` turns into
 * `Code.Aborted` — the client went away — which connect-node's handler does not
 * log as a server failure.
 */
const GONE = new Set(["ERR_STREAM_WRITE_AFTER_END", "ERR_STREAM_DESTROYED", "ERR_HTTP2_INVALID_STREAM", "ECONNRESET"]);

/** Whether `err` is one of those (see {@link GONE}). */
export function clientGone(err: unknown): boolean {
  return err instanceof Error && GONE.has((err as NodeJS.ErrnoException).code ?? "");
}
