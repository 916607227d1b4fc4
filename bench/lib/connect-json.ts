/**
 * A minimal Connect JSON client over HTTP/1.1 keep-alive (fetch), for the
 * replica benchmarks' single calls and tight polling loops: no generated
 * client, so each call costs one small POST and nothing else.
 */

/** The answer to one call: 200 and the message, or an error with its Connect code. */
export type CallResult =
  | { readonly ok: true; readonly body: Record<string, unknown> }
  | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string };

/** Connect JSON request headers for `apiKey`. */
export function connectHeaders(apiKey: string): Record<string, string> {
  return { "content-type": "application/json", "connect-protocol-version": "1", authorization: `Bearer ${apiKey}` };
}

/** Calls `method` (e.g. "room.tokens.private.v1.Service/Verify") on `baseUrl`. */
export async function call(baseUrl: string, apiKey: string, method: string, body: unknown): Promise<CallResult> {
  const res = await fetch(`${baseUrl}/${method}`, {
    method: "POST",
    headers: connectHeaders(apiKey),
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status === 200) return { ok: true, body: json };
  return {
    ok: false,
    status: res.status,
    code: String(json["code"] ?? "unknown"),
    message: String(json["message"] ?? ""),
  };
}

/** Like {@link call}, but any error is thrown (set-up calls that must succeed). */
export async function callOk(
  baseUrl: string,
  apiKey: string,
  method: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const r = await call(baseUrl, apiKey, method, body);
  if (!r.ok) throw new Error(`${method} on ${baseUrl}: HTTP ${r.status} ${r.code}: ${r.message}`);
  return r.body;
}
