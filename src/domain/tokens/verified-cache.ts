/**
 * A bounded map from token string to what verifying it produced. Opening a
 * token costs a cipher setup and a protobuf decode (microseconds); services
 * verify the same token on every message, so the result is kept. Only tokens
 * whose tag verified are ever stored, so the cache cannot be filled with
 * forgeries; per-call checks (expiry, tenant, revocation) still run on hits.
 * Eviction is first-in-first-out, which needs no bookkeeping on a hit.
 */
export class VerifiedCache<V> {
  private readonly entries = new Map<string, V>();
  private generation = -1;

  constructor(private readonly max: number) {}

  /** The cached value, if `generation` (of the keyring) has not moved since. */
  get(token: string, generation: number): V | undefined {
    if (generation !== this.generation) {
      this.entries.clear();
      this.generation = generation;
      return undefined;
    }
    return this.entries.get(token);
  }

  /** Remembers a verified token, evicting the oldest entry when full. */
  set(token: string, value: V): void {
    if (this.max <= 0) return;
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(token, value);
  }

  /** Number of cached tokens. */
  get size(): number {
    return this.entries.size;
  }
}
