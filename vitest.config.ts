import pg from "pg";
import { defineConfig } from "vitest/config";
import { SlowFirstSequencer } from "./test/support/sequencer.js";

// Three projects: every suite on the embedded SQLite store, the protocol
// suites on SQLite with the unary fast path off, and the store-dependent
// end-to-end, store and domain suites again on PostgreSQL (each test server
// on a fresh database of its own).
//
// The rule for the matrix: a suite runs in a second project only when what it
// asserts can differ there. A suite joins "fast-path-off" only when its calls
// go through the unary fast path and it asserts on the protocol layer; a
// suite joins "postgres" only when it reaches the store in a way the two
// stores could answer differently. A suite that skips itself in a project
// (describe.skipIf on ROOMGATE_FAST_PATH or ROOMGATE_TEST_STORE) is left out
// of it here too, so no worker starts for nothing. Every suite runs in
// "sqlite", so no test is dropped from every project. PostgreSQL is ROOMGATE_TEST_DATABASE_URL, else a local server
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
    console.warn(
      `\n*** PostgreSQL not reachable at ${shown}: the PostgreSQL test project is SKIPPED (set ROOMGATE_TEST_DATABASE_URL) ***\n`,
    );
  }
  return {
    test: {
      testTimeout: 30_000,
      hookTimeout: 30_000,
      // Three files at a time on two cores: most end-to-end time is spent
      // waiting on sockets, child processes and fsync (two at a time kept
      // the machine about 1.15 cores busy on average).
      maxWorkers: 3,
      // A worker runs file after file in one process, keeping the modules it
      // imported (src/, gen/, the dependencies): importing them again for
      // every file cost about a second per file, a third of the run. The
      // test file itself is evaluated anew, the projects never share a
      // worker (their environments differ), and nothing in src/ or the
      // suites keeps state in a module or a global across files: no
      // registry, tracer provider or signal handler is global (each App has
      // its own), no suite writes process.env or mocks modules, and the one
      // suite on fake timers (test/domain/lapses) puts the real ones back
      // after each test.
      isolate: false,
      // The slowest suites first within each project (test/support/sequencer.ts).
      sequence: { sequencer: SlowFirstSequencer },
      // The suites that start `roomgate` as a process run the CLI compiled
      // once for the run, not the source under tsx (test/support/build-cli.ts).
      globalSetup: ["test/support/build-cli.ts"],
      projects: [
        // The README's replicas commands run PostgreSQL themselves: only in the postgres project (present whenever PostgreSQL is).
        {
          extends: true as const,
          test: { name: "sqlite", include: ["test/**/*.test.ts"], exclude: ["test/e2e/readme-replicas.test.ts"] },
        },
        // The protocol suites again with every unary call through
        // connect-node (ROOMGATE_FAST_PATH=off; the "sqlite" project runs them
        // with the fast path on): both paths must pass the same matrix. The
        // fast path (src/server/fast/) replaces only the protocol layer of a
        // unary call — reading and parsing the body, deadlines, request
        // headers and context (credentials, cookies, client address, TLS,
        // request id, the consistency header), writing the answer, its
        // headers, trailers, error details and compression, draining on
        // close — and runs the same interceptors around the same service
        // objects. So the suites here are the ones that assert on those:
        // raw requests and wire bytes, headers, cookies, error details and
        // JSON renderings, per-address limits, logs/metrics/traces of calls,
        // in-flight calls at shutdown. The others drive service behaviour
        // through the generated clients with well-formed calls (what they
        // test is the same code on either path), or only streams (always
        // connect-node), or start the two paths themselves
        // (fast-path-differential compares them byte for byte in every
        // project, fast-path-probe serves both), or run roomgate as
        // processes of their own (the CLI, cluster, replica and one-view
        // suites: their servers never see this project's environment).
        // A new suite that tests the protocol layer belongs in this list.
        {
          extends: true as const,
          test: {
            name: "fast-path-off",
            include: [
              // Raw requests, wire bytes, parsing and size limits.
              "test/e2e/bad-input.test.ts",
              "test/e2e/create-batch.test.ts",
              "test/e2e/malformed-binary.test.ts",
              "test/e2e/protocol-edges.test.ts",
              "test/e2e/protocols.test.ts",
              "test/e2e/strict-utf8.test.ts",
              "test/e2e/reflection.test.ts",
              "test/e2e/grpc-health.test.ts",
              // Not here: health.test.ts (GET /healthz is no RPC: the fast path
              // only serves RPC paths) and slow-headers.test.ts (the listener
              // alone, no App): they never reach the fast path.
              // Headers, CORS, TLS, cookies, error details, JSON renderings.
              "test/e2e/cors.test.ts",
              "test/e2e/tls.test.ts",
              "test/e2e/users.test.ts",
              "test/e2e/room-permissions.test.ts",
              "test/e2e/access-link-revocation.test.ts",
              "test/e2e/access-rules.test.ts",
              "test/e2e/moderation.test.ts",
              "test/e2e/consumer.test.ts",
              "test/e2e/spaces.test.ts",
              "test/e2e/users-management.test.ts",
              "test/e2e/consistency.test.ts",
              // Per-address and per-key limits (the client address comes from the path).
              "test/e2e/limits.test.ts",
              "test/e2e/login-limits.test.ts",
              "test/e2e/rest-auth-limits.test.ts",
              // Connections: draining, in-flight calls at shutdown.
              "test/e2e/drain.test.ts",
              "test/e2e/shutdown.test.ts",
              // Request logs, metrics and traces of calls.
              "test/e2e/observability-logs.test.ts",
              "test/e2e/observability-metrics.test.ts",
              "test/e2e/observability-traces.test.ts",
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
                  // from ROOMGATE_TEST_STORE. Left out, because nothing they
                  // assert depends on the store beneath (they run once, under
                  // sqlite): the client package's pack-and-install test
                  // (packaging); and the protocol suites whose calls are
                  // refused or answered before the store is reached, or
                  // whose subject is the transport — parsing and
                  // malformed bodies (bad-input, malformed-binary,
                  // strict-utf8, early-answer: an oversized body is refused
                  // before anything is read from the store), the protocols
                  // on the one port and their edges, CORS, TLS, slow
                  // headers, /healthz, /readyz and the drain delay, grpc
                  // health and reflection, and the fast path against
                  // connect-node (fast-path-differential, fast-path-probe:
                  // one App beneath both paths); the id rule (every id is
                  // refused by validation before a transaction starts); and
                  // the suites that skip themselves on PostgreSQL
                  // (spaces-management-migration: the SQLite migration;
                  // token-keys-export and concurrent-start: the key file and
                  // `npm start` of the embedded store).
                  exclude: [
                    "test/e2e/client-package.test.ts",
                    "test/e2e/bad-input.test.ts",
                    "test/e2e/malformed-binary.test.ts",
                    "test/e2e/strict-utf8.test.ts",
                    "test/e2e/early-answer.test.ts",
                    "test/e2e/protocols.test.ts",
                    "test/e2e/protocol-edges.test.ts",
                    "test/e2e/cors.test.ts",
                    "test/e2e/tls.test.ts",
                    "test/e2e/slow-headers.test.ts",
                    "test/e2e/health.test.ts",
                    "test/e2e/readyz.test.ts",
                    "test/e2e/sigterm-drain.test.ts",
                    "test/e2e/sigterm-drain-h2.test.ts",
                    "test/e2e/grpc-health.test.ts",
                    "test/e2e/reflection.test.ts",
                    "test/e2e/fast-path-differential.test.ts",
                    "test/e2e/fast-path-probe.test.ts",
                    "test/e2e/id-rule.test.ts",
                    "test/e2e/spaces-management-migration.test.ts",
                    "test/e2e/token-keys-export.test.ts",
                    "test/e2e/concurrent-start.test.ts",
                  ],
                  include: [
                    "test/e2e/**/*.test.ts",
                    "test/store/repositories.test.ts",
                    "test/store/shared-rate-limit.test.ts",
                    "test/store/replica-leases.test.ts",
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
