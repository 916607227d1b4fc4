import { describe, expect, it } from "vitest";
import { CachedApiKeyLookup } from "../../src/domain/auth/api-key-cache.js";
import { hashApiKey, type ApiKeyRecord } from "../../src/domain/auth/api-keys.js";

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
  const rec = (revokedAt: number | null): ApiKeyRecord => ({
    id: "k",
    tenantId: "t",
    hash: new Uint8Array(32),
    revokedAt,
  });

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

describe("CachedApiKeyLookup.authenticate (a presented key remembered)", () => {
  const KEY = `rgk_0123456789abcdef_${"A".repeat(43)}`;
  /** A store holding KEY, and a hash that counts its calls. */
  function setup(ttlMs = 5_000) {
    let now = 0;
    let hashes = 0;
    const counting = (key: string) => {
      hashes++;
      return hashApiKey(key);
    };
    const src = source();
    src.rows.set("0123456789abcdef", { id: "0123456789abcdef", tenantId: "t", hash: hashApiKey(KEY), revokedAt: null });
    const cache = new CachedApiKeyLookup(src, ttlMs, () => now, 10_000, counting);
    return {
      src,
      cache,
      get hashes() {
        return hashes;
      },
      at(ms: number) {
        now = ms;
      },
    };
  }

  it("costs no hash and no read for a key that opened within the ttl", async () => {
    const s = setup();
    expect(await s.cache.authenticate(KEY)).toEqual({ tenantId: "t", keyId: "0123456789abcdef" });
    expect(s.hashes).toBe(1);
    for (let i = 0; i < 5; i++) expect((await s.cache.authenticate(KEY))?.tenantId).toBe("t");
    expect({ hashes: s.hashes, reads: s.src.reads }).toEqual({ hashes: 1, reads: 1 });
    // After the ttl it is checked in full again (and sees the revoked row).
    s.src.rows.set("0123456789abcdef", { ...s.src.rows.get("0123456789abcdef")!, revokedAt: 1 });
    s.at(5_000);
    expect(await s.cache.authenticate(KEY)).toBeUndefined();
    expect({ hashes: s.hashes, reads: s.src.reads }).toEqual({ hashes: 2, reads: 2 });
  });

  it("never remembers a key that does not open: every wrong secret is hashed and compared", async () => {
    const s = setup();
    const wrong = `rgk_0123456789abcdef_${"B".repeat(43)}`;
    expect(await s.cache.authenticate(wrong)).toBeUndefined();
    expect(await s.cache.authenticate(wrong)).toBeUndefined();
    expect(s.hashes).toBe(2);
  });

  it("a forget (a revocation from the feed) drops the remembered key at once", async () => {
    const s = setup();
    await s.cache.authenticate(KEY);
    s.src.rows.set("0123456789abcdef", { ...s.src.rows.get("0123456789abcdef")!, revokedAt: 1 });
    s.cache.forget("0123456789abcdef");
    expect(await s.cache.authenticate(KEY)).toBeUndefined();
    expect(s.hashes).toBe(2);
  });

  it("does not remember a key whose check was in flight when it was forgotten", async () => {
    const rows = new Map<string, ApiKeyRecord>([
      ["0123456789abcdef", { id: "0123456789abcdef", tenantId: "t", hash: hashApiKey(KEY), revokedAt: null }],
    ]);
    let release: (() => void) | undefined;
    let reads = 0;
    const slow = {
      async findApiKey(id: string) {
        reads++;
        const row = rows.get(id);
        if (reads === 1) await new Promise<void>((r) => (release = r));
        return row;
      },
    };
    const cache = new CachedApiKeyLookup(slow, 5_000, () => 0);
    const inFlight = cache.authenticate(KEY);
    await new Promise((r) => setImmediate(r));
    rows.set("0123456789abcdef", { ...rows.get("0123456789abcdef")!, revokedAt: 1 });
    cache.forget("0123456789abcdef");
    release!();
    expect((await inFlight)?.keyId).toBe("0123456789abcdef"); // checked against the pre-revocation row
    expect(await cache.authenticate(KEY)).toBeUndefined();
  });

  it("a memo entry lives no longer than the record it was checked against", async () => {
    const s = setup();
    expect(await s.cache.findApiKey("0123456789abcdef")).toBeDefined(); // record cached at 0, until 5,000
    s.at(4_000);
    await s.cache.authenticate(KEY); // record hit; memo until 5,000, not 9,000
    s.src.rows.set("0123456789abcdef", { ...s.src.rows.get("0123456789abcdef")!, revokedAt: 1 });
    s.at(5_000);
    expect(await s.cache.authenticate(KEY)).toBeUndefined();
  });

  it("a ttl of 0 remembers nothing", async () => {
    const s = setup(0);
    await s.cache.authenticate(KEY);
    await s.cache.authenticate(KEY);
    expect({ hashes: s.hashes, reads: s.src.reads }).toEqual({ hashes: 2, reads: 2 });
  });
});
