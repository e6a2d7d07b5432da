import { describe, expect, it } from 'vitest';
import { thrownBy } from '../../test/support/caught.js';
import type { RayfleetError } from '../errors.js';
import { assertNodeName, headName, isNodeName, lowestFreeIndex, nextFreeIndices, workerName } from './node-names.js';

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

describe('assertNodeName', () => {
  it.each(['ray-head', 'ray-worker-1', 'ray-gpu-12', 'my-ray-big-gpu-3', 'r-w-999999'])('takes %s', (name) => {
    expect(isNodeName(name)).toBe(true);
    expect(() => assertNodeName(name)).not.toThrow();
  });

  it.each([
    '../../../../x',
    '../../../../etc/passwd',
    'ray-worker-1/../../x',
    'ray-worker-../1',
    '/etc/passwd',
    'ray-worker-1\0',
    'ray-worker-1\n',
    'ray-worker-0',
    'ray-worker-01',
    'ray-worker-1234567',
    'ray-worker',
    'ray-',
    'Ray-head',
    'ray_head',
    'ray-head.log',
    'ray-worker-1.json',
    '',
    '.',
    `${'a'.repeat(32)}-head`,
  ])('refuses %j with NODE_NOT_FOUND before any path is built', (name) => {
    expect(isNodeName(name)).toBe(false);
    const error = thrownBy(() => assertNodeName(name, 'ray'));
    expect(error).toMatchObject({ code: 'NODE_NOT_FOUND', exitCode: 3 });
    expect((error as RayfleetError).message).toBe(`${JSON.stringify(name)} is not the name of a node of cluster ray`);
    expect((error as RayfleetError).details).toContain('ray-head, ray-worker-1');
  });

  it('given the cluster, refuses the names of another cluster and a group called head', () => {
    expect(isNodeName('ray-worker-1', 'ray')).toBe(true);
    expect(isNodeName('big-ray-worker-1', 'big-ray')).toBe(true);
    expect(isNodeName('big-ray-head', 'big-ray')).toBe(true);
    expect(isNodeName('other-worker-1', 'ray')).toBe(false);
    expect(isNodeName('ray-head', 'big-ray')).toBe(false);
    expect(isNodeName('ray-head-1', 'ray')).toBe(false);
    expect(isNodeName('ray-head-1')).toBe(true);
  });
});
