/** Limits of {@link RestartPolicy}. */
export interface RestartLimits {
  /** Deaths are counted over this sliding window. */
  readonly windowMs: number;
  /** More deaths than this within the window: give up. */
  readonly maxDeaths: number;
  /** Delay before the second replacement within the window; doubles from there. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** Six deaths within a minute (of any workers) end the primary. */
export const DEFAULT_RESTART_LIMITS: RestartLimits = {
  windowMs: 60_000,
  maxDeaths: 5,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
};

/**
 * When to replace a worker that died: at once the first time, then with a
 * doubling delay while deaths keep coming, and not at all past the bound —
 * a worker that dies on every start (bad disk, broken build) must end the
 * primary with an error, not spin forever.
 */
export class RestartPolicy {
  private deaths: number[] = [];

  constructor(private readonly limits: RestartLimits = DEFAULT_RESTART_LIMITS) {}

  /** Records a death at `now`: the delay before its replacement, or undefined to give up. */
  onDeath(now: number): number | undefined {
    this.deaths = this.deaths.filter((t) => now - t < this.limits.windowMs);
    this.deaths.push(now);
    const n = this.deaths.length;
    if (n > this.limits.maxDeaths) return undefined;
    if (n === 1) return 0;
    return Math.min(this.limits.baseDelayMs * 2 ** (n - 2), this.limits.maxDelayMs);
  }

  /** Deaths counted in the current window (for the log). */
  get recentDeaths(): number {
    return this.deaths.length;
  }
}
