import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './durations.js';

describe('parseDuration', () => {
  it.each([
    [120, 120_000],
    ['120', 120_000],
    ['0.5', 500],
    ['500ms', 500],
    ['1s', 1000],
    ['60s', 60_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['0s', 0],
  ])('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['', 'soon', '5x', '1m 30s', 's', '-1s'])('rejects %j', (input) => {
    expect(() => parseDuration(input)).toThrow(/is not a duration/);
  });

  it('formats durations for people', () => {
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(65_000)).toBe('1m5s');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(42_000)).toBe('42s');
  });
});
