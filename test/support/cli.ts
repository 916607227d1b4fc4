/**
 * The arguments to `process.execPath` that run the `roomgate` CLI in the
 * suites that start it as a process of its own: the CLI compiled once for
 * the run by the vitest globalSetup (test/support/build-cli.ts, which sets
 * ROOMGATE_TEST_CLI), or — outside such a run — the source under tsx.
 */
export const ROOMGATE_CLI: readonly string[] = process.env["ROOMGATE_TEST_CLI"]
  ? [process.env["ROOMGATE_TEST_CLI"]]
  : ["--import", "tsx", "src/main.ts"];
