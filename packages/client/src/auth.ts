import type { Interceptor } from "@connectrpc/connect";

/**
 * Checks an API key before it goes into a header. The message never quotes the
 * key: a mistyped key is still a secret (it is often the real key plus a stray
 * character), and error messages end up in logs.
 */
export function assertApiKey(apiKey: unknown): asserts apiKey is string {
  if (typeof apiKey !== "string" || apiKey.length === 0) {
    throw new TypeError("roomgate client: apiKey is required (a string, e.g. process.env.ROOMGATE_API_KEY)");
  }
  // Header values cannot hold control characters or spaces; a trailing newline
  // from a key file is the usual cause, so say so rather than fail on the wire.
  if (!/^[\x21-\x7e]+$/.test(apiKey)) {
    throw new TypeError(
      "roomgate client: apiKey holds whitespace or non-printable characters (a trailing newline from a file?)",
    );
  }
}

/**
 * An interceptor that sends `Authorization: Bearer <apiKey>` on every call. The
 * key lives only in this closure: it is not on the returned clients or the
 * transport, so dumping either prints no secret.
 */
export function apiKeyInterceptor(apiKey: string): Interceptor {
  assertApiKey(apiKey);
  const value = `Bearer ${apiKey}`;
  return (next) => (req) => {
    req.header.set("authorization", value);
    return next(req);
  };
}
