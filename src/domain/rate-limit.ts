/**
 * Token buckets by key, in memory: `ratePerSecond` tokens flow in, at most
 * `burst` are held. Used to bound calls per API key and logins (see
 * LoginGuard). Idle full buckets are dropped so memory stays bounded.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly clock: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  /** True when the limiter is switched off (rate 0). */
  get disabled(): boolean {
    return this.ratePerSecond <= 0;
  }

  /** Milliseconds until `key` has a token again; 0 when it has one now. */
  waitMs(key: string): number {
    if (this.disabled) return 0;
    const b = this.refill(key);
    return b.tokens >= 1 ? 0 : Math.ceil(((1 - b.tokens) / this.ratePerSecond) * 1000);
  }

  /**
   * Takes one token for `key`; returns 0 when it was available, else the
   * milliseconds to wait (and takes nothing).
   */
  take(key: string): number {
    const wait = this.waitMs(key);
    if (wait === 0 && !this.disabled) this.refill(key).tokens -= 1;
    return wait;
  }

  /**
   * Gives back one token taken by {@link take}, never above the burst: a
   * caller that reserves before slow work and learns it should not have been
   * charged (a login that succeeded) refunds it.
   */
  refund(key: string): void {
    if (this.disabled) return;
    const b = this.refill(key);
    b.tokens = Math.min(this.burst, b.tokens + 1);
  }

  private refill(key: string): { tokens: number; at: number } {
    const now = this.clock();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
      return b;
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSecond);
    b.at = now;
    return b;
  }

  /** Drops buckets that have refilled completely; they hold no state. */
  private sweep(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.ratePerSecond >= this.burst) this.buckets.delete(k);
    }
    if (this.buckets.size >= this.maxKeys) this.buckets.clear();
  }
}

/**
 * A token bucket per key kept in the shared store, for limits that must
 * hold across replicas. `take` reads and charges in one write transaction
 * (writers are serialised), so concurrent callers on any replica are
 * counted one by one, before the work they guard starts.
 */
export interface SharedRateLimiter {
  /** True when switched off (rate 0). */
  readonly disabled: boolean;
  /** Takes one token for `key`: 0 when it had one, else the ms to wait (nothing taken). */
  take(key: string): Promise<number>;
  /** Gives back one token taken by {@link take}, never above the burst. */
  refund(key: string): Promise<void>;
}
