/** Exponential backoff with full jitter for cell retries (SPEC §4). */

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000 };

/**
 * Delay before retry number `retry` (1 for the first retry): uniform in [cap/2, cap] where
 * cap = min(maxMs, baseMs · 2^(retry−1)). Half-jitter keeps the growth visible while spreading
 * retries of concurrent runs. `random` is injectable for tests.
 */
export function backoffDelayMs(retry: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  if (retry < 1) return 0;
  const cap = Math.min(options.maxMs, options.baseMs * 2 ** (retry - 1));
  return Math.round(cap / 2 + random() * (cap / 2));
}
