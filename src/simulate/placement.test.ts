// Placement: fit with Ray's fractional tolerance, the hybrid choice, and each placement-group strategy all or nothing.
import { describe, expect, it } from 'vitest';
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import { fitsIn, pickNode, placeGroup, utilization, type PlacementNode } from './placement.js';

function node(name: string, total: ResourceShape, used: ResourceShape = {}): PlacementNode & { name: string } {
  const available = { ...total };
  for (const [resource, amount] of Object.entries(used)) available[resource] = (available[resource] ?? 0) - amount;
  return { name, total, available, hasGpu: (total.GPU ?? 0) > 0 };
}

const names = (nodes: Array<{ name: string }> | undefined): string[] | undefined => nodes?.map((entry) => entry.name);

describe('placement', () => {
  it('fits fractional amounts that add up with rounding error, and never a resource the node lacks', () => {
    expect(fitsIn({ CPU: 1 }, { CPU: 0.1 * 3 + 0.7 })).toBe(true);
    expect(fitsIn({ CPU: 1, TPU: 1 }, { CPU: 4 })).toBe(false);
    expect(fitsIn({ CPU: 1, TPU: 0 }, { CPU: 4 })).toBe(true);
    expect(utilization({ CPU: 4, GPU: 1, 'node:10.0.0.1': 1 }, { CPU: 3, GPU: 0, 'node:10.0.0.1': 1 })).toBe(1);
  });

  it('takes GPU nodes for GPU work only, or when nothing else can take the work', () => {
    const gpu = node('gpu', { CPU: 8, GPU: 1 });
    const small = node('small', { CPU: 1 }, { CPU: 1 });
    expect(pickNode([gpu, small], { CPU: 1 }, 'DEFAULT')?.name).toBe('gpu');
    const free = node('free', { CPU: 1 });
    expect(pickNode([gpu, free], { CPU: 1 }, 'DEFAULT')?.name).toBe('free');
    expect(pickNode([free, gpu], { CPU: 1, GPU: 1 }, 'DEFAULT')?.name).toBe('gpu');
    expect(pickNode([free], { CPU: 2 }, 'DEFAULT')).toBeUndefined();
  });

  it('places STRICT_SPREAD bundles each on its own node, or not at all', () => {
    const nodes = [node('a', { CPU: 4 }), node('b', { CPU: 4 })];
    expect(placeGroup(nodes, [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], 'STRICT_SPREAD')).toBeUndefined();
    expect(names(placeGroup(nodes, [{ CPU: 1 }, { CPU: 1 }], 'STRICT_SPREAD'))?.sort()).toEqual(['a', 'b']);
    // Nothing was taken by the placements tried.
    expect(nodes.map((entry) => entry.available.CPU)).toEqual([4, 4]);
  });

  it('spreads SPREAD bundles where it can and doubles up where it must', () => {
    const nodes = [node('a', { CPU: 4 }), node('b', { CPU: 4 })];
    const placed = names(placeGroup(nodes, [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], 'SPREAD'));
    expect(new Set(placed).size).toBe(2);
    expect(placed).toHaveLength(3);
  });

  it('packs PACK bundles on one node when one holds them, else on as few as fit, and STRICT_PACK only on one', () => {
    const nodes = [node('a', { CPU: 3 }), node('b', { CPU: 3 })];
    expect(names(placeGroup(nodes, [{ CPU: 1 }, { CPU: 2 }], 'PACK'))).toEqual(['a', 'a']);
    expect(names(placeGroup(nodes, [{ CPU: 2 }, { CPU: 2 }, { CPU: 1 }], 'PACK'))?.sort()).toEqual(['a', 'a', 'b']);
    expect(placeGroup(nodes, [{ CPU: 2 }, { CPU: 2 }], 'STRICT_PACK')).toBeUndefined();
    expect(names(placeGroup(nodes, [{ CPU: 2 }, { CPU: 1 }], 'STRICT_PACK'))).toEqual(['a', 'a']);
  });
});
