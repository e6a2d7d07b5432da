// How long to wait before the next attempt of a CML API call: exponential back-off with full jitter.

export interface RetryOptions {
  /** Attempts per call, the first included; 5 when absent. */
  maxAttempts?: number;
  /** The cap of the first wait; doubled for every later one. 250 ms when absent. */
  baseDelayMs?: number;
  /** No wait is longer than this. 10 s when absent. */
  maxDelayMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = { maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 10_000 };

/**
 * The wait after failed attempt `attempt` (1-based): uniform in [0, min(max, base·2^(attempt−1))], so that many
 * clients throttled at once do not come back in step. A server's Retry-After is a floor, still capped at max.
 */
export function backoffDelayMs(attempt: number, options: Required<RetryOptions>, retryAfterMs?: number, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  const jittered = random() * ceiling;
  return Math.min(options.maxDelayMs, Math.max(jittered, retryAfterMs ?? 0));
}

/** Retry-After in milliseconds, when it holds a number of seconds. */
export function parseRetryAfterMs(header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header.trim())) return undefined;
  return Number(header.trim()) * 1000;
}
