import { cors as connectCors } from "@connectrpc/connect";
import type { Handler } from "./listener.js";

const ALLOW_METHODS = [...new Set([...connectCors.allowedMethods, "GET", "POST"])].join(", ");
const ALLOW_HEADERS = [...new Set([...connectCors.allowedHeaders, "Authorization"])].join(", ");
const EXPOSE_HEADERS = connectCors.exposedHeaders.join(", ");

/**
 * CORS for browsers on other origins (seed 002's page, a web app calling
 * Connect JSON). Only the configured origins get CORS headers; they are
 * echoed with credentials allowed, so the session cookie works cross-origin.
 * "*" allows any origin but never with credentials. With no origins
 * configured the handler is returned unchanged.
 */
export function withCors(handler: Handler, origins: readonly string[]): Handler {
  if (origins.length === 0) return handler;
  const any = origins.includes("*");
  const allowed = new Set(origins);
  return (req, res) => {
    const origin = req.headers["origin"];
    const ok = typeof origin === "string" && (allowed.has(origin) || any);
    if (ok) {
      res.setHeader("Vary", "Origin");
      if (allowed.has(origin)) {
        res.setHeader("Access-Control-Allow-Origin", origin);
        res.setHeader("Access-Control-Allow-Credentials", "true");
      } else {
        res.setHeader("Access-Control-Allow-Origin", "*");
      }
      res.setHeader("Access-Control-Expose-Headers", EXPOSE_HEADERS);
    }
    if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
      // Preflight: answered here, never reaches an RPC.
      if (ok) {
        res.setHeader("Access-Control-Allow-Methods", ALLOW_METHODS);
        res.setHeader("Access-Control-Allow-Headers", ALLOW_HEADERS);
        res.setHeader("Access-Control-Max-Age", "7200");
      }
      res.writeHead(204);
      res.end();
      return;
    }
    handler(req, res);
  };
}
