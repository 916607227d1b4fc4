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

/**
 * `GET /readyz` for load balancers: 200 while this server takes new work
 * (the store answers and no stop signal came), 503 from the moment it
 * begins to drain — it still answers what reaches it meanwhile
 * (ROOMGATE_DRAIN_DELAY_MS), so a balancer polling this stops sending first.
 */
export function readyRoute(storeAlive: () => Promise<boolean>, draining: AbortSignal): CompatRoute {
  const live = healthRoute(storeAlive);
  return {
    ...live,
    path: /^\/readyz$/,
    async handle(ctx) {
      if (draining.aborted)
        return { status: 503, body: { status: "draining" }, headers: { "cache-control": "no-store" } };
      return live.handle(ctx);
    },
  };
}
