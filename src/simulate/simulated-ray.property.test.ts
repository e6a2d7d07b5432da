// SimulatedRay under random clusters and work (fast-check): it never hands out more than a node has, keeps each
// placement group's strategy, and frees everything once the work is done.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryProvider } from '../providers/memory/memory-provider.js';
import { VirtualClock } from '../time/virtual-clock.js';
import { SimulatedRay, type WorkRequest } from './simulated-ray.js';

const nodeArbitrary = fc.record({ cpus: fc.integer({ min: 1, max: 8 }), gpus: fc.integer({ min: 0, max: 2 }) });
const shapeArbitrary = fc.record({ CPU: fc.constantFrom(0.5, 1, 2, 3), GPU: fc.constantFrom(0, 0, 0, 1) }).map((shape) => (shape.GPU === 0 ? { CPU: shape.CPU } : shape));
const workArbitrary: fc.Arbitrary<WorkRequest> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('task' as const, 'actor' as const),
    shape: shapeArbitrary,
    strategy: fc.constantFrom('DEFAULT' as const, 'SPREAD' as const),
    count: fc.integer({ min: 1, max: 6 }),
    durationMs: fc.integer({ min: 1_000, max: 60_000 }),
    atMs: fc.integer({ min: 0, max: 30_000 }),
  }),
  fc.record({
    kind: fc.constant('placement-group' as const),
    bundles: fc.array(shapeArbitrary, { minLength: 1, maxLength: 4 }),
    strategy: fc.constantFrom('PACK' as const, 'SPREAD' as const, 'STRICT_PACK' as const, 'STRICT_SPREAD' as const),
    count: fc.integer({ min: 1, max: 2 }),
    durationMs: fc.integer({ min: 1_000, max: 60_000 }),
    atMs: fc.integer({ min: 0, max: 30_000 }),
  }),
);

describe('SimulatedRay (properties)', () => {
  it('never places more than a node has, keeps group strategies, and ends with every node whole again', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(nodeArbitrary, { minLength: 1, maxLength: 6 }), fc.array(workArbitrary, { minLength: 1, maxLength: 8 }), async (nodes, work) => {
        const clock = new VirtualClock({ startMs: 0 });
        const provider = new MemoryProvider({ clock });
        const ray = new SimulatedRay({ provider, clock });
        for (const [index, node] of nodes.entries()) {
          await provider.launch({ name: `n-${index}`, role: 'worker', group: 'g', index, resources: { cpus: node.cpus, gpus: node.gpus, custom: {} }, env: {} });
        }
        const units = work.flatMap((request) => ray.submit(request));
        for (let step = 0; step < 40; step += 1) {
          await clock.advance(2_500);
          const state = await ray.getClusterResourceState();
          const held = new Map<string, Record<string, number>>();
          for (const unit of ray.units()) {
            if (unit.placedAtMs === undefined || unit.finishedAtMs !== undefined || unit.nodes.length === 0) continue;
            if (unit.strategy === 'STRICT_SPREAD') expect(new Set(unit.nodes).size).toBe(unit.nodes.length);
            if (unit.strategy === 'STRICT_PACK') expect(new Set(unit.nodes).size).toBe(1);
            unit.bundles.forEach((bundle, index) => {
              const sum = held.get(unit.nodes[index] ?? '') ?? {};
              for (const [name, amount] of Object.entries(bundle)) sum[name] = (sum[name] ?? 0) + amount;
              held.set(unit.nodes[index] ?? '', sum);
            });
          }
          for (const node of state.nodeStates) {
            for (const [name, total] of Object.entries(node.totalResources)) {
              const available = node.availableResources[name] ?? 0;
              expect(available).toBeGreaterThanOrEqual(-1e-9);
              expect(total - available).toBeCloseTo(held.get(node.instanceId)?.[name] ?? 0, 6);
            }
          }
        }
        // Long enough for all of it one after another (48 units of at most a minute).
        await clock.advance(3_600_000);
        const state = await ray.getClusterResourceState();
        for (const node of state.nodeStates) expect(node.availableResources).toEqual(node.totalResources);
        // What waits still is what no node could hold, and Ray reports it as demand.
        const waiting = units.filter((unit) => unit.placedAtMs === undefined).length;
        const reported = state.pendingRequests.reduce((total, request) => total + request.count, 0) + state.pendingGangs.length;
        expect(reported).toBe(waiting);
      }),
      { numRuns: 60, seed: 42 },
    );
  });
});
