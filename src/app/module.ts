import type { CompatRoute } from "../server/compat.js";

/**
 * What a feature area contributes to the running app besides the services
 * it exports by name: the seeds' REST routes it serves and how it stops.
 * createApp (create-app.ts) builds the modules in order and closes them in
 * reverse, before the kernel.
 */
export interface FeatureModule {
  /** REST routes, served where no RPC path matches. */
  readonly routes?: readonly CompatRoute[];
  /** Stops the module's workers and timers; the store is still open. */
  close?(): Promise<void> | void;
}
