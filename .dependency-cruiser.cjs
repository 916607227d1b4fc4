/**
 * Import rules of roomgate (issue 18): no cycles, no import up a layer.
 *
 *   entry points   src/main.ts, src/cli.ts, src/cli/**, src/cli-progress.ts
 *   composition    src/app.ts, src/app/**  (wires everything: may import every layer)
 *   cluster        src/cluster/**          (process management: reaches the store through src/app*)
 *   transport      src/server/**           -> services, observability, domain, config
 *   services       src/services/**         -> domain, observability, config
 *   observability  src/observability/**    -> config (metrics, tracing, call logs: below the transport)
 *   config         src/config/**           -> domain (defaults and limits)
 *   domain         src/domain/**           -> gen only: no store, no transport, no process config
 *   store          src/store/**            -> domain (implements its ports, returns its types)
 *   client         packages/client/src/**  -> gen only (@roomgate/client, published on its own)
 *   gen            gen/**                  generated code: imports no source
 *
 * The store is an adapter on the domain's ports: it imports the domain,
 * and only the composition root and the command line (which opens a store
 * for its maintenance commands) import the store.
 *
 * Run: node scripts/depcruise.mjs src packages/client/src --config .dependency-cruiser.cjs
 * (the launcher gives dependency-cruiser a TypeScript it can parse with: see there).
 */

const ENTRY_NAMES = "(main\\.ts|cli\\.ts|cli/|cli-progress\\.ts)";
const APP_NAMES = "(app\\.ts|app/)";
const ENTRY = `^src/${ENTRY_NAMES}`;
const CLUSTER = "^src/cluster/";
const APP = `^src/${APP_NAMES}`;
const SERVER = "^src/server/";
const SERVICES = "^src/services/";
const OBSERVABILITY = "^src/observability/";
const CONFIG = "^src/config/";
const DOMAIN = "^src/domain/";
const STORE = "^src/store/";
const CLIENT = "^packages/client/src/";
const GEN = "^gen/";

/** A rule forbidding `from` to import any of `to`. */
function layer(name, comment, from, to) {
  return { name, comment, severity: "error", from: { path: from }, to: { path: to } };
}

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "An import cycle: split the shared part into a module both import.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    layer("entry-is-top", "Only the entry points import each other.", `^(src|gen)/(?!${ENTRY_NAMES})`, ENTRY),
    layer(
      "cluster-below-entry",
      "Only the entry points and the composition root import the cluster.",
      `^(src|gen)/(?!${ENTRY_NAMES}|cluster/|${APP_NAMES})`,
      CLUSTER,
    ),
    layer("cluster-not-store", "The cluster opens the store through the composition root (src/app*).", CLUSTER, STORE),
    layer(
      "app-is-composition-root",
      "Only the entry points and the cluster import the composition root.",
      `^(src|gen)/(?!${ENTRY_NAMES}|cluster/|${APP_NAMES})`,
      APP,
    ),
    layer("server-layer", "The transport imports services, observability, domain and config only.", SERVER, STORE),
    layer(
      "services-layer",
      "Services translate proto to domain: no transport, no store.",
      SERVICES,
      `${SERVER}|${STORE}`,
    ),
    layer(
      "observability-layer",
      "Observability sits below the transport: it is handed what it needs.",
      OBSERVABILITY,
      `${SERVER}|${SERVICES}|${DOMAIN}|${STORE}`,
    ),
    layer(
      "config-layer",
      "Configuration is plain values: it may use domain defaults, nothing above.",
      CONFIG,
      `${SERVER}|${SERVICES}|${OBSERVABILITY}|${STORE}`,
    ),
    layer(
      "domain-layer",
      "The domain declares ports and rules: no store, no transport, no process configuration.",
      DOMAIN,
      `${SERVER}|${SERVICES}|${OBSERVABILITY}|${CONFIG}|${STORE}`,
    ),
    layer(
      "store-layer",
      "The store implements the domain's ports: it imports the domain, nothing above.",
      STORE,
      `${SERVER}|${SERVICES}|${OBSERVABILITY}|${CONFIG}`,
    ),
    layer(
      "client-alone",
      "The client package ships alone: generated code and npm packages only.",
      CLIENT,
      "^(src/|packages/(?!client/))",
    ),
    layer("gen-is-generated", "Generated code imports no source.", GEN, "^src/"),
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Type-only imports count: a type cycle or a type from a layer above couples as much as a value.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
