/**
 * Compiles the server into a few bundled ES modules (esbuild): what
 * `scripts/build.mjs` writes into dist/ for `npm start`, and what the test
 * run's global setup writes into .test-build/ (test/support/build-cli.ts),
 * so the tests start the very build users run.
 *
 * Why bundled: a start of `roomgate serve` resolved about 2,600 modules one
 * by one (src/ and gen/: 550; drizzle-orm, @bufbuild/protobuf, connect, zod
 * and OpenTelemetry: most of the rest). On Node 24 each ES module
 * resolution walks up for its package.json scope, and a one-worker start
 * took 2.2–2.4 s, two workers 5.1 s, on the 2-core machine; bundled, 0.7–0.8 s
 * and 1.6 s (measured 2026-12-06). Every cluster worker, replica, CLI
 * command and test process pays that start.
 *
 * The layout: outdir/src/main.js (the bin), outdir/src/cli.js (the path the
 * package has always shipped the CLI at), outdir/src/seal-worker.js (the
 * token-sealing thread, which batch-sealer.ts loads from beside its own
 * module) and shared chunks, all in outdir/src/ so that every
 * `import.meta.url` of the code is there: the walks up to package.json,
 * migrations/ and migrations-pg/ and the resolution of better-sqlite3 find
 * the package's own. Chunks keep main.ts's order: its start-up signal guard
 * runs before the rest of the code is even read (a dynamic import is a chunk
 * of its own).
 *
 * Left outside the bundle, loaded from node_modules at run time:
 * better-sqlite3 and pg-native (native addons), and pino, whose transports
 * find their worker files beside pino's own (`__dirname`).
 */
import { join } from "node:path";
import { build } from "esbuild";

/** Packages loaded from node_modules at run time rather than bundled. */
export const EXTERNAL = ["better-sqlite3", "pg-native", "pino"];

/**
 * Bundles the server from `root` (the checkout) into `outdir`/src/. Rejects
 * on a compile error; type checking is `tsc --noEmit`'s job (CI, npm run lint).
 */
export async function bundleServer(root, outdir) {
  await build({
    absWorkingDir: root,
    entryPoints: [
      { in: "src/main.ts", out: "main" },
      { in: "src/cli.ts", out: "cli" },
      { in: "src/domain/tokens/seal-worker.ts", out: "seal-worker" },
    ],
    outdir: join(outdir, "src"),
    bundle: true,
    splitting: true,
    chunkNames: "chunk-[hash]",
    format: "esm",
    platform: "node",
    // The oldest Node package.json's engines allow.
    target: "node20",
    tsconfig: join(root, "tsconfig.json"),
    external: EXTERNAL,
    // CommonJS dependencies inside an ES module bundle call require() for
    // Node's built-ins and the external packages: give every chunk one.
    banner: {
      js: 'import { createRequire as __roomgateRequire } from "node:module";\nconst require = __roomgateRequire(import.meta.url);',
    },
    sourcemap: true,
    logLevel: "error",
  });
}
