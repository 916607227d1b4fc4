import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { onlyTenantId, writeTokenRevocations } from "../../bench/lib/bulk-revocations.js";
import { childPids, CpuSampler, cpuSeconds, rssBytes } from "../../bench/lib/procfs.js";
import { bootstrapTenant } from "../../src/domain/auth/tenants.js";
import { decodeEffects } from "../../src/domain/feed/effects.js";
import { RevocationIndex } from "../../src/domain/tokens/revocations.js";
import { SqlJournal } from "../../src/store/journal-store.js";
import { SqlModerationStore } from "../../src/store/moderation-store.js";
import { openSqliteDatabase, type SqliteDatabase } from "../../src/store/sqlite-database.js";
import { SqlTenantStore } from "../../src/store/tenant-store.js";

// The million-revocations benchmark writes its rows directly; these tests
// hold it to the format the real store and feed read, so a schema or codec
// change breaks here instead of leaving the benchmark measuring nothing.
describe("bench/lib/bulk-revocations", () => {
  let dir: string | undefined;
  let db: SqliteDatabase | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function migratedStore(): Promise<{ path: string; tenantId: string }> {
    dir = mkdtempSync(join(tmpdir(), "roomgate-bench-lib-"));
    const path = join(dir, "roomgate.db");
    db = openSqliteDatabase(path);
    const tenants = new SqlTenantStore(db);
    const { tenantId } = await db.write(() => bootstrapTenant(tenants, "bench-lib-test-key-0123456789", Date.now()));
    return { path, tenantId: tenantId! };
  }

  it("writes revocations the feed decodes and the table load returns, the last one with the given token id", async () => {
    const { path, tenantId } = await migratedStore();
    expect(onlyTenantId(path)).toBe(tenantId);
    const lastTokenId = "ab".repeat(16);
    const batches: number[] = [];
    const r = writeTokenRevocations(path, {
      tenantId,
      count: 1_203,
      batch: 500,
      lastTokenId,
      onBatch: (n) => batches.push(n),
    });
    expect(batches).toEqual([500, 1_000, 1_203]);
    expect(r.lastEventId - r.firstEventId).toBe(1_202);

    // As every replica's feed reads them: in id order, each a TOKEN_REVOKED with one token revocation.
    const feed = await new SqlJournal(db!).feedEventsAfter(0, 5_000);
    expect(feed.map((e) => e.id)).toEqual(Array.from({ length: 1_203 }, (_, i) => r.firstEventId + i));
    const index = new RevocationIndex();
    const tokenIds = new Set<string>();
    for (const e of feed) {
      expect(e.type).toBe(EventType.TOKEN_REVOKED);
      const effects = decodeEffects(e.effects!);
      expect(effects.revocations).toHaveLength(1);
      const rev = effects.revocations![0]!;
      expect(rev).toMatchObject({ kind: "token", tenantId, tokenId: e.tokenId });
      if (rev.kind === "token") tokenIds.add(rev.tokenId);
      index.add(rev);
    }
    expect(tokenIds.size).toBe(1_203); // random ids, none repeated
    expect(feed.at(-1)!.tokenId).toBe(lastTokenId);
    expect(index.revokedTokenCount).toBe(1_203);
    expect(index.isRevoked({ tenantId, tokenId: lastTokenId, userId: "u", roomId: "r", issuedAt: 0 })).toBe(true);

    // As a replica starting later loads them: the same token ids, still live.
    const live = await new SqlModerationStore(db!).liveRevocations(Date.now());
    expect(new Set(live.map((x) => (x.kind === "token" ? x.tokenId : "")))).toEqual(tokenIds);
  });

  it("refuses a store with other than one tenant", async () => {
    const { path } = await migratedStore();
    await db!.write(() =>
      new SqlTenantStore(db!).createTenant(
        { id: "second", name: "second", createdAt: 0 },
        { id: "k2", hash: new Uint8Array(32), label: "x" },
      ),
    );
    expect(() => onlyTenantId(path)).toThrow(/found 2/);
  });
});

describe("bench/lib/procfs", () => {
  it("reads this process's CPU and RSS, finds a child by its parent, and samples a busy child's share", async () => {
    expect(cpuSeconds(process.pid)).toBeGreaterThan(0);
    expect(rssBytes(process.pid)).toBeGreaterThan(1 << 20);
    const child = spawn(process.execPath, ["-e", "const end = Date.now() + 600; while (Date.now() < end);"], {
      stdio: "ignore",
    });
    const sampler = new CpuSampler([child.pid!], 20);
    expect(childPids(process.pid)).toContain(child.pid);
    await new Promise((resolve) => child.once("exit", resolve));
    const shares = sampler.stop();
    // A spinning child uses CPU; how much depends on the machine, so only its presence is checked.
    expect(shares.byPid.get(child.pid!)).toBeGreaterThan(0);
    expect(cpuSeconds(child.pid!)).toBeUndefined();
  });
});
