import { LRUCache } from "lru-cache";

/**
 * A bounded map from token string to what verifying it produced. Opening a
 * token costs a cipher setup and a protobuf decode (microseconds); services
 * verify the same token on every message, so the result is kept. Only tokens
 * whose tag verified are ever stored, so the cache cannot be filled with
 * forgeries; per-call checks (expiry, tenant, revocation) still run on hits.
 * lru-cache keeps it bounded, dropping the least recently used token first
 * (a hit costs a few nanoseconds of bookkeeping, nothing allocated); no ttl,
 * as expiry is checked per call anyway.
 */
export class VerifiedCache<V> {
  /** Undefined when the size is 0: caching off. */
  private readonly entries: LRUCache<string, NonNullable<V>> | undefined;
  private generation = -1;

  constructor(max: number) {
    this.entries = max > 0 ? new LRUCache<string, NonNullable<V>>({ max }) : undefined;
  }

  /** The cached value, if `generation` (of the keyring) has not moved since. */
  get(token: string, generation: number): V | undefined {
    if (generation !== this.generation) {
      this.entries?.clear();
      this.generation = generation;
      return undefined;
    }
    return this.entries?.get(token);
  }

  /** Remembers a verified token, dropping the least recently used one when full. */
  set(token: string, value: NonNullable<V>): void {
    this.entries?.set(token, value);
  }

  /** Number of cached tokens. */
  get size(): number {
    return this.entries?.size ?? 0;
  }
}
