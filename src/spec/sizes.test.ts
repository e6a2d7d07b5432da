import { describe, expect, it } from 'vitest';
import { isRayfleetError } from '../errors.js';
import { formatSize, parseSize } from './sizes.js';

describe('parseSize', () => {
  it.each([
    [1024, 1024],
    ['1048576', 1048576],
    ['1GB', 1e9],
    ['512MB', 512e6],
    ['1GiB', 2 ** 30],
    ['512MiB', 512 * 2 ** 20],
    ['1g', 2 ** 30],
    ['100M', 100 * 2 ** 20],
    ['1.5GiB', 1.5 * 2 ** 30],
    [' 2 gb ', 2e9],
    ['64KiB', 65536],
  ])('%j is %d bytes', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it.each(['', 'lots', '1XB', '-1GB', '1 G B', 'GB'])('rejects %j with SPEC_INVALID naming it', (input) => {
    expect(() => parseSize(input)).toThrow(input === '' ? /"" is not a size/ : new RegExp(`"${input}" is not a size`));
    try {
      parseSize(input);
    } catch (error) {
      expect(isRayfleetError(error, 'SPEC_INVALID')).toBe(true);
    }
  });

  it('rejects negative numbers', () => {
    expect(() => parseSize(-5)).toThrow(/bytes >= 0/);
  });

  it('formats sizes for people', () => {
    expect(formatSize(2 ** 30)).toBe('1 GiB');
    expect(formatSize(1e8)).toBe('95.4 MiB');
    expect(formatSize(12)).toBe('12 B');
  });
});
