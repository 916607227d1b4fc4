import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { isUtf8 } from "node:buffer";

/**
 * The message every path gives for a body that is not UTF-8. A lenient
 * decoder turns each invalid byte into U+FFFD, so "alice\xfe" and
 * "alice\xff" would name one user; every JSON path refuses them instead.
 */
export const INVALID_UTF8 = "request body is not valid UTF-8";

const fatal = new TextDecoder("utf-8", { fatal: true });

/**
 * The JSON text decoder for connect: every JSON request body (Connect unary
 * and streaming, gRPC+json, gRPC-Web+json) is decoded through it before
 * it is parsed. connect reads `textDecoder` from the router's jsonOptions
 * (its JSON serialization accepts one, though the router's type omits it).
 */
const strictTextDecoder = {
  decode(input?: Uint8Array): string {
    try {
      return fatal.decode(input);
    } catch {
      throw new ConnectError(INVALID_UTF8, Code.InvalidArgument);
    }
  },
};

/** `jsonOptions` with the strict UTF-8 decoder added. */
export function withStrictUtf8<T extends object>(jsonOptions: T): T {
  return { ...jsonOptions, textDecoder: strictTextDecoder };
}

/**
 * Connect GET requests carry a JSON message in `?message=`, which connect
 * reads through URLSearchParams — and that decodes invalid percent-encoded
 * UTF-8 to U+FFFD. When the raw parameter is not UTF-8, it is re-sent to
 * connect base64-encoded (`base64=1`, the same bytes), so the strict decoder
 * refuses it in the Connect protocol's own error format. Other requests
 * pass through untouched.
 */
export function guardGetUtf8(handler: UniversalHandler): UniversalHandler {
  if (!handler.allowedMethods.includes("GET")) return handler;
  const guarded = (req: UniversalServerRequest) => handler(req.method === "GET" ? strictGetMessage(req) : req);
  return Object.assign(guarded, {
    protocolNames: handler.protocolNames,
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
  });
}

function strictGetMessage(req: UniversalServerRequest): UniversalServerRequest {
  const url = new URL(req.url);
  if (url.searchParams.get("base64") === "1") return req;
  const raw = url.search
    .slice(1)
    .split("&")
    .find((p) => p.startsWith("message="));
  if (raw === undefined) return req;
  const bytes = formDecode(raw.slice("message=".length));
  if (isUtf8(bytes)) return req;
  url.searchParams.set("message", bytes.toString("base64url"));
  url.searchParams.set("base64", "1");
  return { ...req, url: url.toString() };
}

/**
 * The bytes of an `application/x-www-form-urlencoded` value, as
 * URLSearchParams reads them but without decoding them to text. `value`
 * comes from URL.search, so it is ASCII.
 */
function formDecode(value: string): Buffer {
  const out = Buffer.alloc(value.length);
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const hex = c === 0x25 ? value.slice(i + 1, i + 3) : "";
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out[n++] = parseInt(hex, 16);
      i += 2;
    } else {
      out[n++] = c === 0x2b ? 0x20 : c; // "+" is a space
    }
  }
  return out.subarray(0, n);
}
