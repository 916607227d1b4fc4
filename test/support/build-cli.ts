import { mkdirSync, rmdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleServer } from "../../scripts/bundle.mjs";

/**
 * vitest globalSetup: builds the server once per run, so the suites that
 * start `roomgate` as a process of its own run the built CLI
 * (`node <dir>/src/main.js`) instead of `node --import tsx src/main.ts`,
 * which transpiled the whole tree again in every process (about a second of
 * CPU per process, hundreds of processes per run).
 *
 * The build is the one `npm start` runs (scripts/bundle.mjs: a bundle,
 * which starts about three times faster than a module per file), in the
 * layout of dist/. It lands in .test-build/<run>/ inside the checkout, so that what the CLI
 * finds by walking up from its own file (migrations/, migrations-pg/,
 * package.json, node_modules/) is the checkout's, as from src/ or dist/. Not
 * dist/ itself: the client-package test rebuilds that (npm pack) while the
 * other suites run. Removed at the end of the run.
 *
 * The path reaches the suites as ROOMGATE_TEST_CLI (the test workers inherit
 * the environment of the vitest process), read by test/support/cli.ts.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

interface Built {
  readonly cli: string;
  readonly dir: string;
  users: number;
}

// Every project of the run gets this setup; the first builds, the others share
// it (one vitest process, one global scope for global setups).
const KEY = Symbol.for("roomgate.test.build-cli");
type Holder = { [KEY]?: Promise<Built> };

async function compile(): Promise<Built> {
  const dir = join(root, ".test-build", `${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(dir, { recursive: true });
  try {
    await bundleServer(root, dir);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { cli: join(dir, "src", "main.js"), dir, users: 0 };
}

export default async function setup(): Promise<() => void> {
  const holder = globalThis as Holder;
  const built = await (holder[KEY] ??= compile());
  built.users++;
  process.env["ROOMGATE_TEST_CLI"] = built.cli;
  return () => {
    if (--built.users > 0) return;
    delete holder[KEY];
    rmSync(built.dir, { recursive: true, force: true });
    // .test-build/ itself too, unless another run is using it.
    try {
      rmdirSync(dirname(built.dir));
    } catch {
      // not empty, or gone already
    }
  };
}
