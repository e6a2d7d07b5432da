// The report's arithmetic: nearest-rank percentiles, and a lower bound on launches that no autoscaler can beat.
import { describe, expect, it } from 'vitest';
import { clusterSpecSchema } from '../spec/schema.js';
import type { WorkUnit } from './simulated-ray.js';
import { lowerBound, percentiles } from './simulation-report.js';

function unit(submittedAtMs: number, durationMs: number, bundles: WorkUnit['bundles'], kind: WorkUnit['kind'] = 'task', strategy: WorkUnit['strategy'] = 'DEFAULT'): WorkUnit {
  return { id: 'u', name: 'u', kind, bundles, strategy, durationMs, submittedAtMs, placedAtMs: undefined, finishedAtMs: undefined, nodes: [], restarts: 0 };
}

const spec = clusterSpecSchema.parse({
  head: { cpus: 2 },
  workerGroups: [
    { name: 'small', cpus: 4, min: 1, max: 10 },
    { name: 'gpu', cpus: 8, gpus: 2, min: 0, max: 4 },
  ],
  watcher: { maxWorkers: 14 },
});

describe('percentiles', () => {
  it('takes the nearest rank, and zeros for nothing', () => {
    expect(percentiles([5, 1, 4, 2, 3])).toEqual({ count: 5, p50: 3, p95: 5, max: 5 });
    expect(percentiles(Array.from({ length: 100 }, (_, index) => index + 1))).toEqual({ count: 100, p50: 50, p95: 95, max: 100 });
    expect(percentiles([])).toEqual({ count: 0, p50: 0, p95: 0, max: 0 });
  });
});

describe('lowerBound', () => {
  it('counts the peak demand beyond the head and the mins, in the largest node that has each resource', () => {
    // 30 CPUs at once: the head (2) and the small min (4) hold 6; 24 more in 8-CPU nodes is 3.
    expect(lowerBound(Array.from({ length: 30 }, () => unit(0, 60_000, [{ CPU: 1 }])), spec)).toBe(3);
    // 5 GPUs at once in 2-GPU nodes: 3.
    expect(lowerBound(Array.from({ length: 5 }, () => unit(0, 60_000, [{ GPU: 1 }])), spec)).toBe(3);
  });

  it('does not add up work that never overlaps, even when one ends as the next arrives', () => {
    const waves = [...Array.from({ length: 14 }, () => unit(0, 60_000, [{ CPU: 1 }])), ...Array.from({ length: 14 }, () => unit(60_000, 60_000, [{ CPU: 1 }]))];
    expect(lowerBound(waves, spec)).toBe(1);
  });

  it('needs a node per STRICT_SPREAD bundle beyond the nodes standing, and ignores what no group can hold', () => {
    const spread = unit(0, 60_000, [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }, { CPU: 1 }, { CPU: 1 }], 'placement-group', 'STRICT_SPREAD');
    expect(lowerBound([spread], spec)).toBe(3);
    expect(lowerBound([unit(0, 60_000, [{ CPU: 64 }]), unit(0, 60_000, [{ TPU: 1 }])], spec)).toBe(0);
  });
});
