import { describe, expect, it } from 'vitest';
import { thrownBy } from '../../test/support/caught.js';
import { isRayfleetError } from '../errors.js';
import { formatSize, parseSize } from './sizes.js';

describe('parseSize', () => {
  it.each([
    [0, 0],
    [1024, 1024],
    [1.9, 1],
    ['1048576', 1048576],
    ['1GB', 1e9],
    ['512MB', 512e6],
    ['1KB', 1000],
    ['1GiB', 2 ** 30],
    ['512MiB', 512 * 2 ** 20],
    ['1KiB', 1024],
    ['1K', 1024],
    ['1M', 2 ** 20],
    ['1G', 2 ** 30],
    ['1g', 2 ** 30],
    ['1gib', 2 ** 30],
    ['1.5GiB', 1.5 * 2 ** 30],
    ['1 GiB', 2 ** 30],
    [' 2 gb ', 2e9],
    ['100b', 100],
  ])('reads %j as %d bytes', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it.each(['', 'lots', '1XB', '-1GB', '1 G B', 'GB', '1.GB', '1e9', '1,5GB'])('refuses %j with SPEC_INVALID naming the text', (input) => {
    const error = thrownBy(() => parseSize(input));
    expect(isRayfleetError(error, 'SPEC_INVALID')).toBe(true);
    expect((error as Error).message).toContain(`"${input}" is not a size`);
  });

  it.each([-5, Number.NaN, Number.POSITIVE_INFINITY])('refuses the number %d', (input) => {
    const error = thrownBy(() => parseSize(input));
    expect(isRayfleetError(error, 'SPEC_INVALID')).toBe(true);
    expect((error as Error).message).toBe(`size ${input} must be a number of bytes >= 0`);
  });
});

describe('formatSize', () => {
  it.each([
    [12, '12 B'],
    [2048, '2 KiB'],
    [1e8, '95.4 MiB'],
    [2 ** 30, '1 GiB'],
    [1.5 * 2 ** 30, '1.5 GiB'],
    [2 ** 41, '2 TiB'],
  ])('shows %d bytes as %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
});
