import type { ApiKeyLookup, ApiKeyRecord } from "./api-keys.js";

/**
 * Remembers API key records for a short time. Every backend call looks its
 * key up; the database read costs more than the rest of a small call.
 * Only keys that exist are cached, so a key created by the CLI works at
 * once; a key revoked by the CLI (another process) stops working within
 * `ttlMs`. A ttl of 0 disables the cache.
 */
export class CachedApiKeyLookup implements ApiKeyLookup {
  private readonly entries = new Map<string, { record: ApiKeyRecord; until: number }>();
  /** Bumped by every forget: a read that overlapped one may be older than it. */
  private forgets = 0;

  constructor(
    private readonly inner: ApiKeyLookup,
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
    private readonly max = 10_000,
  ) {}

  async findApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    if (this.ttlMs <= 0) return await this.inner.findApiKey(id);
    const now = this.clock();
    const hit = this.entries.get(id);
    if (hit && hit.until > now) return hit.record;
    const forgetsBefore = this.forgets;
    const record = await this.inner.findApiKey(id);
    // A revocation applied while this read was in flight: the row it read may
    // predate it, and caching it would revive the key for a whole ttl.
    if (this.forgets !== forgetsBefore) return record;
    if (record === undefined) {
      this.entries.delete(id);
      return undefined;
    }
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(id, { record, until: now + this.ttlMs });
    return record;
  }

  /** Forgets a key at once (after a revocation in this process). */
  forget(id: string): void {
    this.forgets++;
    this.entries.delete(id);
  }
}
