import { connectErrorShape, type CompatRoute } from "../compat.js";

/**
 * `GET /healthz` for load balancers and orchestrators: 200 when the store
 * answers a trivial query, 503 otherwise. No credential; it reveals nothing
 * but liveness.
 */
export function healthRoute(storeAlive: () => Promise<boolean>): CompatRoute {
  return {
    method: "GET",
    path: /^\/healthz$/,
    // Only the dispatcher's own errors (405) ever use it.
    errorShape: connectErrorShape,
    async handle() {
      let ok = false;
      try {
        ok = await storeAlive();
      } catch {
        ok = false;
      }
      return ok
        ? { status: 200, body: { status: "ok" }, headers: { "cache-control": "no-store" } }
        : { status: 503, body: { status: "unavailable" }, headers: { "cache-control": "no-store" } };
    },
  };
}
