import { describe, expect, it } from 'vitest';
import { thrownBy } from '../../test/support/caught.js';
import { isRayfleetError } from '../errors.js';
import { formatDuration, parseDuration } from './durations.js';

describe('parseDuration', () => {
  it.each([
    [0, 0],
    [120, 120_000],
    [0.5, 500],
    ['120', 120_000],
    ['0.5', 500],
    ['500ms', 500],
    ['1s', 1000],
    ['1.5s', 1500],
    ['60s', 60_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h30m', 5_400_000],
    [' 5m ', 300_000],
    ['0s', 0],
  ])('reads %j as %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['', 'soon', '5x', '1d', '1m 30s', 's', '-1s', '1.s'])('refuses %j with SPEC_INVALID naming the text', (input) => {
    const error = thrownBy(() => parseDuration(input));
    expect(isRayfleetError(error, 'SPEC_INVALID')).toBe(true);
    expect((error as Error).message).toContain(`"${input}" is not a duration`);
  });

  it.each([-1, Number.NaN])('refuses the number %d', (input) => {
    const error = thrownBy(() => parseDuration(input));
    expect(isRayfleetError(error, 'SPEC_INVALID')).toBe(true);
    expect((error as Error).message).toBe(`duration ${input} must be seconds >= 0`);
  });
});

describe('formatDuration', () => {
  it.each([
    [250, '250ms'],
    [42_000, '42s'],
    [60_000, '1m'],
    [65_000, '1m5s'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
    [3_601_000, '1h1s'],
    [5_405_000, '1h30m5s'],
  ])('shows %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
