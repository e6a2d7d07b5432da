// simulate --from-journal: a history written by the watcher's own writer read back as requests, replayed deterministically, and its errors.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { rayfleetErrorOf } from '../../test/support/caught.js';
import { Journal } from '../journal/journal.js';
import type { Observation } from '../watcher/observation.js';
import { ObservationHistory, historyPointOf } from '../watcher/observation-history.js';
import { clusterPaths } from '../fleet/state-dir.js';
import { readRecordedDemand, shapeOfKey } from './recorded-demand.js';
import { whatIf } from './what-if.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');
let root: string;
let recorded: string;

/** One watcher observation: `registered` workers of group worker, and waiting requests by shape. */
function observation(atMs: number, registered: number, demand: Array<{ shape: Record<string, number>; count: number }>): Observation {
  return {
    atMs,
    workers: Array.from({ length: registered }, (_, index) => ({ name: `ray-worker-${index + 1}`, group: 'worker', phase: 'registered' })),
    demand: { shapes: demand, gangs: [], constraints: [] },
  } as unknown as Observation;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-replay-'));
  recorded = path.join(root, 'clusters', 'ray');
  await mkdir(recorded, { recursive: true });
  const history = await ObservationHistory.open(recorded, T0);
  // 4 one-CPU requests wait from 10:00:00 and a fifth from :10; 2 leave at :20, 3 at :30; a GPU request waits :10 to :40; quiet to :50.
  const ticks: Array<[number, number, Array<{ shape: Record<string, number>; count: number }>]> = [
    [0, 1, [{ shape: { CPU: 1 }, count: 4 }]],
    [10_000, 1, [{ shape: { CPU: 1 }, count: 5 }, { shape: { CPU: 1, GPU: 1 }, count: 1 }]],
    [20_000, 2, [{ shape: { CPU: 1 }, count: 3 }, { shape: { CPU: 1, GPU: 1 }, count: 1 }]],
    // Ray names the same shape's resources in another order: still one request.
    [30_000, 3, [{ shape: { GPU: 1, CPU: 1 }, count: 1 }]],
    [40_000, 3, []],
    [50_000, 1, []],
  ];
  for (const [offset, registered, demand] of ticks) {
    // Every tick of the second between two changes, as the watcher appends them: unchanged ones write nothing.
    for (let ms = offset; ms < offset + 10_000 && ms <= 50_000; ms += 1000) await history.append(historyPointOf(observation(T0 + ms, registered, demand)));
  }
  const journal = new Journal(clusterPaths(recorded).journal, 'ray');
  for (const waitedMs of [12_000, 15_000, 18_000]) await journal.append({ type: 'registered', node: 'ray-worker-2', group: 'worker', reason: 'alive in the GCS', waitedMs }, new Date(T0 + 20_000));
  await journal.append({ type: 'registered', node: 'ray-head', group: 'head', reason: 'alive in the GCS', waitedMs: 30_000 }, new Date(T0));
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await rm(root, { recursive: true, force: true });
});

describe('readRecordedDemand', () => {
  it('reads the recorded history back as requests: arrival when first seen, lasting as long as seen, first in first out', async () => {
    const { workload, summary } = await readRecordedDemand(recorded);
    expect(workload.arrivals.map((arrival) => ({ at: arrival.atMs, shape: arrival.shape, count: arrival.count, duration: arrival.durationMs }))).toEqual([
      { at: 0, shape: { CPU: 1 }, count: 2, duration: 20_000 },
      { at: 0, shape: { CPU: 1 }, count: 2, duration: 30_000 },
      { at: 10_000, shape: { CPU: 1 }, count: 1, duration: 20_000 },
      { at: 10_000, shape: { CPU: 1, GPU: 1 }, count: 1, duration: 30_000 },
    ]);
    expect(workload.arrivals.every((arrival) => arrival.kind === 'task')).toBe(true);
    expect(summary).toMatchObject({ cluster: 'ray', fromMs: T0, untilMs: T0 + 50_000, gaps: 0, stillWaiting: 0, demandFromMs: T0, demandUntilMs: T0 + 40_000 });
    expect(summary.shapes).toEqual([
      { shape: '{CPU: 1}', requests: 5, peakWaiting: 5, medianSeenS: 20 },
      { shape: '{CPU: 1, GPU: 1}', requests: 1, peakWaiting: 1, medianSeenS: 30 },
    ]);
    // Only the unchanged seconds are skipped: a point per change (and the first).
    expect(summary.snapshots).toBe(6);
    // Workers' launches only, the head's aside; they stand in for the provider's default latency.
    expect(summary.launchSamplesMs).toEqual([12_000, 15_000, 18_000]);
    expect(workload.simulationFields).toEqual({ launchLatency: { samples: ['12000ms', '15000ms', '18000ms'] } });
    // 1 worker for 20 s, 2 for 10 s, 3 for 20 s: 100 worker-seconds.
    expect(summary.recordedNodeHours.worker).toBeCloseTo(100 / 3600, 9);
  });

  it('gives every request one --task-duration when asked, and reads only the window after --since', async () => {
    expect((await readRecordedDemand(recorded, { taskDurationMs: 300_000 })).workload.arrivals.map((arrival) => [arrival.atMs, arrival.count, arrival.durationMs])).toEqual([
      [0, 4, 300_000],
      [10_000, 1, 300_000],
      [10_000, 1, 300_000],
    ]);
    const late = await readRecordedDemand(recorded, { sinceMs: T0 + 20_000 });
    expect(late.summary).toMatchObject({ snapshots: 4, demandFromMs: T0 + 20_000 });
    expect(late.workload.arrivals.map((arrival) => [arrival.atMs, arrival.shape, arrival.count, arrival.durationMs])).toEqual([
      [0, { CPU: 1 }, 3, 10_000],
      [0, { CPU: 1, GPU: 1 }, 1, 20_000],
    ]);
  });

  it('replays deterministically through the real watcher, with the measured launches and the same table twice', async () => {
    const { workload } = await readRecordedDemand(recorded);
    const spec = { head: { cpus: 0 }, workerGroups: [{ name: 'worker', cpus: 2, min: 0, max: 4 }, { name: 'gpu', cpus: 2, gpus: 1, min: 0, max: 1 }], watcher: { idleTimeout: '30s' } };
    const run = () => whatIf({ workload, workloadSource: 'the journal of ray', spec, compare: [[{ text: 'simulation.launchLatency=1s', path: ['simulation', 'launchLatency'], value: '1s' }]], seed: 3 });
    const [first, second] = [await run(), await run()];
    expect(second).toEqual(first);
    const [measured, fast] = first.settings;
    expect(measured?.spec.simulation?.launchLatency).toEqual({ kind: 'empirical', samplesMs: [12_000, 15_000, 18_000] });
    expect(fast?.spec.simulation?.launchLatency).toEqual({ kind: 'fixed', ms: 1000 });
    // The one-CPU tasks on two 2-CPU workers (the fifth waits for a slot), and the GPU task on the GPU group.
    expect(measured?.report.nodesLaunchedByGroup).toEqual({ worker: 2, gpu: 1 });
    expect(measured?.report.unplaced).toBe(0);
    expect(fast?.report.demandToCapacityS.max ?? Infinity).toBeLessThan(measured?.report.demandToCapacityS.p50 ?? 0);
  });

  it('lets the spec set the launch latency over the measured one', async () => {
    const { workload } = await readRecordedDemand(recorded);
    const result = await whatIf({ workload, workloadSource: 'the journal of ray', spec: { simulation: { launchLatency: '45s' } } });
    expect(result.settings[0]?.spec.simulation?.launchLatency).toEqual({ kind: 'fixed', ms: 45_000 });
  });

  it('refuses a cluster that left no state here, and one whose watcher recorded nothing, with codes', async () => {
    vi.stubEnv('RAYFLEET_HOME', root);
    const missing = await rayfleetErrorOf(() => readRecordedDemand('nosuch'));
    expect(missing).toMatchObject({ code: 'CLUSTER_NOT_FOUND', exitCode: 3 });
    expect(missing.message).toContain('no cluster named nosuch');
    // The name finds the cluster under RAYFLEET_HOME, as every command finds it.
    expect((await readRecordedDemand('ray')).summary.cluster).toBe('ray');
    const empty = path.join(root, 'clusters', 'quiet');
    await new Journal(clusterPaths(empty).journal, 'quiet').append({ type: 'cluster-up', reason: 'up', newWorkers: 0 });
    const none = await rayfleetErrorOf(() => readRecordedDemand('quiet'));
    expect(none).toMatchObject({ code: 'HISTORY_EMPTY', exitCode: 3 });
    expect(none.details).toContain('history.jsonl does not exist');
    await mkdir(empty, { recursive: true });
    const idle = await ObservationHistory.open(empty, T0);
    await idle.append(historyPointOf(observation(T0, 2, [])));
    expect(await rayfleetErrorOf(() => readRecordedDemand('quiet'))).toMatchObject({ code: 'HISTORY_EMPTY', message: expect.stringContaining('never any demand') });
    expect(await rayfleetErrorOf(() => readRecordedDemand(recorded, { sinceMs: T0 + 3_600_000 }))).toMatchObject({ code: 'HISTORY_EMPTY', message: expect.stringContaining('in that window') });
  });

  it('reads a shape key back as the shape it describes', () => {
    expect(shapeOfKey('demand/{CPU: 1, GPU: 0.5, memory: 2147483648}')).toEqual({ CPU: 1, GPU: 0.5, memory: 2_147_483_648 });
  });
});
