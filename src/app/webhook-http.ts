import * as http from "node:http";
import * as https from "node:https";
import type { LookupFunction } from "node:net";
import {
  resolveChecked,
  UnsafeUrlError,
  type AddressPolicy,
  type Resolver,
} from "../domain/webhooks/address-policy.js";

/** Most of a response body read (and dropped): receivers answer with a status. */
export const MAX_RESPONSE_BYTES = 4096;
/** Largest request body sent. */
export const MAX_REQUEST_BYTES = 256 * 1024;

/** How one POST went: `statusCode` 0 when no answer came. */
export interface PostResult {
  readonly ok: boolean;
  readonly statusCode: number;
  readonly error: string;
}

/** What every POST needs. */
export interface PostOptions {
  readonly policy: AddressPolicy;
  readonly resolve: Resolver;
  readonly timeoutMs: number;
  /** Aborts the request (shutdown). */
  readonly signal: AbortSignal;
}

/**
 * POSTs a webhook: resolves the host and checks every address first (DNS
 * may have changed since the endpoint was created), then connects to the
 * checked address itself — never resolving again, so a second answer cannot
 * slip a private address in. Redirects are not followed (a 3xx is a
 * failure); the whole request is bounded by `timeoutMs`; at most
 * {@link MAX_RESPONSE_BYTES} of the answer are read. Never throws.
 */
export async function postWebhook(
  rawUrl: string,
  headers: Record<string, string>,
  body: string,
  opts: PostOptions,
): Promise<PostResult> {
  if (Buffer.byteLength(body) > MAX_REQUEST_BYTES)
    return { ok: false, statusCode: 0, error: `payload larger than ${MAX_REQUEST_BYTES} bytes` };
  const url = new URL(rawUrl);
  let target: { address: string; family: number };
  try {
    target = await resolveChecked(url, opts.policy, opts.resolve);
  } catch (err) {
    return {
      ok: false,
      statusCode: 0,
      error: err instanceof UnsafeUrlError ? `refused: ${err.message}` : "address check failed",
    };
  }
  const lookup: LookupFunction = (_host, options, cb) => {
    if ((options as { all?: boolean }).all)
      (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [target]);
    else cb(null, target.address, target.family);
  };
  return send(url, lookup, headers, body, opts);
}

/** The POST itself, to the address `lookup` gives; resolves with how it went, never rejects. */
function send(
  url: URL,
  lookup: LookupFunction,
  headers: Record<string, string>,
  body: string,
  opts: PostOptions,
): Promise<PostResult> {
  const signal = AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs)]);
  const client = url.protocol === "https:" ? https : http;
  return new Promise<PostResult>((resolve) => {
    let settled = false;
    const done = (r: PostResult) => {
      if (settled) return;
      settled = true;
      resolve(r);
    };
    const req = client.request(
      url,
      {
        method: "POST",
        lookup,
        agent: false,
        signal,
        headers: {
          ...headers,
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(body)),
          "user-agent": "roomgate-webhooks/1",
        },
      },
      (res) => readAnswer(res, done),
    );
    req.on("error", (err) => {
      const timedOut = signal.aborted && !opts.signal.aborted;
      done({
        ok: false,
        statusCode: 0,
        error: timedOut
          ? `no answer within ${opts.timeoutMs} ms`
          : opts.signal.aborted
            ? "interrupted by shutdown"
            : describe(err),
      });
    });
    req.end(body);
  });
}

/** Reads (and drops) at most {@link MAX_RESPONSE_BYTES} of the answer, then says how it went. */
function readAnswer(res: http.IncomingMessage, done: (r: PostResult) => void): void {
  const code = res.statusCode ?? 0;
  let read = 0;
  res.on("data", (chunk: Buffer) => {
    read += chunk.length;
    if (read > MAX_RESPONSE_BYTES) res.destroy();
  });
  const finish = () => {
    if (code >= 200 && code < 300) done({ ok: true, statusCode: code, error: "" });
    else if (code >= 300 && code < 400)
      done({
        ok: false,
        statusCode: code,
        error: `redirect to ${JSON.stringify((res.headers.location ?? "").slice(0, 200))} not followed`,
      });
    else done({ ok: false, statusCode: code, error: `HTTP ${code}` });
  };
  res.on("end", finish);
  res.on("close", finish);
  res.on("error", finish);
}

/** A connection error without anything a receiver controls beyond its code. */
function describe(err: unknown): string {
  const code = typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : "";
  return code !== "" ? `connection failed (${code})` : "connection failed";
}
