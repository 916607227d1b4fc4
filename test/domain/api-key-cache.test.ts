import { describe, expect, it } from "vitest";
import { CachedApiKeyLookup } from "../../src/domain/auth/api-key-cache.js";
import type { ApiKeyRecord } from "../../src/domain/auth/api-keys.js";

function source() {
  const rows = new Map<string, ApiKeyRecord>();
  let reads = 0;
  return {
    rows,
    get reads() {
      return reads;
    },
    async findApiKey(id: string) {
      reads++;
      return rows.get(id);
    },
  };
}

describe("CachedApiKeyLookup", () => {
  const rec = (revokedAt: number | null): ApiKeyRecord => ({ id: "k", tenantId: "t", hash: new Uint8Array(32), revokedAt });

  it("serves a known key from memory until the ttl passes, then reads again", async () => {
    let now = 0;
    const src = source();
    src.rows.set("k", rec(null));
    const cache = new CachedApiKeyLookup(src, 5_000, () => now);
    expect((await cache.findApiKey("k"))?.tenantId).toBe("t");
    expect((await cache.findApiKey("k"))?.tenantId).toBe("t");
    expect(src.reads).toBe(1);
    src.rows.set("k", rec(10));
    now = 4_999;
    expect((await cache.findApiKey("k"))?.revokedAt).toBeNull();
    now = 5_000;
    expect((await cache.findApiKey("k"))?.revokedAt).toBe(10);
    expect(src.reads).toBe(2);
  });

  it("never caches a miss, so a key created elsewhere works at once", async () => {
    const src = source();
    const cache = new CachedApiKeyLookup(src, 5_000, () => 0);
    expect(await cache.findApiKey("k")).toBeUndefined();
    src.rows.set("k", rec(null));
    expect((await cache.findApiKey("k"))?.id).toBe("k");
  });

  it("forgets on request, and a ttl of 0 always reads", async () => {
    const src = source();
    src.rows.set("k", rec(null));
    const cache = new CachedApiKeyLookup(src, 5_000, () => 0);
    await cache.findApiKey("k");
    cache.forget("k");
    await cache.findApiKey("k");
    expect(src.reads).toBe(2);
    const off = new CachedApiKeyLookup(src, 0, () => 0);
    await off.findApiKey("k");
    await off.findApiKey("k");
    expect(src.reads).toBe(4);
  });

  it("does not cache a read that was in flight when the key was forgotten (a revocation racing a lookup)", async () => {
    const rows = new Map<string, ApiKeyRecord>([["k", rec(null)]]);
    let reads = 0;
    let release: (() => void) | undefined;
    const slow = {
      async findApiKey(id: string) {
        reads++;
        const row = rows.get(id);
        // The first read holds its (pre-revocation) row until released.
        if (reads === 1) await new Promise<void>((r) => (release = r));
        return row;
      },
    };
    const cache = new CachedApiKeyLookup(slow, 5_000, () => 0);
    const inFlight = cache.findApiKey("k");
    await new Promise((r) => setImmediate(r));
    // The revocation commits and reaches this replica while the read waits.
    rows.set("k", rec(10));
    cache.forget("k");
    release!();
    expect((await inFlight)?.revokedAt).toBeNull();
    // The stale row was not kept: the next lookup reads the revocation.
    expect((await cache.findApiKey("k"))?.revokedAt).toBe(10);
    expect(reads).toBe(2);
  });
});
