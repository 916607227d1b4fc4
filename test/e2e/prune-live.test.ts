import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import type { GrantRecord } from "../../src/domain/tokens/room-tokens.js";
import { grants, users } from "../../src/store/schema.js";
import { ROOMGATE_CLI } from "../support/cli.js";
import { bearer, connectTransport, grpcTransport, tokensClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { rowCount } from "../support/spaces-clients.js";

// Issue 7, point 12: `maintenance prune` beside a live server made CreateUser
// fail with `internal` ("database is locked": a deferred transaction read,
// then tried to write while prune held the lock). Every write transaction now
// takes the lock up front and waits (busy timeout) instead of failing. On
// PostgreSQL the CLI prunes the server's database, and writers wait alike.

const exec = promisify(execFile);
const DAY = 86_400_000;
/** Expired grants for prune to delete, 200 rows per transaction: 150 transactions. */
const EXPIRED = 30_000;
const BATCH = "200";

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer();
  const now = Date.now();
  const expired: GrantRecord[] = Array.from({ length: EXPIRED }, (_, i) => ({
    id: randomBytes(16).toString("hex"),
    tenantId: srv.tenantId,
    userId: `gone-${i}`,
    roomId: `gone-room-${i % 100}`,
    permissions: [Permission.PermissionChat],
    metadata: {},
    issuedAt: now - 2 * DAY,
    expiresAt: now - DAY,
    issuedBy: "bulk",
  }));
  await srv.h.grants.recordGrants(expired);
});
afterAll(async () => {
  await srv?.close();
});

/** Grants of the bulk issuer still stored (prune's progress, seen from the server). */
function expiredLeft(): Promise<number> {
  return rowCount(srv, grants, eq(grants.issuedBy, "bulk"));
}

interface Outcome {
  ok: number;
  failed: Array<{ what: string; code: string; message: string }>;
  /** Calls that completed while prune was partway through (some, not all, expired grants gone). */
  duringPrune: number;
}

/**
 * Calls CreateUser and token Create back to back on `transport` until
 * `done()` says stop; records every answer.
 */
async function hammer(name: string, transport: Transport, done: () => boolean, out: Outcome): Promise<void> {
  const usersApi = createClient(UsersPrivate, transport);
  const tokens = tokensClient(transport);
  const key = bearer(srv.apiKey);
  for (let i = 0; !done(); i++) {
    const tag = `${name}-${i}-${randomBytes(4).toString("hex")}`;
    const calls: Array<[string, Promise<unknown>]> = [
      [
        "CreateUser",
        usersApi.createUser({ email: `${tag}@example.com`, username: tag, password: "correct horse battery" }, key),
      ],
      [
        "Create",
        tokens.create(
          { arguments: [{ userId: tag, roomId: "live-room", permissions: [Permission.PermissionChat] }] },
          key,
        ),
      ],
    ];
    for (const [what, p] of calls) {
      try {
        await p;
        out.ok++;
      } catch (e) {
        const err = ConnectError.from(e);
        out.failed.push({ what, code: Code[err.code], message: err.rawMessage });
      }
    }
    const left = await expiredLeft();
    if (left > 0 && left < EXPIRED) out.duringPrune++;
  }
}

describe("maintenance prune next to a live server (issue 7, point 12)", () => {
  it("every CreateUser and token Create succeeds over Connect and gRPC while prune runs as its own process", async () => {
    const out: Outcome = { ok: 0, failed: [], duringPrune: 0 };
    const usersBefore = await rowCount(srv, users);
    let pruneDone = false;
    // The server's store: its data dir, and its PostgreSQL database when it runs on one.
    const databaseUrl = srv.app.config.databaseUrl;
    const env = {
      ...process.env,
      ROOMGATE_DATA_DIR: srv.dataDir,
      LOG_LEVEL: "silent",
      ...(databaseUrl ? { ROOMGATE_DATABASE_URL: databaseUrl } : {}),
    };
    const prune = exec(process.execPath, [...ROOMGATE_CLI, "maintenance", "prune", "--batch-size", BATCH], {
      env,
    }).finally(() => {
      pruneDone = true;
    });
    const workers = [
      hammer("connect-a", connectTransport(srv.baseUrl), () => pruneDone, out),
      hammer(
        "connect-b",
        createConnectTransport({ baseUrl: srv.baseUrl, httpVersion: "2", useBinaryFormat: true }),
        () => pruneDone,
        out,
      ),
      hammer("grpc-a", grpcTransport(srv.baseUrl), () => pruneDone, out),
      hammer("grpc-b", grpcTransport(srv.baseUrl), () => pruneDone, out),
    ];
    const r = await prune;
    await Promise.all(workers);

    expect(r.stdout).toMatch(/grants of expired tokens\s+30,000\n/);
    expect(await expiredLeft()).toBe(0);
    expect(out.failed).toEqual([]);
    // The calls really overlapped the prune: some finished with it partway.
    expect(out.duringPrune).toBeGreaterThan(0);
    // Every CreateUser that answered wrote its user (half the successes are CreateUser).
    const created = (await rowCount(srv, users)) - usersBefore;
    expect(created * 2).toBe(out.ok);
  }, 120_000);
});
