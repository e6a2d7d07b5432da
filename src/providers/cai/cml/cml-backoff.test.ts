import { describe, expect, it } from 'vitest';
import { backoffDelayMs, parseRetryAfterMs } from './cml-backoff.js';

const options = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1_000 };

describe('backoffDelayMs', () => {
  it('draws uniformly below a ceiling that doubles per attempt and stops at the maximum', () => {
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(attempt, options, undefined, () => 1))).toEqual([100, 200, 400, 800, 1_000]);
    expect(backoffDelayMs(3, options, undefined, () => 0)).toBe(0);
    expect(backoffDelayMs(3, options, undefined, () => 0.5)).toBe(200);
  });

  it("waits at least the server's Retry-After, still capped", () => {
    expect(backoffDelayMs(1, options, 600, () => 0)).toBe(600);
    expect(backoffDelayMs(1, options, 5_000, () => 0)).toBe(1_000);
    expect(parseRetryAfterMs('2')).toBe(2_000);
    expect(parseRetryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT')).toBeUndefined();
    expect(parseRetryAfterMs(null)).toBeUndefined();
  });
});
