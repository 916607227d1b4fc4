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
    findApiKey(id: string) {
      reads++;
      return rows.get(id);
    },
  };
}

describe("CachedApiKeyLookup", () => {
  const rec = (revokedAt: number | null): ApiKeyRecord => ({ id: "k", tenantId: "t", hash: new Uint8Array(32), revokedAt });

  it("serves a known key from memory until the ttl passes, then reads again", () => {
    let now = 0;
    const src = source();
    src.rows.set("k", rec(null));
    const cache = new CachedApiKeyLookup(src, 5_000, () => now);
    expect(cache.findApiKey("k")?.tenantId).toBe("t");
    expect(cache.findApiKey("k")?.tenantId).toBe("t");
    expect(src.reads).toBe(1);
    src.rows.set("k", rec(10));
    now = 4_999;
    expect(cache.findApiKey("k")?.revokedAt).toBeNull();
    now = 5_000;
    expect(cache.findApiKey("k")?.revokedAt).toBe(10);
    expect(src.reads).toBe(2);
  });

  it("never caches a miss, so a key created elsewhere works at once", () => {
    const src = source();
    const cache = new CachedApiKeyLookup(src, 5_000, () => 0);
    expect(cache.findApiKey("k")).toBeUndefined();
    src.rows.set("k", rec(null));
    expect(cache.findApiKey("k")?.id).toBe("k");
  });

  it("forgets on request, and a ttl of 0 always reads", () => {
    const src = source();
    src.rows.set("k", rec(null));
    const cache = new CachedApiKeyLookup(src, 5_000, () => 0);
    cache.findApiKey("k");
    cache.forget("k");
    cache.findApiKey("k");
    expect(src.reads).toBe(2);
    const off = new CachedApiKeyLookup(src, 0, () => 0);
    off.findApiKey("k");
    off.findApiKey("k");
    expect(src.reads).toBe(4);
  });
});
