/**
 * When a failed delivery is tried again: exponential backoff with full
 * jitter (a uniformly random wait between 0 and base·2^(attempt−1), capped),
 * so receivers coming back up are not hit by every sender at once. A
 * delivery that keeps failing for `retryMs` after its first attempt is
 * given up, and its endpoint disabled.
 */
export interface RetryPolicy {
  /** First backoff ceiling (ms). */
  readonly baseMs: number;
  /** No single wait exceeds this (ms). */
  readonly capMs: number;
  /** Give up once this long has passed since the first attempt (ms). */
  readonly retryMs: number;
}

/** What to do after a failed attempt. */
export type RetryDecision = { readonly giveUp: true } | { readonly giveUp: false; readonly nextAttemptAt: number };

/**
 * The decision after attempt number `attempts` (1 for the first) failed at
 * `now`, the first attempt having been made at `firstAttemptAt`.
 */
export function afterFailure(
  policy: RetryPolicy,
  attempts: number,
  firstAttemptAt: number,
  now: number,
  random: () => number = Math.random,
): RetryDecision {
  if (now - firstAttemptAt >= policy.retryMs) return { giveUp: true };
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempts - 1, 40));
  // Never wait past the end of the retry period: the last attempt lands in it.
  const wait = Math.min(Math.floor(random() * ceiling), firstAttemptAt + policy.retryMs - now);
  return { giveUp: false, nextAttemptAt: now + Math.max(0, wait) };
}
