import { describe, expect, it } from 'vitest';
import { headName, lowestFreeIndex, nextFreeIndices, workerName } from './node-names.js';

describe('node names', () => {
  it('keeps the old toolkit names for cluster ray', () => {
    expect(headName('ray')).toBe('ray-head');
    expect(workerName('ray', 'worker', 3)).toBe('ray-worker-3');
    expect(workerName('ray', 'gpu', 1)).toBe('ray-gpu-1');
  });

  it.each([
    [[], 1],
    [[1, 2], 3],
    [[1, 3], 2],
    [[2, 3], 1],
    [[1, 2, 4, 5], 3],
  ])('lowest free index of %j is %i', (taken, expected) => {
    expect(lowestFreeIndex(taken)).toBe(expected);
  });

  it('hands out several indices filling gaps first', () => {
    expect(nextFreeIndices([1, 3, 6], 4)).toEqual([2, 4, 5, 7]);
    expect(nextFreeIndices([], 0)).toEqual([]);
  });
});
