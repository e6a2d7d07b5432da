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

function registered(
  name: string,
  groupName: string,
  index: number,
  options: { total?: ResourceShape; available?: ResourceShape; idleMs?: number; registeredAgoMs?: number; providerEnded?: WorkerView['providerEnded'] } = {},
): WorkerView {
  const total = options.total ?? { CPU: 1 };
  const idleMs = options.idleMs ?? 0;
  const view: WorkerView = {
    name,
    group: groupName,
    index,
    phase: 'registered',
    createdAtMs: NOW - 600_000,
    ray: { nodeId: `id-${name}`, idle: idleMs > 0, idleMs, total, available: options.available ?? total, labels: {} },
  };
  if (options.registeredAgoMs !== undefined) view.registeredAtMs = NOW - options.registeredAgoMs;
  if (options.providerEnded !== undefined) view.providerEnded = options.providerEnded;
  return view;
}

/** The plan's launches as workers in flight, the way the next tick's observation shows them. */
function inFlight(plan: Plan): WorkerView[] {
  return plan.launches.flatMap((launch) => Array.from({ length: launch.count }, (_, index) => launching(`new-${launch.group}-${launch.cause}-${index}`, launch.group, 100 + index)));
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

describe('planScaling: a gang beside plain tasks, as Ray fills the nodes on their way', () => {
  // bench:autoscale's strict-spread: 2-CPU workers, a STRICT_SPREAD group of 3 one-CPU bundles and 4 one-CPU tasks.
  const groups = [group('worker', 2, 0, 6)];
  const gang = { id: '_PG_s', strategy: 'STRICT_SPREAD' as const, bundles: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] };

  it('launches the nodes the tasks fill first and the nodes of the gang in one launch, and no more as Ray places the tasks', () => {
    // 4 nodes would hold it all (a bundle and a task on each of 3, a task on the 4th), but Ray gives each node to the
    // pending tasks as it joins while the gang waits for 3 nodes at once: the tasks fill 2, the gang needs 3 more.
    const plan = planScaling(observe([], { shapes: [{ shape: { CPU: 1 }, count: 4 }], gangs: [gang] }), config(groups), noHistory);
    expect(launched(plan)).toEqual({ worker: 5 });
    // The next ticks as Ray goes on: the first node to join takes 2 tasks, the second the other 2.
    const [, ...fourOnTheirWay] = inFlight(plan);
    const full = (index: number): WorkerView => registered(`ray-worker-${index}`, 'worker', index, { total: { CPU: 2 }, available: { CPU: 0 } });
    const oneJoined = planScaling(observe([full(1), ...fourOnTheirWay], { shapes: [{ shape: { CPU: 1 }, count: 2 }], gangs: [gang] }), config(groups), noHistory);
    expect(oneJoined.launches).toEqual([]);
    const twoJoined = planScaling(observe([full(1), full(2), ...fourOnTheirWay.slice(1)], { gangs: [gang] }), config(groups), noHistory);
    expect(twoJoined.launches).toEqual([]);
  });

  it('puts bundles of the gang beside the tasks where the tasks leave room on a node', () => {
    const plan = planScaling(observe([], { shapes: [{ shape: { CPU: 1 }, count: 4 }], gangs: [gang] }), config([group('worker', 8, 0, 6)]), noHistory);
    expect(launched(plan)).toEqual({ worker: 3 });
  });
});

describe('planScaling: launches in flight (the plan is its own fixed point)', () => {
  it('counts a launch in flight of any group before launching, even one the demand would not pick today', () => {
    const plan = planScaling(observe([launching('ray-big-1', 'big', 1)], { shapes: [{ shape: { CPU: 1 }, count: 3 }] }), config([group('small', 1, 0, 5), group('big', 8, 0, 5)]), noHistory);
    expect(plan.launches).toEqual([]);
  });

  it('launches nothing more on the next tick for mixed shapes and a gang that one packing round would launch for twice', () => {
    // One round: the tasks take the worker, the gang's {CPU: 2} a new node and its {CPU: 1} the worker's last CPU. With
    // that node in flight from the start, the tasks go there (they fit it tighter), the gang's {CPU: 2} takes the
    // worker, and its {CPU: 1}, kept off the worker, needs a second node.
    const worker = registered('ray-worker-1', 'a', 1, { total: { CPU: 4 }, available: { CPU: 4 } });
    const demand: Partial<Demand> = { shapes: [{ shape: { CPU: 1 }, count: 3 }], gangs: [{ id: '_PG_f', strategy: 'STRICT_SPREAD', bundles: [{ CPU: 2 }, { CPU: 1 }] }] };
    const planConfig = config([group('a', 3, 0, 5)]);
    const plan = planScaling(observe([worker], demand), planConfig, noHistory);
    expect(launched(plan)).toEqual({ a: 2 });
    expect(plan.infeasible).toEqual([]);
    expect(plan.numbers.planRounds).toBe(3);
    const again = planScaling(observe([worker, ...inFlight(plan)], demand), planConfig, noHistory);
    expect(again.launches).toEqual([]);
    expect(again.numbers.planRounds).toBe(1);
  });
});

describe('planScaling: scale-down does not flap', () => {
  const groups = [group('worker', 1, 0, 5)];

  it('drains no worker sooner than idleTimeout after it registered, however long Ray says it idled', () => {
    const fresh = registered('ray-worker-1', 'worker', 1, { idleMs: 120_000, registeredAgoMs: 10_000 });
    const settled = registered('ray-worker-2', 'worker', 2, { idleMs: 120_000, registeredAgoMs: 61_000 });
    const plan = planScaling(observe([fresh, settled]), config(groups), noHistory);
    expect(plan.drains.map((drain) => drain.name)).toEqual(['ray-worker-2']);
  });

  it('counts from the creation time when the registration time is unknown', () => {
    const young: WorkerView = { ...registered('ray-worker-1', 'worker', 1, { idleMs: 120_000 }), createdAtMs: NOW - 30_000 };
    expect(planScaling(observe([young]), config(groups), noHistory).drains).toEqual([]);
  });

  it('drains no worker that a pending request fits on, even while that demand is withheld', () => {
    const idle = [1, 2].map((index) => registered(`ray-worker-${index}`, 'worker', index, { total: { CPU: 2 }, idleMs: 120_000 }));
    const fitting = planScaling(observe(idle, { shapes: [{ shape: { CPU: 2 }, count: 1 }] }), config(groups, { pendingThreshold: 5 }), noHistory);
    expect(fitting.withheld[0]).toMatch(/pendingThreshold/);
    expect(fitting.drains).toEqual([]);
    const tooBig = planScaling(observe(idle, { shapes: [{ shape: { CPU: 3 }, count: 1 }] }), config(groups, { pendingThreshold: 5 }), noHistory);
    expect(tooBig.drains.map((drain) => drain.name)).toEqual(['ray-worker-2', 'ray-worker-1']);
  });

  it('drains no worker that a pending placement-group bundle fits on', () => {
    const idle = registered('ray-worker-1', 'worker', 1, { idleMs: 120_000 });
    const plan = planScaling(observe([idle], { gangs: [{ id: '_PG_g', strategy: 'STRICT_SPREAD', bundles: [{ CPU: 1 }, { CPU: 1 }] }] }), config(groups, { cooldownMs: 60_000 }), { lastScaleUpAtMs: NOW, backoffUntilMs: {} });
    expect(plan.drains).toEqual([]);
  });

  it('drains no idle worker a request_resources() constraint counts on', () => {
    const idle = [1, 2, 3].map((index) => registered(`ray-worker-${index}`, 'worker', index, { idleMs: 120_000 }));
    const plan = planScaling(observe(idle, { constraints: [{ shape: { CPU: 1 }, count: 2 }] }), config(groups), noHistory);
    expect(plan.launches).toEqual([]);
    // Two of the three hold the constraint; the third is free to go.
    expect(plan.drains.length).toBe(1);
  });
});

describe('planScaling: a node Ray runs is stopped only through a drain', () => {
  const groups = [group('worker', 1, 1, 5)];

  it('drains an idle worker the provider says failed (below min too, without waiting idleTimeout) and replaces it', () => {
    const failed = registered('ray-worker-1', 'worker', 1, { idleMs: 2_000, registeredAgoMs: 600_000, providerEnded: 'failed' });
    const plan = planScaling(observe([failed]), config(groups), noHistory);
    expect(plan.cleanups).toEqual([]);
    expect(plan.drains).toEqual([{ name: 'ray-worker-1', nodeId: 'id-ray-worker-1', group: 'worker', idleMs: 2_000, reason: 'the provider says it failed while Ray still runs it: drained before it is stopped' }]);
    expect(plan.launches).toEqual([{ group: 'worker', count: 1, cause: 'min', reason: 'group worker has 0 of min 1' }]);
    expect(plan.numbers.leaving).toBe(1);
  });

  it('leaves a busy worker the provider says stopped alone, neither drained nor terminated, and replaces it', () => {
    const busy = registered('ray-worker-1', 'worker', 1, { available: { CPU: 0 }, providerEnded: 'stopped' });
    const plan = planScaling(observe([busy]), config(groups), noHistory);
    expect(plan.cleanups).toEqual([]);
    expect(plan.drains).toEqual([]);
    expect(launched(plan)).toEqual({ worker: 1 });
  });

  it('does not plan work onto a worker the provider says failed, and keeps it while that work would fit it', () => {
    const failed = registered('ray-worker-1', 'worker', 1, { idleMs: 120_000, providerEnded: 'failed' });
    const busy = registered('ray-worker-2', 'worker', 2, { available: { CPU: 0 } });
    const plan = planScaling(observe([busy, failed], { shapes: [{ shape: { CPU: 1 }, count: 1 }] }), config(groups), noHistory);
    expect(plan.drains).toEqual([]);
    expect(plan.cleanups).toEqual([]);
    expect(launched(plan)).toEqual({ worker: 1 });
  });

  it('drains no failed worker that registered less than idleTimeout ago, and leaves one Ray is draining to finish', () => {
    const fresh = registered('ray-worker-1', 'worker', 1, { idleMs: 2_000, registeredAgoMs: 5_000, providerEnded: 'failed' });
    const draining: WorkerView = { ...registered('ray-worker-2', 'worker', 2, { idleMs: 2_000, providerEnded: 'failed' }), phase: 'draining' };
    const plan = planScaling(observe([fresh, draining]), config(groups), noHistory);
    expect(plan.drains).toEqual([]);
    expect(plan.cleanups).toEqual([]);
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
  const bundleArbitrary = shapeArbitrary.filter((shape) => Object.keys(shape).length > 0);
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
          registeredAgoMs: fc.constantFrom(5_000, 61_000, 600_000),
          ended: fc.constantFrom(undefined, undefined, undefined, 'failed' as const, 'stopped' as const),
        }),
        { maxLength: 12 },
      ),
      shapes: fc.array(fc.record({ shape: shapeArbitrary, count: fc.integer({ min: 1, max: 6 }) }), { maxLength: 4 }),
      gangs: fc.array(fc.record({ strategy: fc.constantFrom('STRICT_SPREAD' as const, 'STRICT_PACK' as const, 'ANY' as const), bundles: fc.array(bundleArbitrary, { minLength: 1, maxLength: 3 }) }), { maxLength: 2 }),
      constraints: fc.array(fc.record({ shape: bundleArbitrary, count: fc.integer({ min: 1, max: 3 }) }), { maxLength: 1 }),
      rayOk: fc.boolean(),
    }),
  );

  interface Scenario {
    groups: WorkerGroupSpec[];
    maxWorkers: number;
    workers: Array<{ group: string; phase: string; used: number; idleMs: number; registeredAgoMs: number; ended: WorkerView['providerEnded'] }>;
    shapes: Array<{ shape: ResourceShape; count: number }>;
    gangs: Array<{ strategy: 'STRICT_SPREAD' | 'STRICT_PACK' | 'ANY'; bundles: ResourceShape[] }>;
    constraints: Array<{ shape: ResourceShape; count: number }>;
    rayOk: boolean;
  }

  const roomy = (input: Scenario): Scenario => ({ ...input, groups: input.groups.map((spec) => ({ ...spec, max: 100 })), maxWorkers: 1000 });

  function build(input: Scenario): { observation: Observation; planConfig: PlannerConfig } {
    const workers: WorkerView[] = input.workers.map((worker, index) => {
      const spec = input.groups.find((candidate) => candidate.name === worker.group) as WorkerGroupSpec;
      const total: ResourceShape = spec.gpus > 0 ? { CPU: spec.cpus, GPU: spec.gpus } : { CPU: spec.cpus };
      const used = Math.min(worker.used, spec.cpus);
      const alive = worker.phase === 'registered' || worker.phase === 'draining';
      const view: WorkerView = { name: `w${index}`, group: worker.group, index: index + 1, phase: worker.phase as WorkerView['phase'], createdAtMs: alive ? NOW - 600_000 : NOW - 5000 };
      if (alive) {
        view.registeredAtMs = NOW - worker.registeredAgoMs;
        view.ray = { nodeId: `n${index}`, idle: used === 0 && worker.idleMs > 0, idleMs: used === 0 ? worker.idleMs : 0, total, available: { ...total, CPU: spec.cpus - used }, labels: {} };
        if (worker.ended !== undefined) view.providerEnded = worker.ended;
      }
      return view;
    });
    const demand: Partial<Demand> = {
      shapes: input.shapes.filter((entry) => Object.keys(entry.shape).length > 0),
      gangs: input.gangs.map((gang, index) => ({ id: `_PG_${index}`, strategy: gang.strategy, bundles: gang.bundles })),
      constraints: input.constraints,
    };
    return { observation: observe(workers, demand, { rayOk: input.rayOk }), planConfig: config(input.groups, { maxWorkers: input.maxWorkers }) };
  }

  /** The next tick's view: the plan's cleanups gone, its launches in flight, its drains draining. */
  function nextTick(observation: Observation, plan: Plan): Observation {
    const workers = observation.workers
      .filter((worker) => !plan.cleanups.some((cleanup) => cleanup.name === worker.name))
      .map((worker): WorkerView => (plan.drains.some((drain) => drain.name === worker.name) ? { ...worker, phase: 'draining' } : worker));
    return { ...observation, workers: [...workers, ...inFlight(plan)] };
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

  it('never terminates a node Ray shows alive: only dead nodes and launches that never joined are cleaned up', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const { observation, planConfig } = build(input);
        const plan = planScaling(observation, planConfig, noHistory);
        for (const cleanup of plan.cleanups) {
          const worker = observation.workers.find((candidate) => candidate.name === cleanup.name);
          expect(worker?.ray).toBeUndefined();
          expect(['dead', 'launching']).toContain(worker?.phase);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('drains only idle, unused workers that registered idleTimeout ago and that no pending request fits; never a healthy group below its min; never without Ray', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const { observation, planConfig } = build(input);
        const plan = planScaling(observation, planConfig, noHistory);
        if (!observation.rayOk) expect(plan.drains).toEqual([]);
        const pending = [...observation.demand.shapes.map((entry) => entry.shape), ...observation.demand.gangs.flatMap((gang) => gang.bundles)];
        for (const drain of plan.drains) {
          const worker = observation.workers.find((candidate) => candidate.name === drain.name);
          expect(worker?.phase).toBe('registered');
          expect(worker?.ray?.idle).toBe(true);
          expect(worker?.ray?.available.CPU).toBe(worker?.ray?.total.CPU);
          expect(NOW - (worker?.registeredAtMs ?? 0)).toBeGreaterThanOrEqual(planConfig.watcher.idleTimeoutMs);
          const free = worker?.ray?.available ?? {};
          expect(pending.some((shape) => Object.entries(shape).every(([name, amount]) => (free[name] ?? 0) >= amount))).toBe(false);
          if (worker?.providerEnded === undefined) expect(worker?.ray?.idleMs).toBeGreaterThanOrEqual(planConfig.watcher.idleTimeoutMs);
        }
        for (const spec of planConfig.groups) {
          const healthy = (worker: WorkerView): boolean => worker.group === spec.name && worker.providerEnded === undefined;
          const staying = observation.workers.filter((worker) => healthy(worker) && (worker.phase === 'registered' || worker.phase === 'launching')).length;
          const drained = plan.drains.filter((drain) => healthy(observation.workers.find((worker) => worker.name === drain.name) as WorkerView)).length;
          if (drained > 0) expect(staying - drained).toBeGreaterThanOrEqual(spec.min);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('meets demand that fits in one step: every request is placed on free capacity or a planned node, nothing withheld', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const wide = { ...roomy(input), gangs: [] };
        const { observation, planConfig } = build(wide);
        const plan = planScaling(observation, planConfig, noHistory);
        const fitsSomeGroup = (shape: ResourceShape): boolean => wide.groups.some((spec) => (shape.CPU ?? 0) <= spec.cpus && (shape.GPU ?? 0) <= spec.gpus);
        expect(plan.withheld).toEqual([]);
        expect(plan.infeasible.every((shape) => !fitsSomeGroup(shape))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('re-planning with the demand its launches in flight cover launches nothing more: mixed shapes, gangs and constraints', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const { observation, planConfig } = build(roomy({ ...input, rayOk: true }));
        const plan = planScaling(observation, planConfig, noHistory);
        expect(planScaling(nextTick(observation, plan), planConfig, noHistory).launches).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });

  it('re-planning launches nothing more when groups and the cluster are at their caps either', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const { observation, planConfig } = build({ ...input, rayOk: true });
        const plan = planScaling(observation, planConfig, noHistory);
        expect(planScaling(nextTick(observation, plan), planConfig, noHistory).launches).toEqual([]);
      }),
      { numRuns: 2000 },
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

describe('planScaling: a pool of machines (SSH hosts)', () => {
  const unknown = (name: string, index: number): WorkerView => ({ name, group: 'worker', index, phase: 'unknown', createdAtMs: NOW - 600_000 });

  it('launches no more than the hosts have room for, and says why', () => {
    const plan = planScaling(observe([], { shapes: [{ shape: { CPU: 1 }, count: 8 }] }, { providerRoom: { worker: 3 } }), config([group('worker', 1, 0, 8)]), noHistory);
    expect(launched(plan)).toEqual({ worker: 3 });
    expect(plan.withheld).toContain('group worker: the hosts have no room for more of its nodes');
  });

  it('keeps an unknown node (its host does not answer) toward max, neither cleaned up nor capacity: the min is met beside it', () => {
    const plan = planScaling(observe([unknown('ray-worker-1', 1), registered('ray-worker-2', 'worker', 2)]), config([group('worker', 1, 2, 3)]), noHistory);
    expect(plan.cleanups).toEqual([]);
    expect(launched(plan)).toEqual({ worker: 1 });
    // At max with it, nothing more is launched even for demand: it still holds its place.
    const atMax = planScaling(
      observe([unknown('ray-worker-1', 1), registered('ray-worker-2', 'worker', 2, { available: {} }), registered('ray-worker-3', 'worker', 3, { available: {} })], { shapes: [{ shape: { CPU: 1 }, count: 2 }] }),
      config([group('worker', 1, 2, 3)]),
      noHistory,
    );
    expect(atMax.launches).toEqual([]);
    expect(atMax.withheld).toContain('group worker is at its max 3');
  });
});
