import pg from "pg";
import { defineConfig } from "vitest/config";

// Three projects: every suite on the embedded SQLite store, the end-to-end
// suites on SQLite with the unary fast path off, and the end-to-end
// and store suites again on PostgreSQL (each test server on a fresh database
// of its own). PostgreSQL is ROOMGATE_TEST_DATABASE_URL, else a local server
// if one answers; without one the PostgreSQL project is left out with a
// visible notice — unless the run requires it (CI), where it stays in and
// fails, so a missing server can never pass for green.

const url = process.env["ROOMGATE_TEST_DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/postgres";
const required = process.env["ROOMGATE_TEST_REQUIRE_POSTGRES"] === "1" || process.env["CI"] === "true";

async function postgresAnswers(): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export default defineConfig(async () => {
  const withPostgres = required || (await postgresAnswers());
  if (!withPostgres) {
    const shown = url.replace(/\/\/[^@/]*@/, "//***@");
    console.warn(`\n*** PostgreSQL not reachable at ${shown}: the PostgreSQL test project is SKIPPED (set ROOMGATE_TEST_DATABASE_URL) ***\n`);
  }
  return {
    test: {
      testTimeout: 30_000,
      hookTimeout: 30_000,
      // Two files at a time, even on two cores: most end-to-end time is
      // spent waiting on sockets, child processes and fsync, and vitest's
      // default here (one worker) left a core idle.
      maxWorkers: 2,
      // The suites that start `roomgate` as a process run the CLI compiled
      // once for the run, not the source under tsx (test/support/build-cli.ts).
      globalSetup: ["test/support/build-cli.ts"],
      projects: [
        { extends: true as const, test: { name: "sqlite", include: ["test/**/*.test.ts"] } },
        // The end-to-end suites again with every call through connect-node
        // (ROOMGATE_FAST_PATH=off; the "sqlite" project runs them with the
        // fast path on): both paths must pass the same matrix. Left out:
        // the suites about processes, the CLI and replication (they spawn
        // `roomgate` processes of their own and test no protocol path).
        {
          extends: true as const,
          test: {
            name: "fast-path-off",
            include: ["test/e2e/**/*.test.ts"],
            exclude: [
              "test/e2e/cli*.test.ts",
              "test/e2e/client-package.test.ts",
              "test/e2e/cluster.test.ts",
              "test/e2e/prune-live.test.ts",
              "test/e2e/*replicas*.test.ts",
              "test/e2e/readme-first-minutes.test.ts",
              "test/e2e/webhooks-readme.test.ts",
              "test/e2e/webhooks-restart.test.ts",
            ],
            env: { ROOMGATE_FAST_PATH: "off" },
          },
        },
        ...(withPostgres
          ? [
              {
                extends: true as const,
                test: {
                  name: "postgres",
                  // The suites that go through the store: end to end, the
                  // repositories, and the domain tests that pick their store
                  // from ROOMGATE_TEST_STORE.
                  // The client package's pack-and-install test is about
                  // packaging, not the store: it runs once, under sqlite.
                  exclude: ["test/e2e/client-package.test.ts"],
                  include: [
                    "test/e2e/**/*.test.ts",
                    "test/store/repositories.test.ts",
                    "test/store/shared-rate-limit.test.ts",
                    "test/store/username-key.test.ts",
                    "test/domain/auth.test.ts",
                    "test/domain/users.test.ts",
                    "test/domain/spaces.test.ts",
                  ],
                  env: { ROOMGATE_TEST_STORE: "postgres" },
                },
              },
            ]
          : []),
      ],
    },
  };
});
