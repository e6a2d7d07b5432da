import { describe, expect, it } from 'vitest';
import type { NodeResources } from '../node-provider.js';
import { placeNode, roomFor, type HostBin, type PlacedNode } from './host-placement.js';

const GIB = 2 ** 30;
const shape = (cpus: number, gpus = 0, objectStoreMemoryBytes = 0): NodeResources => ({ cpus, gpus, objectStoreMemoryBytes, custom: {} });
const host = (address: string, cpus: number, gpus = 0, memoryBytes?: number): HostBin => ({ address, cpus, gpus, memoryBytes, usable: true });

describe('placeNode: hosts as bins', () => {
  const hosts = [host('a', 4), host('b', 2), host('gpu', 8, 1)];

  it('spreads nodes: the host with the most CPUs left, CPU hosts before GPU hosts for CPU work', () => {
    expect(placeNode(shape(1), hosts, [])).toBe('a');
    expect(placeNode(shape(1), hosts, [{ host: 'a', resources: shape(3) }])).toBe('b');
    expect(placeNode(shape(2), [host('x', 2), host('y', 2)], [{ host: 'x', resources: shape(1) }])).toBe('y');
    // Only the GPU host has 6 CPUs left for it.
    expect(placeNode(shape(6), hosts, [])).toBe('gpu');
    // CPU work goes to the GPU host only when no CPU host has room.
    expect(placeNode(shape(1), hosts, [{ host: 'a', resources: shape(4) }, { host: 'b', resources: shape(2) }])).toBe('gpu');
  });

  it('places GPU shapes only on hosts with GPUs left, and never oversubscribes a host', () => {
    expect(placeNode(shape(1, 1), hosts, [])).toBe('gpu');
    expect(placeNode(shape(1, 1), hosts, [{ host: 'gpu', resources: shape(1, 1) }])).toBeUndefined();
    const full: PlacedNode[] = [
      { host: 'a', resources: shape(4) },
      { host: 'b', resources: shape(2) },
      { host: 'gpu', resources: shape(8) },
    ];
    expect(placeNode(shape(0.5), hosts, full)).toBeUndefined();
  });

  it('counts memory where the host states it: object stores add up', () => {
    const small = [host('m', 8, 0, 3 * GIB)];
    const placed: PlacedNode[] = [{ host: 'm', resources: shape(1, 0, 2 * GIB) }];
    expect(placeNode(shape(1, 0, GIB), small, placed)).toBe('m');
    expect(placeNode(shape(1, 0, 2 * GIB), small, placed)).toBeUndefined();
  });

  it('skips a host that is not usable (unreachable, or backing off)', () => {
    expect(placeNode(shape(2), [{ ...host('b', 2), usable: false }, host('a', 4)], [])).toBe('a');
  });

  it('fits fractional CPUs exactly', () => {
    const placed: PlacedNode[] = [{ host: 'h', resources: shape(0.5) }, { host: 'h', resources: shape(0.25) }];
    expect(placeNode(shape(0.25), [host('h', 1)], placed)).toBe('h');
  });
});

describe('roomFor', () => {
  it('is how many more fit, one after another, up to the limit asked', () => {
    const hosts = [host('a', 4), host('b', 2), host('gpu', 8, 1)];
    expect(roomFor(shape(2), hosts, [], 100)).toBe(7);
    expect(roomFor(shape(2), hosts, [], 3)).toBe(3);
    expect(roomFor(shape(1, 1), hosts, [], 100)).toBe(1);
    expect(roomFor(shape(16), hosts, [], 100)).toBe(0);
  });
});
