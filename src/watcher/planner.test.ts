import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import type { WatcherSpec, WorkerGroupSpec } from '../spec/schema.js';
import type { Demand, Observation, WorkerView } from './observation.js';
import { planScaling, type Plan, type PlannerConfig, type PlannerHistory } from './planner.js';

const NOW = 1_000_000_000;

function group(name: string, cpus: number, min: number, max: number, gpus = 0): WorkerGroupSpec {
  return { name, cpus, gpus, resources: {}, min, max, objectStoreMemoryBytes: 1e8 };
}

const watcher: WatcherSpec = { enabled: true, paused: false, intervalMs: 1000, pendingThreshold: 0, cooldownMs: 0, idleTimeoutMs: 60_000, maxWorkers: 10 };

function config(groups: WorkerGroupSpec[], overrides: Partial<WatcherSpec> = {}): PlannerConfig {
  return { groups, watcher: { ...watcher, ...overrides }, launchTimeoutMs: 120_000 };
}

const noHistory: PlannerHistory = { lastScaleUpAtMs: undefined, backoffUntilMs: {} };

function registered(name: string, groupName: string, index: number, options: { total?: ResourceShape; available?: ResourceShape; idleMs?: number } = {}): WorkerView {
  const total = options.total ?? { CPU: 1 };
  const idleMs = options.idleMs ?? 0;
  return {
    name,
    group: groupName,
    index,
    phase: 'registered',
    createdAtMs: NOW - 600_000,
    ray: { nodeId: `id-${name}`, idle: idleMs > 0, idleMs, total, available: options.available ?? total, labels: {} },
  };
}

function launching(name: string, groupName: string, index: number, ageMs = 1000): WorkerView {
  return { name, group: groupName, index, phase: 'launching', createdAtMs: NOW - ageMs };
}

function observe(workers: WorkerView[], demand: Partial<Demand> = {}, overrides: Partial<Observation> = {}): Observation {
  return {
    atMs: NOW,
    source: 'gcs',
    workers,
    headAvailable: {},
    headTotal: {},
    demand: { shapes: [], gangs: [], constraints: [], ...demand },
    providerOk: true,
    rayOk: true,
    problems: [],
    ...overrides,
  };
}

function launched(plan: Plan): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const launch of plan.launches) counts[launch.group] = (counts[launch.group] ?? 0) + launch.count;
  return counts;
}

describe('planScaling: scale-up', () => {
  it('launches exactly the nodes the pending shapes need, in one step', () => {
    const plan = planScaling(observe([], { shapes: [{ shape: { CPU: 1 }, count: 3 }] }), config([group('worker', 1, 0, 5)]), noHistory);
    expect(launched(plan)).toEqual({ worker: 3 });
    expect(plan.launches[0]?.reason).toBe('pending 3×{CPU: 1} → 3 new worker node(s)');
  });

  it('packs several shapes into bigger nodes', () => {
    const plan = planScaling(observe([], { shapes: [{ shape: { CPU: 1 }, count: 6 }, { shape: { CPU: 2 }, count: 1 }] }), config([group('big', 4, 0, 5)]), noHistory);
    expect(launched(plan)).toEqual({ big: 2 });
  });

  it('counts free capacity and launches in flight before launching more', () => {
    const workers = [registered('ray-worker-1', 'worker', 1, { total: { CPU: 2 }, available: { CPU: 1 } }), launching('ray-worker-2', 'worker', 2)];
    const plan = planScaling(observe(workers, { shapes: [{ shape: { CPU: 1 }, count: 3 }] }), config([group('worker', 1, 0, 5)]), noHistory);
    expect(launched(plan)).toEqual({ worker: 1 });
  });

  it('never goes above the group max or maxWorkers, and says why', () => {
    const capped = planScaling(observe([], { shapes: [{ shape: { CPU: 1 }, count: 10 }] }), config([group('worker', 1, 0, 4)]), noHistory);
    expect(launched(capped)).toEqual({ worker: 4 });
    expect(capped.withheld).toContain('group worker is at its max 4');
    const global = planScaling(observe([], { shapes: [{ shape: { CPU: 1 }, count: 10 }] }), config([group('a', 1, 0, 5), group('b', 1, 0, 5)], { maxWorkers: 7 }), noHistory);
    expect(Object.values(launched(global)).reduce((sum, count) => sum + count, 0)).toBe(7);
    expect(global.withheld).toContain('the cluster is at maxWorkers 7');
  });

  it('sends GPU work to a GPU group and keeps CPU work off it', () => {
    const groups = [group('gpu', 4, 0, 2, 1), group('worker', 1, 0, 5)];
    const gpu = planScaling(observe([], { shapes: [{ shape: { CPU: 1, GPU: 1 }, count: 1 }] }), config(groups), noHistory);
    expect(launched(gpu)).toEqual({ gpu: 1 });
    const cpu = planScaling(observe([], { shapes: [{ shape: { CPU: 1 }, count: 2 }] }), config(groups), noHistory);
    expect(launched(cpu)).toEqual({ worker: 2 });
  });

  it('uses a GPU group for CPU work only when no other group can hold it', () => {
    const plan = planScaling(observe([], { shapes: [{ shape: { CPU: 3 }, count: 1 }] }), config([group('gpu', 4, 0, 2, 1), group('worker', 1, 0, 5)]), noHistory);
    expect(launched(plan)).toEqual({ gpu: 1 });
  });

  it('reports a shape no group can hold as infeasible and launches nothing for it', () => {
    const plan = planScaling(observe([], { shapes: [{ shape: { CPU: 8 }, count: 2 }, { shape: { TPU: 1 }, count: 1 }] }), config([group('worker', 2, 0, 5)]), noHistory);
    expect(plan.launches).toEqual([]);
    expect(plan.infeasible).toEqual([{ CPU: 8 }, { CPU: 8 }, { TPU: 1 }]);
  });

  it('ignores placement-group bundle resources and node pins as demand for new nodes', () => {
    const plan = planScaling(
      observe([], { shapes: [{ shape: { CPU_group_abc: 1 }, count: 4 }, { shape: { CPU_group_0_abc: 1, CPU: 0 }, count: 1 }, { shape: { 'node:10.0.0.1': 0.01 }, count: 1 }] }),
      config([group('worker', 1, 0, 5)]),
      noHistory,
    );
    expect(plan.launches).toEqual([]);
    expect(plan.infeasible).toEqual([]);
  });

  it('puts each bundle of a STRICT_SPREAD gang on its own node', () => {
    const plan = planScaling(observe([], { gangs: [{ id: '_PG_a', strategy: 'STRICT_SPREAD', bundles: [{ CPU: 1 }, { CPU: 1 }] }] }), config([group('worker', 4, 0, 5)]), noHistory);
    expect(launched(plan)).toEqual({ worker: 2 });
  });

  it('puts a STRICT_PACK gang on one node, or nowhere if none can hold it', () => {
    const packed = planScaling(observe([], { gangs: [{ id: '_PG_b', strategy: 'STRICT_PACK', bundles: [{ CPU: 1 }, { CPU: 2 }] }] }), config([group('worker', 4, 0, 5)]), noHistory);
    expect(launched(packed)).toEqual({ worker: 1 });
    const tooBig = planScaling(observe([], { gangs: [{ id: '_PG_c', strategy: 'STRICT_PACK', bundles: [{ CPU: 3 }, { CPU: 3 }] }] }), config([group('worker', 4, 0, 5)]), noHistory);
    expect(tooBig.launches).toEqual([]);
    expect(tooBig.infeasible.length).toBe(1);
  });

  it('launches all of a gang or none of it', () => {
    const plan = planScaling(observe([], { gangs: [{ id: '_PG_d', strategy: 'STRICT_SPREAD', bundles: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] }] }), config([group('worker', 1, 0, 2)]), noHistory);
    expect(plan.launches).toEqual([]);
    expect(plan.withheld).toContain('group worker is at its max 2');
  });

  it('keeps STRICT_SPREAD bundles off a node that already holds one of the group', () => {
    const holder = registered('ray-worker-1', 'worker', 1, { total: { CPU: 4 }, available: { CPU: 3 } });
    holder.ray = { ...(holder.ray as NonNullable<WorkerView['ray']>), labels: { _PG_e: '' } };
    const plan = planScaling(observe([holder], { gangs: [{ id: '_PG_e', strategy: 'STRICT_SPREAD', bundles: [{ CPU: 1 }] }] }), config([group('worker', 4, 0, 5)]), noHistory);
    expect(launched(plan)).toEqual({ worker: 1 });
  });

  it('holds back while at most pendingThreshold requests wait', () => {
    const groups = [group('worker', 1, 0, 5)];
    const waiting = (count: number): Observation => observe([], { shapes: [{ shape: { CPU: 1 }, count }] });
    const held = planScaling(waiting(2), config(groups, { pendingThreshold: 2 }), noHistory);
    expect(held.launches).toEqual([]);
    expect(held.withheld[0]).toMatch(/not more than pendingThreshold 2/);
    expect(launched(planScaling(waiting(3), config(groups, { pendingThreshold: 2 }), noHistory))).toEqual({ worker: 3 });
  });

  it('holds back within cooldown of the last scale-up', () => {
    const demand = observe([], { shapes: [{ shape: { CPU: 1 }, count: 1 }] });
    const cooling = planScaling(demand, config([group('worker', 1, 0, 5)], { cooldownMs: 60_000 }), { lastScaleUpAtMs: NOW - 30_000, backoffUntilMs: {} });
    expect(cooling.launches).toEqual([]);
    expect(cooling.withheld[0]).toMatch(/^cooldown/);
    expect(launched(planScaling(demand, config([group('worker', 1, 0, 5)], { cooldownMs: 60_000 }), { lastScaleUpAtMs: NOW - 61_000, backoffUntilMs: {} }))).toEqual({ worker: 1 });
  });

  it('skips a group that backs off and uses another that can hold the work', () => {
    const plan = planScaling(observe([], { shapes: [{ shape: { CPU: 1 }, count: 1 }] }), config([group('small', 1, 0, 5), group('large', 2, 0, 5)]), {
      lastScaleUpAtMs: undefined,
      backoffUntilMs: { small: NOW + 10_000 },
    });
    expect(launched(plan)).toEqual({ large: 1 });
  });

  it('meets request_resources constraints against total capacity, busy or not', () => {
    const busy = registered('ray-worker-1', 'worker', 1, { total: { CPU: 1 }, available: { CPU: 0 } });
    const plan = planScaling(observe([busy], { constraints: [{ shape: { CPU: 1 }, count: 3 }] }), config([group('worker', 1, 0, 5)]), noHistory);
    expect(plan.launches).toEqual([{ group: 'worker', count: 2, cause: 'constraint', reason: 'request_resources() needs capacity → 2 new worker node(s)' }]);
  });
});

describe('planScaling: min, dead and stuck nodes', () => {
  it('brings a group up to its min', () => {
    const plan = planScaling(observe([registered('ray-worker-1', 'worker', 1)]), config([group('worker', 1, 3, 5)]), noHistory);
    expect(plan.launches).toEqual([{ group: 'worker', count: 2, cause: 'min', reason: 'group worker has 1 of min 3' }]);
  });

  it('cleans up a dead worker and replaces it below min', () => {
    const dead: WorkerView = { name: 'ray-worker-2', group: 'worker', index: 2, phase: 'dead', createdAtMs: NOW - 600_000 };
    const plan = planScaling(observe([registered('ray-worker-1', 'worker', 1), dead]), config([group('worker', 1, 2, 5)]), noHistory);
    expect(plan.cleanups).toEqual([{ name: 'ray-worker-2', group: 'worker', reason: 'its process ended', failedLaunch: false }]);
    expect(launched(plan)).toEqual({ worker: 1 });
  });

  it('gives up on a launch that never joined Ray, as a failed launch', () => {
    const stuck = launching('ray-worker-1', 'worker', 1, 130_000);
    const plan = planScaling(observe([stuck]), config([group('worker', 1, 1, 5)]), noHistory);
    expect(plan.cleanups).toEqual([{ name: 'ray-worker-1', group: 'worker', reason: 'not in Ray 130 s after launch', failedLaunch: true }]);
    expect(launched(plan)).toEqual({ worker: 1 });
  });

  it('does nothing when the provider cannot list, and terminates nothing when Ray cannot be asked', () => {
    const dead: WorkerView = { name: 'ray-worker-2', group: 'worker', index: 2, phase: 'dead', createdAtMs: NOW };
    const blind = planScaling(observe([dead], { shapes: [{ shape: { CPU: 1 }, count: 2 }] }, { providerOk: false }), config([group('worker', 1, 1, 5)]), noHistory);
    expect(blind).toMatchObject({ launches: [], drains: [], cleanups: [], withheld: ['the provider could not list the nodes'] });
    const idle = registered('ray-worker-1', 'worker', 1, { idleMs: 120_000 });
    const noRay = planScaling(observe([idle, dead], {}, { rayOk: false }), config([group('worker', 1, 0, 5)]), noHistory);
    expect(noRay.drains).toEqual([]);
    expect(noRay.cleanups).toEqual([]);
  });
});

describe('planScaling: scale-down', () => {
  const groups = [group('worker', 1, 1, 5)];

  it('drains workers idle past idleTimeout down to min, highest index first', () => {
    const workers = [1, 2, 3].map((index) => registered(`ray-worker-${index}`, 'worker', index, { idleMs: 61_000 }));
    const plan = planScaling(observe(workers), config(groups), noHistory);
    expect(plan.drains.map((drain) => drain.name)).toEqual(['ray-worker-3', 'ray-worker-2']);
    expect(plan.drains[0]?.reason).toBe('idle 61 s > idleTimeout 60 s, group worker keeps 2 of min 1');
  });

  it('leaves busy, briefly idle and needed workers alone', () => {
    const busy = registered('ray-worker-1', 'worker', 1, { total: { CPU: 1 }, available: { CPU: 0 }, idleMs: 0 });
    const brief = registered('ray-worker-2', 'worker', 2, { idleMs: 30_000 });
    const holdsResources = registered('ray-worker-3', 'worker', 3, { total: { CPU: 2 }, available: { CPU: 1 }, idleMs: 90_000 });
    const wanted = registered('ray-worker-4', 'worker', 4, { idleMs: 90_000 });
    const plan = planScaling(observe([busy, brief, holdsResources, wanted], { shapes: [{ shape: { CPU: 1 }, count: 3 }] }), config([group('worker', 1, 0, 5)]), noHistory);
    expect(plan.drains.map((drain) => drain.name)).toEqual([]);
    expect(plan.launches).toEqual([]);
  });

  it('does not drain from the fallback views, which know no idle times', () => {
    const idle = registered('ray-worker-2', 'worker', 2, { idleMs: 120_000 });
    expect(planScaling(observe([registered('ray-worker-1', 'worker', 1), idle], {}, { source: 'dashboard' }), config(groups), noHistory).drains).toEqual([]);
  });
});

describe('planScaling: invariants (property tests)', () => {
  const shapeArbitrary = fc.record({ CPU: fc.integer({ min: 0, max: 4 }), GPU: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1 })) }).map((shape) => {
    const cleaned: ResourceShape = {};
    if (shape.CPU > 0) cleaned.CPU = shape.CPU;
    if (shape.GPU > 0) cleaned.GPU = shape.GPU;
    return cleaned;
  });
  const groupsArbitrary = fc
    .uniqueArray(
      fc.record({ name: fc.constantFrom('a', 'b', 'c', 'd'), cpus: fc.integer({ min: 1, max: 4 }), gpus: fc.integer({ min: 0, max: 1 }), min: fc.integer({ min: 0, max: 2 }), extra: fc.integer({ min: 0, max: 4 }) }),
      { minLength: 1, maxLength: 3, selector: (entry) => entry.name },
    )
    .map((entries) => entries.map((entry) => group(entry.name, entry.cpus, entry.min, entry.min + entry.extra, entry.gpus)));
  const scenario = groupsArbitrary.chain((groups) =>
    fc.record({
      groups: fc.constant(groups),
      maxWorkers: fc.integer({ min: groups.reduce((sum, candidate) => sum + candidate.min, 0), max: 20 }),
      workers: fc.array(
        fc.record({
          group: fc.constantFrom(...groups.map((candidate) => candidate.name)),
          phase: fc.constantFrom('registered', 'registered', 'launching', 'draining', 'dead'),
          used: fc.integer({ min: 0, max: 4 }),
          idleMs: fc.constantFrom(0, 10_000, 120_000),
        }),
        { maxLength: 12 },
      ),
      shapes: fc.array(fc.record({ shape: shapeArbitrary, count: fc.integer({ min: 1, max: 6 }) }), { maxLength: 4 }),
      rayOk: fc.boolean(),
    }),
  );

  interface Scenario {
    groups: WorkerGroupSpec[];
    maxWorkers: number;
    workers: Array<{ group: string; phase: string; used: number; idleMs: number }>;
    shapes: Array<{ shape: ResourceShape; count: number }>;
    rayOk: boolean;
  }

  function build(input: Scenario): { observation: Observation; planConfig: PlannerConfig } {
    const workers: WorkerView[] = input.workers.map((worker, index) => {
      const spec = input.groups.find((candidate) => candidate.name === worker.group) as WorkerGroupSpec;
      const total: ResourceShape = spec.gpus > 0 ? { CPU: spec.cpus, GPU: spec.gpus } : { CPU: spec.cpus };
      const used = Math.min(worker.used, spec.cpus);
      const view: WorkerView = { name: `w${index}`, group: worker.group, index: index + 1, phase: worker.phase as WorkerView['phase'], createdAtMs: NOW - 5000 };
      if (worker.phase === 'registered' || worker.phase === 'draining') {
        view.ray = { nodeId: `n${index}`, idle: used === 0 && worker.idleMs > 0, idleMs: used === 0 ? worker.idleMs : 0, total, available: { ...total, CPU: spec.cpus - used }, labels: {} };
      }
      return view;
    });
    return {
      observation: observe(workers, { shapes: input.shapes.filter((entry) => Object.keys(entry.shape).length > 0) }, { rayOk: input.rayOk }),
      planConfig: config(input.groups, { maxWorkers: input.maxWorkers }),
    };
  }

  it('never plans a group above its max, or the cluster above maxWorkers, beyond what already runs', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const { observation, planConfig } = build(input);
        const plan = planScaling(observation, planConfig, noHistory);
        const live = observation.workers.filter((worker) => worker.phase !== 'dead' && !plan.cleanups.some((cleanup) => cleanup.name === worker.name));
        const added = launched(plan);
        for (const spec of planConfig.groups) {
          const count = live.filter((worker) => worker.group === spec.name).length;
          expect(count + (added[spec.name] ?? 0)).toBeLessThanOrEqual(Math.max(spec.max, count));
        }
        const total = Object.values(added).reduce((sum, count) => sum + count, 0);
        expect(live.length + total).toBeLessThanOrEqual(Math.max(planConfig.watcher.maxWorkers, live.length));
      }),
      { numRuns: 1000 },
    );
  });

  it('never drains a group below its min, nor a busy node, nor without Ray', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const { observation, planConfig } = build(input);
        const plan = planScaling(observation, planConfig, noHistory);
        if (!observation.rayOk) expect(plan.drains).toEqual([]);
        for (const drain of plan.drains) {
          const worker = observation.workers.find((candidate) => candidate.name === drain.name);
          expect(worker?.phase).toBe('registered');
          expect(worker?.ray?.idle).toBe(true);
          expect(worker?.ray?.available.CPU).toBe(worker?.ray?.total.CPU);
        }
        for (const spec of planConfig.groups) {
          const staying = observation.workers.filter((worker) => worker.group === spec.name && (worker.phase === 'registered' || worker.phase === 'launching')).length;
          const drained = plan.drains.filter((drain) => drain.group === spec.name).length;
          if (drained > 0) expect(staying - drained).toBeGreaterThanOrEqual(spec.min);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('meets demand that fits in one step: every request is placed on free capacity or a planned node, nothing withheld', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const roomy = { ...input, groups: input.groups.map((spec) => ({ ...spec, max: 100 })), maxWorkers: 1000 };
        const { observation, planConfig } = build(roomy);
        const plan = planScaling(observation, planConfig, noHistory);
        const fitsSomeGroup = (shape: ResourceShape): boolean => roomy.groups.some((spec) => (shape.CPU ?? 0) <= spec.cpus && (shape.GPU ?? 0) <= spec.gpus);
        expect(plan.withheld).toEqual([]);
        expect(plan.infeasible.every((shape) => !fitsSomeGroup(shape))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('does not launch again on the next tick for a burst it already launched for', () => {
    // A burst of one shape packs by count alone, so the launches in flight hold exactly what the plan counted on.
    fc.assert(
      fc.property(scenario, shapeArbitrary, fc.integer({ min: 1, max: 30 }), (input, shape, count) => {
        fc.pre(Object.keys(shape).length > 0);
        const roomy = { ...input, groups: input.groups.map((spec) => ({ ...spec, max: 100 })), maxWorkers: 1000, shapes: [{ shape, count }] };
        const { observation, planConfig } = build(roomy);
        const plan = planScaling(observation, planConfig, noHistory);
        const inFlight = plan.launches.flatMap((launch) => Array.from({ length: launch.count }, (_, index) => launching(`new-${launch.group}-${index}`, launch.group, 100 + index)));
        const cleaned = observation.workers.filter((worker) => !plan.cleanups.some((cleanup) => cleanup.name === worker.name));
        const again = planScaling({ ...observation, workers: [...cleaned, ...inFlight] }, planConfig, noHistory);
        expect(again.launches.filter((launch) => launch.cause === 'demand')).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });

  it('launches nothing for shapes no group can hold', () => {
    fc.assert(
      fc.property(groupsArbitrary, fc.integer({ min: 1, max: 5 }), (groups, count) => {
        const zeroMin = groups.map((spec) => ({ ...spec, min: 0 }));
        const plan = planScaling(observe([], { shapes: [{ shape: { CPU: 64 }, count }, { shape: { GPU: 8 }, count }] }), config(zeroMin), noHistory);
        expect(plan.launches).toEqual([]);
        expect(plan.infeasible.length).toBe(2 * count);
      }),
      { numRuns: 200 },
    );
  });
});
