// The simulator: the real watcher in virtual time, deterministic for a seed, its journal in the journal's kinds, and what-if settings that matter.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { eventTypes } from '../journal/event.js';
import { clusterSpecSchema, type ClusterSpec } from '../spec/schema.js';
import { parseSettingChange, parseSettingChanges } from './setting-change.js';
import { runSimulation } from './simulate.js';
import { reportOf } from './simulation-report.js';
import { whatIf } from './what-if.js';
import { parseWorkload } from './workload.js';

function specWith(watcher: Record<string, unknown> = {}, groups: unknown[] = [{ name: 'worker', cpus: 4, min: 0, max: 8 }]): ClusterSpec {
  return clusterSpecSchema.parse({ head: { cpus: 0 }, workerGroups: groups, watcher: { interval: '1s', maxWorkers: 10, ...watcher } });
}

/** Two waves of 16 one-CPU tasks, 6 minutes apart: nodes go idle in between. */
const BURST = [
  'simulation: { launchLatency: { min: 3s, max: 6s }, terminateLatency: 1s }',
  'arrivals:',
  '  - { at: 0s, kind: task, shape: { CPU: 1 }, count: 16, duration: 2m }',
  '  - { at: 8m, kind: task, shape: { CPU: 1 }, count: 16, duration: 2m }',
].join('\n');

describe('runSimulation', () => {
  it('runs the watcher on the workload: it scales up for the demand, drains the idle nodes and ends at the mins', async () => {
    const workload = parseWorkload(BURST, 'burst.yaml');
    const run = await runSimulation({ spec: specWith({ idleTimeout: '1m' }), workload, seed: 1 });
    const report = reportOf(run);
    expect(report.nodesLowerBound).toBe(4);
    expect(report.nodesLaunched).toBe(8);
    expect(report.drains).toBe(8);
    expect(report.unplaced).toBe(0);
    expect(report.unfinished).toBe(0);
    expect(report.requestWaitS.max).toBeGreaterThan(3);
    expect(report.requestWaitS.max).toBeLessThan(10);
    // From the oldest waiting request to the node alive: the watcher's reaction (a tick) plus the launch latency.
    expect(report.demandToCapacityS.p50).toBeGreaterThanOrEqual(3);
    expect(report.demandToCapacityS.max).toBeLessThanOrEqual(8);
    expect(run.nodes.filter((node) => node.request.role === 'worker' && node.goneAtMs === undefined)).toEqual([]);
    // Every line is one the journal knows, with the launch, drain and terminate a real watcher writes.
    for (const event of run.events) expect(eventTypes).toContain(event.type);
    expect(report.events).toMatchObject({ 'scale-up': 2, launch: 9, registered: 8, drain: 8, terminate: 8 });
  });

  it("simulates bench:autoscale's burst: 4 one-CPU tasks, max 4, the 4 nodes it needs launched and drained", async () => {
    // bench:autoscale's row "nodes launched (needed 4)" judges the real run by the same number; this test does not
    // start Ray, so the live comparison stays in that benchmark. Launch latency is the local default, measured here.
    const workload = parseWorkload('arrivals:\n  - { at: 0s, kind: task, shape: { CPU: 1 }, count: 4, duration: 5s }\n', 'autoscale-burst.yaml');
    const spec = clusterSpecSchema.parse({ head: { cpus: 0 }, workerGroups: [{ name: 'worker', cpus: 1, min: 0, max: 4 }], watcher: { interval: '1s', idleTimeout: '10s', maxWorkers: 4 } });
    const report = reportOf(await runSimulation({ spec, workload, seed: 1 }));
    expect(report).toMatchObject({ nodesLaunched: 4, nodesLowerBound: 4, drains: 4, flaps: 0, unplaced: 0, unfinished: 0 });
    expect(report.demandToCapacityS.max).toBeGreaterThan(10);
    expect(report.demandToCapacityS.max).toBeLessThan(40);
  });

  it('gives the same run for the same seed, and another for another seed', async () => {
    const workload = parseWorkload(BURST, 'burst.yaml');
    const spec = specWith({ idleTimeout: '1m' });
    const summary = async (seed: number): Promise<string> => {
      const run = await runSimulation({ spec, workload, seed });
      // The watcher's start and stop lines carry the pid; everything else must repeat exactly.
      const text = JSON.stringify({ report: reportOf(run), journal: run.events.filter((event) => event.type !== 'watcher') });
      return createHash('sha256').update(text).digest('hex');
    };
    const first = await summary(3);
    expect(await summary(3)).toBe(first);
    expect(await summary(4)).not.toBe(first);
  });

  it('follows the watcher settings: a longer idleTimeout keeps the nodes over the gap, with no flap and more node-hours', async () => {
    const workload = parseWorkload(BURST, 'burst.yaml');
    const short = reportOf(await runSimulation({ spec: specWith({ idleTimeout: '4m' }), workload, seed: 1 }));
    const long = reportOf(await runSimulation({ spec: specWith({ idleTimeout: '10m' }), workload, seed: 1 }));
    expect(short.flaps).toBeGreaterThan(0);
    expect(long.flaps).toBe(0);
    expect(long.nodesLaunched).toBeLessThan(short.nodesLaunched);
    expect(long.totalNodeHours).toBeGreaterThan(short.totalNodeHours);
  });

  it('keeps within a group max and reports what could never be placed', async () => {
    const workload = parseWorkload(
      ['simulation: { launchLatency: 2s, horizon: 10m }', 'arrivals:', '  - { at: 0s, kind: task, shape: { CPU: 1 }, count: 12, duration: 3m }', '  - { at: 0s, kind: task, shape: { CPU: 1, GPU: 1 }, duration: 1m }'].join('\n'),
      'capped.yaml',
    );
    const run = await runSimulation({ spec: specWith({ idleTimeout: '1m' }, [{ name: 'worker', cpus: 4, min: 0, max: 2 }]), workload, seed: 1 });
    const report = reportOf(run);
    expect(Math.max(...run.rayNodes.map((node) => run.rayNodes.filter((other) => other.nodeTypeName === 'worker' && other.registeredAtMs <= node.registeredAtMs && (other.deadAtMs ?? Infinity) > node.registeredAtMs).length))).toBe(2);
    expect(report.infeasible).toEqual(['{CPU: 1, GPU: 1}']);
    expect(report.unplaced).toBe(1);
    expect(report.withheld.max).toBeGreaterThan(0);
    expect(report.durationS).toBe(600);
  });

  it('ends a run without a horizon when only work no node can hold waits, and counts no wait of it as the launches\' (node-hours as without it)', async () => {
    const spec = specWith({ idleTimeout: '1m' }, [{ name: 'worker', cpus: 4, min: 1, max: 8 }]);
    const feasibleOnly = reportOf(await runSimulation({ spec, workload: parseWorkload(BURST, 'burst.yaml'), seed: 1 }));
    const withInfeasible = reportOf(await runSimulation({ spec, workload: parseWorkload(`${BURST}\n  - { at: 0s, kind: task, shape: { CPU: 64 }, duration: 1m }`, 'burst.yaml'), seed: 1 }));
    expect(withInfeasible.infeasible).toEqual(['{CPU: 64}']);
    expect(withInfeasible.unplaced).toBe(1);
    // Waiting for the {CPU: 64} task kept the run going to its tail cap (30 min and more), the head and the min
    // worker counted all along; and the second wave's launches were timed from that task's arrival, 8 minutes back.
    expect(withInfeasible.durationS).toBe(feasibleOnly.durationS);
    expect(withInfeasible.nodeHours).toEqual(feasibleOnly.nodeHours);
    expect(withInfeasible.demandToCapacityS).toEqual(feasibleOnly.demandToCapacityS);
  });

  it('backs off a group whose launches fail, and counts the failures', async () => {
    const workload = parseWorkload(
      ['simulation: { launchLatency: 2s, launchFailureRate: 1, horizon: 2m }', 'arrivals:', '  - { at: 0s, kind: task, shape: { CPU: 1 }, duration: 1m }'].join('\n'),
      'failing.yaml',
    );
    const report = reportOf(await runSimulation({ spec: specWith(), workload, seed: 1 }));
    expect(report.nodesLaunched).toBe(0);
    // Back-off doubles from 5 s: within 2 minutes only a handful of attempts, not one a tick.
    expect(report.launchFailures).toBeGreaterThanOrEqual(3);
    expect(report.launchFailures).toBeLessThanOrEqual(7);
    expect(report.unplaced).toBe(1);
  });
});

describe('whatIf', () => {
  it('runs the base and each --compare on the same workload, counted to the same end', async () => {
    const result = await whatIf({
      workload: parseWorkload(BURST, 'burst.yaml'),
      workloadSource: 'burst.yaml',
      spec: { head: { cpus: 0 }, workerGroups: [{ name: 'worker', cpus: 4, min: 0, max: 8 }], watcher: { idleTimeout: '4m' } },
      set: [parseSettingChange('simulation.prices={head: 1, worker: 2}')],
      compare: [parseSettingChanges('watcher.idleTimeout=10m'), [parseSettingChange('workerGroups.worker.cpus=8')]],
      seed: 1,
    });
    expect(result.settings.map((setting) => setting.label)).toEqual(['simulation.prices={head: 1, worker: 2}', 'watcher.idleTimeout=10m', 'workerGroups.worker.cpus=8']);
    expect(result.settings.map((setting) => setting.spec.workerGroups[0]?.cpus)).toEqual([4, 4, 8]);
    expect(new Set(result.settings.map((setting) => setting.report.durationS)).size).toBe(1);
    const [base, longer, bigger] = result.settings.map((setting) => setting.report);
    expect(longer?.flaps).toBeLessThan(base?.flaps ?? 0);
    expect(bigger?.nodesLaunched).toBeLessThan(base?.nodesLaunched ?? 0);
    expect(base?.totalCost).toBeCloseTo((base?.nodeHours.head ?? 0) * 1 + (base?.nodeHours.worker ?? 0) * 2, 6);
  });

  it('refuses a setting that makes the spec invalid, naming the field', async () => {
    await expect(whatIf({ workload: parseWorkload(BURST, 'burst.yaml'), workloadSource: 'burst.yaml', compare: [[parseSettingChange('watcher.idleTimeout=soon')]] })).rejects.toMatchObject({
      code: 'SPEC_INVALID',
      details: expect.stringContaining('watcher.idleTimeout'),
    });
  });
});
