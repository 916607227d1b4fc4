import { LRUCache } from "lru-cache";
import {
  authenticateApiKey,
  hashApiKey,
  type ApiKeyLookup,
  type ApiKeyPrincipal,
  type ApiKeyRecord,
} from "./api-keys.js";

/** Authenticates a presented API key: its principal, or undefined when it does not open. */
export interface ApiKeyAuthenticator {
  authenticate(presented: string): Promise<ApiKeyPrincipal | undefined>;
  /** The principal `presented` opened within its ttl, without waiting: undefined means ask {@link authenticate}. */
  remembered?(presented: string): ApiKeyPrincipal | undefined;
}

/**
 * Remembers API key records for a short time. Every backend call looks its
 * key up; the database read costs more than the rest of a small call.
 * Only keys that exist are cached, so a key created by the CLI works at
 * once; a key revoked by the CLI (another process) stops working within
 * `ttlMs`. A ttl of 0 disables the cache.
 *
 * It also remembers, for the same time, which principal a presented key
 * opened, so a hot caller costs no hash per call (see {@link authenticate}).
 *
 * Both memories are lru-caches of `max` entries (the least recently used
 * goes first). Expiry stays here, an `until` per entry on the injected
 * clock, rather than lru-cache's ttl: a memo entry ends with the record it
 * was checked against, and lru-cache reads its own clock.
 */
export class CachedApiKeyLookup implements ApiKeyLookup, ApiKeyAuthenticator {
  private readonly entries: LRUCache<string, { record: ApiKeyRecord; until: number }>;
  /**
   * Presented key → the principal it opened. Keyed by the presented string
   * itself, on purpose: any keyed digest of it (HMAC, BLAKE2) is again a hash
   * per call, which is the cost this memo exists to avoid. Keeping the string
   * exposes nothing new — the same secret sits in every request's headers in
   * this heap — as long as it stays in memory only: the map is never logged,
   * serialised or iterated out, holds only keys that opened (a stranger
   * cannot fill it with guesses), and is bounded by `max`. A lookup compares
   * strings only after V8's full-string hashes match, so it leaks no prefix
   * timing the constant-time hash comparison would have hidden.
   */
  private readonly opened: LRUCache<string, { principal: ApiKeyPrincipal; until: number }>;
  /** Bumped by every forget: a read that overlapped one may be older than it. */
  private forgets = 0;

  constructor(
    private readonly inner: ApiKeyLookup,
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
    max = 10_000,
    /** The key hash; a seam so tests can count what a call costs. */
    private readonly hash: (key: string) => Uint8Array = hashApiKey,
  ) {
    this.entries = new LRUCache({ max });
    this.opened = new LRUCache({ max });
  }

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
    this.entries.set(id, { record, until: now + this.ttlMs });
    return record;
  }

  /**
   * A hot key: one map lookup, no promise (issue 21: every backend call
   * asks). The same memo and ttl as {@link authenticate}, which a miss goes on to.
   */
  remembered(presented: string): ApiKeyPrincipal | undefined {
    if (this.ttlMs <= 0) return undefined;
    const hit = this.opened.get(presented);
    return hit !== undefined && hit.until > this.clock() ? hit.principal : undefined;
  }

  /**
   * The principal behind `presented`: remembered when this exact key opened
   * within the ttl, else checked in full ({@link authenticateApiKey}: lookup
   * and constant-time hash comparison) and remembered if it opens. A memo
   * entry lives no longer than the record it was checked against, so a
   * missed revocation is still bounded by one ttl.
   */
  async authenticate(presented: string): Promise<ApiKeyPrincipal | undefined> {
    if (this.ttlMs <= 0) return await authenticateApiKey(this, presented, this.hash);
    const now = this.clock();
    const hit = this.opened.get(presented);
    if (hit !== undefined) {
      if (hit.until > now) return hit.principal;
      this.opened.delete(presented);
    }
    const forgetsBefore = this.forgets;
    const principal = await authenticateApiKey(this, presented, this.hash);
    // Same race as in findApiKey: a key revoked while it was being checked
    // must not be remembered as open.
    if (principal === undefined || this.forgets !== forgetsBefore) return principal;
    const until = Math.min(now + this.ttlMs, this.entries.get(principal.keyId)?.until ?? now + this.ttlMs);
    this.opened.set(presented, { principal, until });
    return principal;
  }

  /**
   * Forgets a key at once (its record and every presented form it opened
   * with), after a revocation reached this process through the change feed.
   */
  forget(id: string): void {
    this.forgets++;
    this.entries.delete(id);
    // Rare (revocations) and bounded by `max`: a scan beats a second index.
    // Collected first: the cache is not changed while it is walked.
    const drop: string[] = [];
    for (const [presented, e] of this.opened.entries()) if (e.principal.keyId === id) drop.push(presented);
    for (const presented of drop) this.opened.delete(presented);
  }
}
