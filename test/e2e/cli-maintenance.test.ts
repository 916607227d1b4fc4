import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import pg from "pg";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Code } from "@connectrpc/connect";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { serve } from "../../src/app/serve.js";
import { startHarnessedApp } from "../support/harness.js";
import { Progress, progressLine } from "../../src/cli/progress.js";
import { generateTokenKey } from "../../src/domain/tokens/keyring.js";
import type { GrantRecord } from "../../src/domain/tokens/room-tokens.js";
import { ROOMGATE_CLI } from "../support/cli.js";
import { bearer, connectTransport, expectCode, tokensClient, type TokensClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

const exec = promisify(execFile);
const CLI = ROOMGATE_CLI;
const DAY = 86_400_000;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `roomgate <args>` the way an operator does; never throws. */
async function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  try {
    const r = await exec(process.execPath, [...CLI, ...args], { env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : 1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

/** Where a store lives: the SQLite file, or the PostgreSQL database's URL when that is the store. */
interface StoreAt {
  readonly dbPath: string;
  readonly databaseUrl: string | undefined;
}

/** Runs one query on its own connection, the way a DBA would look (SQLite: read-only). */
async function query<T>(at: StoreAt, text: string): Promise<T[]> {
  if (at.databaseUrl !== undefined) {
    const client = new pg.Client({ connectionString: at.databaseUrl });
    await client.connect();
    try {
      return (await client.query(text)).rows as T[];
    } finally {
      await client.end();
    }
  }
  const db = new Database(at.dbPath, { readonly: true });
  try {
    return db.prepare(text).all() as T[];
  } finally {
    db.close();
  }
}

/** Row counts straight from the store. */
async function rows(at: StoreAt): Promise<{ grants: number; revocations: number; audit: number; events: number }> {
  // PostgreSQL's count(*) is int8, which pg hands over as a string.
  const n = async (t: string) =>
    Number((await query<{ n: number | string }>(at, `select count(*) as n from ${t}`))[0]!.n);
  return {
    grants: await n("grants"),
    revocations: await n("revocations"),
    audit: await n("audit_log"),
    events: await n("events"),
  };
}

async function ids(at: StoreAt, sql: string): Promise<string[]> {
  return (await query<{ id: string }>(at, sql)).map((r) => r.id);
}

/** The CLI's environment for a test server's store (its data dir, and its PostgreSQL database when that is the store). */
function cliEnv(s: TestServer): NodeJS.ProcessEnv {
  const url = s.app.config.databaseUrl;
  return {
    ...process.env,
    ROOMGATE_DATA_DIR: s.dataDir,
    LOG_LEVEL: "silent",
    ...(url === undefined ? {} : { ROOMGATE_DATABASE_URL: url }),
  };
}

const BULK = 12_000;

describe("roomgate maintenance prune", () => {
  const realNow = Date.now();
  let now = realNow - 10 * DAY;
  const clock = () => now;
  const keys = [{ ...generateTokenKey(realNow), state: "active" as const }];
  let srv: TestServer;
  let env: NodeJS.ProcessEnv;
  let dbPath: StoreAt;
  const live: { kept: string; revoked: string; keptId: string; revokedId: string; oldRevokedId: string } = {
    kept: "",
    revoked: "",
    keptId: "",
    revokedId: "",
    oldRevokedId: "",
  };
  let otherKeyId = "";

  beforeAll(async () => {
    srv = await startTestServer({ clock, tokenKeys: keys });
    dbPath = { dbPath: srv.app.config.dbPath, databaseUrl: srv.app.config.databaseUrl };
    env = cliEnv(srv);
    const c = tokensClient(connectTransport(srv.baseUrl));
    const key = bearer(srv.apiKey);
    const issue = async (c: TokensClient, userId: string, roomId: string, ttlSeconds = 0) => {
      const { tokens } = await c.create(
        { arguments: [{ userId, roomId, permissions: [Permission.PermissionChat], ttlSeconds }] },
        key,
      );
      return { token: tokens[0]!, id: (await c.verify({ token: tokens[0]! }, key)).tokenId };
    };

    // Ten days ago, through the real RPCs: three one-hour tokens (long expired
    // now), one revoked by id, and a user watermark (never pruned).
    const old = [
      await issue(c, "old-1", "attic", 3600),
      await issue(c, "old-2", "attic", 3600),
      await issue(c, "old-3", "cellar", 3600),
    ];
    await c.revoke({ tokenId: old[0]!.id, reason: "old" }, key);
    await c.revokeUser({ userId: "old-2", roomId: "" }, key);
    live.oldRevokedId = old[0]!.id;

    // Bulk: 12,000 grants that expired yesterday, written the way Create writes them.
    const bulk: GrantRecord[] = Array.from({ length: BULK }, (_, i) => ({
      id: randomBytes(16).toString("hex"),
      tenantId: srv.tenantId,
      userId: `bulk-${i}`,
      roomId: `bulk-room-${i % 50}`,
      permissions: [Permission.PermissionChat],
      metadata: {},
      issuedAt: realNow - 2 * DAY,
      expiresAt: realNow - DAY,
      issuedBy: "bulk",
    }));
    await srv.h.grants.recordGrants(bulk);

    // Now: two live tokens, one of them revoked (its revocation must stay).
    now = realNow;
    const kept = await issue(c, "live-1", "lobby");
    const revoked = await issue(c, "live-2", "lobby");
    await c.revoke({ tokenId: revoked.id, reason: "live" }, key);
    Object.assign(live, { kept: kept.token, keptId: kept.id, revoked: revoked.token, revokedId: revoked.id });

    otherKeyId = (await srv.h.tenants.listApiKeys(srv.otherTenantId))[0]!.id;
    await srv.server.close();
  });

  // The server is already closed; this drops its PostgreSQL database (if any) and its data dir.
  afterAll(() => srv?.close());

  it("--dry-run counts what would go and deletes nothing", async () => {
    const before = await rows(dbPath);
    expect(before).toMatchObject({ grants: BULK + 5, revocations: 3 });
    const r = await cli(env, "maintenance", "prune", "--dry-run", "--keep-days", "7");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("nothing deleted");
    expect(r.stdout).toMatch(/grants of expired tokens\s+12,003\n/);
    expect(r.stdout).toMatch(/revocations of expired tokens\s+1\n/);
    expect(r.stdout).toMatch(/audit entries older than 7 day\(s\)\s+5\n/);
    expect(r.stdout).toMatch(/events older than 7 day\(s\)\s+2\n/);
    expect(r.stderr).toBe("");
    expect(await rows(dbPath)).toEqual(before);
  });

  it("deletes expired grants and token revocations in 5,000-row batches with one progress line per batch; live rows stay", async () => {
    const before = await rows(dbPath);
    const r = await cli(env, "maintenance", "prune");
    expect(r.code, r.stderr).toBe(0);
    // Not a terminal: every batch is its own line, percentages rounded down.
    expect(r.stderr.split("\n").filter(Boolean)).toEqual([
      "pruned 5,000/12,003 grants (41%)",
      "pruned 10,000/12,003 grants (83%)",
      "pruned 12,003/12,003 grants (100%)",
      "pruned 1/1 token revocations (100%)",
    ]);
    expect(r.stderr).not.toContain("\r");
    const where =
      dbPath.databaseUrl === undefined
        ? "roomgate\\.db"
        : `postgres 127\\.0\\.0\\.1:\\d+/${new URL(dbPath.databaseUrl).pathname.slice(1)}`;
    expect(r.stdout).toMatch(new RegExp(`^pruned .*${where} in \\d+\\.\\d s, 5,000 rows per transaction:\n`));
    expect(r.stdout).toMatch(/grants of expired tokens\s+12,003\n/);
    expect(r.stdout).toMatch(/revocations of expired tokens\s+1\n/);
    expect(r.stdout).toContain("audit entries and events kept (no --keep-days)");

    expect(await rows(dbPath)).toEqual({ grants: 2, revocations: 2, audit: before.audit, events: before.events });
    expect((await ids(dbPath, "select id from grants order by id")).sort()).toEqual(
      [live.keptId, live.revokedId].sort(),
    );
    // Kept: the live token's revocation and the user watermark (no expiry).
    expect(
      await ids(dbPath, "select coalesce(token_id, user_id) as id from revocations order by revocations.id"),
    ).toEqual(["old-2", live.revokedId]);
  });

  it("--keep-days deletes audit entries and events older than the cutoff, and nothing newer", async () => {
    const before = await rows(dbPath);
    const r = await cli(env, "maintenance", "prune", "--keep-days", "7", "--batch-size", "2");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split("\n").filter(Boolean)).toEqual([
      "pruned 2/5 audit entries (40%)",
      "pruned 4/5 audit entries (80%)",
      "pruned 5/5 audit entries (100%)",
      "pruned 2/2 events (100%)",
    ]);
    expect(r.stdout).toMatch(/2 rows per transaction/);
    expect(r.stdout).toMatch(/grants of expired tokens\s+0\n/);
    expect(r.stdout).toMatch(/audit entries older than 7 day\(s\)\s+5\n/);
    expect(r.stdout).toMatch(/events older than 7 day\(s\)\s+2\n/);
    // The two old events go; the newer ones stay (the live Creates' effects-only events among them).
    expect(await rows(dbPath)).toEqual({ grants: 2, revocations: 2, audit: 3, events: before.events - 2 });
    const [oldest] = await query<{ at: number | string }>(dbPath, "select min(at) as at from audit_log");
    expect(Number(oldest!.at)).toBeGreaterThanOrEqual(realNow);
    expect(
      (await query<{ action: string }>(dbPath, "select action from audit_log order by id")).map((a) => a.action),
    ).toEqual(["token.issue", "token.issue", "token.revoke"]);
  });

  it("a second run finds nothing and prints no progress", async () => {
    const r = await cli(env, "maintenance", "prune", "--keep-days", "7");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    // grants, revocations, audit entries, events, finished webhook deliveries
    expect(r.stdout.match(/\s0\n/g)).toHaveLength(5);
  });

  it("after pruning, a restarted server still refuses the live revoked token and accepts the live one", async () => {
    const { app, h } = await startHarnessedApp(srv.app.config, pino({ level: "silent" }), { tokenKeys: keys });
    const server = await serve(app);
    try {
      expect(h.revocations.revokedTokenCount).toBe(1);
      const c = tokensClient(
        createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: "1.1" }),
      );
      expect((await c.verify({ token: live.kept }, bearer(srv.apiKey))).tokenId).toBe(live.keptId);
      await expectCode(c.verify({ token: live.revoked }, bearer(srv.apiKey)), Code.Unauthenticated, "token revoked");
      // A pruned grant can no longer be revoked by id: it expired long ago.
      await expectCode(c.revoke({ tokenId: live.oldRevokedId }, bearer(srv.apiKey)), Code.NotFound);
    } finally {
      await server.close();
    }
  });

  it("refuses bad options and a store without a database, changing nothing", async () => {
    const before = await rows(dbPath);
    const bad = [
      ["--keep-days", "x"],
      ["--keep-days", "-1"],
      ["--batch-size", "0"],
      ["--batch-size", "1.5"],
    ];
    // SQLite: a data dir without a database file; PostgreSQL: a URL naming a database that does not exist.
    const nowhere = dbPath.databaseUrl === undefined ? undefined : new URL(dbPath.databaseUrl);
    if (nowhere) nowhere.pathname = `${nowhere.pathname}_nope`;
    const [missing, ...refused] = await Promise.all([
      cli(
        nowhere
          ? { ...env, ROOMGATE_DATABASE_URL: nowhere.toString() }
          : { ...env, ROOMGATE_DATA_DIR: `${srv.dataDir}/nope` },
        "maintenance",
        "prune",
      ),
      ...bad.map((args) => cli(env, "maintenance", "prune", ...args)),
    ]);
    refused.forEach((r, i) => {
      expect(r.code, bad[i]!.join(" ")).not.toBe(0);
      expect(r.stderr).toMatch(/expected a whole number|unknown option|argument missing/);
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      nowhere
        ? `roomgate: database "${nowhere.pathname.slice(1)}" does not exist`
        : `roomgate: no database at ${srv.dataDir}/nope/roomgate.db`,
    );
    expect(await rows(dbPath)).toEqual(before);
  }, 60_000);

  it("api-keys revoke says what it did", async () => {
    const keyDir = { ...env };
    const other = { id: otherKeyId };
    expect(other.id).toMatch(/^[0-9a-f]{16}$/);
    const revoked = await cli(keyDir, "api-keys", "revoke", other.id);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toBe(
      `revoked API key ${other.id} of tenant ${srv.otherTenantId}: calls with it are refused from now on; the tenant has 0 live key(s) left\n`,
    );
    const [again, unknown] = await Promise.all([
      cli(keyDir, "api-keys", "revoke", other.id),
      cli(keyDir, "api-keys", "revoke", "nope"),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`API key ${other.id} was already revoked at \\d{4}-`));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("roomgate: no API key nope");
  }, 60_000);

  it("token-keys commands say what they did", async () => {
    const keyDir = { ...env };
    // The test server's keys came from overrides, so there is no key file:
    // list refuses it (a mistyped data dir), add creates it — and says so.
    const list = await cli(keyDir, "token-keys", "list");
    expect(list.code).toBe(1);
    expect(list.stderr).toContain("no token key file");
    const added = await cli(keyDir, "token-keys", "add");
    const first = /created key file .*token-keys\.json \(mode 0600\) with active key (\d+)\n/.exec(added.stdout);
    expect(first, added.stdout).not.toBeNull();
    const second = /^added key (\d+) \(decrypt-only\)/m.exec(added.stdout)![1]!;
    const act = await cli(keyDir, "token-keys", "activate", second);
    expect(act.stdout).toContain(
      `key ${second} is active: new tokens are sealed with it; key ${first![1]} is now decrypt-only`,
    );
    expect(act.stdout).toContain("a running server picks the change up within a second");
    const [already, bad] = await Promise.all([
      cli(keyDir, "token-keys", "activate", second),
      cli(keyDir, "token-keys", "retire", "abc"),
    ]);
    expect(already.stdout).toBe(`key ${second} is already active; nothing changed\n`);
    const retired = await cli(keyDir, "token-keys", "retire", first![1]!);
    expect(retired.stdout).toContain(`key ${first![1]} retired: tokens sealed with it no longer verify; 1 key(s) left`);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('roomgate: token key id must be a whole number, got "abc"\n');
  }, 60_000);
});

describe("progress on stderr", () => {
  it("formats counts with separators and rounds the percentage down", () => {
    expect(progressLine("pruned", 45_000, 120_000, "grants")).toBe("pruned 45,000/120,000 grants (37%)");
    expect(progressLine("pruned", 119_999, 120_000, "grants")).toBe("pruned 119,999/120,000 grants (99%)");
    expect(progressLine("pruned", 0, 0, "events")).toBe("pruned 0/0 events (100%)");
  });

  it("rewrites one line in place on a terminal, and writes a line per update elsewhere", () => {
    const out: string[] = [];
    const tty = new Progress({ isTTY: true, write: (s: string) => out.push(s) });
    tty.update("a 1");
    tty.update("a 2");
    tty.end();
    tty.end();
    expect(out.join("")).toBe("\ra 1\u001b[K\ra 2\u001b[K\n");

    const lines: string[] = [];
    const pipe = new Progress({ isTTY: false, write: (s: string) => lines.push(s) });
    pipe.update("a 1");
    pipe.update("a 2");
    pipe.end();
    expect(lines.join("")).toBe("a 1\na 2\n");
  });

  const hasScript = spawnSync("script", ["--version"]).status === 0;
  it.skipIf(!hasScript)("the real command on a pseudo-terminal updates its line with \\r", async () => {
    const s = await startTestServer();
    try {
      await s.h.grants.recordGrants(
        [1, 2, 3].map((i) => ({
          id: randomBytes(16).toString("hex"),
          tenantId: s.tenantId,
          userId: `u${i}`,
          roomId: "r",
          permissions: [Permission.PermissionChat],
          metadata: {},
          issuedAt: Date.now() - 2 * DAY,
          expiresAt: Date.now() - DAY,
          issuedBy: "tty",
        })),
      );
      await s.server.close();
      const cmd = [process.execPath, ...CLI, "maintenance", "prune", "--batch-size", "1"].join(" ");
      const r = spawnSync("script", ["-q", "-e", "-c", cmd, "/dev/null"], {
        env: cliEnv(s),
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(r.status, r.stdout).toBe(0);
      expect(r.stdout).toContain(
        "\rpruned 1/3 grants (33%)\u001b[K\rpruned 2/3 grants (66%)\u001b[K\rpruned 3/3 grants (100%)\u001b[K",
      );
      expect(r.stdout).toMatch(/grants of expired tokens\s+3/);
    } finally {
      await s.close();
    }
  });
});
