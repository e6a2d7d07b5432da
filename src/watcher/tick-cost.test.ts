import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterHandle } from '../fleet/cluster-handle.js';
import { writeClusterRecord } from '../fleet/cluster-record.js';
import { clusterPaths } from '../fleet/state-dir.js';
import { watcherClusterOf } from '../fleet/watcher-cluster-of.js';
import { silentLogger } from '../log/logger.js';
import { MemoryProvider } from '../providers/memory/memory-provider.js';
import { SimulatedRay } from '../simulate/simulated-ray.js';
import { DEFAULT_HEAD_PORTS, clusterSpecSchema } from '../spec/schema.js';
import { VirtualClock } from '../time/virtual-clock.js';
import { Watcher } from './watcher.js';
import { WatcherMetrics } from './watcher-metrics.js';

const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** The watcher over the fleet's own WatcherCluster (journal, status file, history) on the memory provider, its files in a temp dir. */
async function watchedCluster(groups: Array<Record<string, unknown>> = [{ name: 'worker', min: 2, max: 4 }]) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rf-idle-'));
  dirs.push(dir);
  const clock = new VirtualClock();
  const provider = new MemoryProvider({ clock });
  const ray = new SimulatedRay({ provider, clock, drainExitMs: 0 });
  const spec = clusterSpecSchema.parse({ name: 'idle', dashboard: { enabled: false }, workerGroups: groups, watcher: { idleTimeout: '10m' } });
  const paths = clusterPaths(path.join(dir, 'state'));
  const record = { createdAt: new Date(clock.now()).toISOString(), spec, ports: { ...DEFAULT_HEAD_PORTS, portOffset: 0 } };
  await writeClusterRecord(paths.clusterFile, record);
  const handle = new ClusterHandle({ paths, record, logger: silentLogger, progress: () => undefined, nodeStartTimeoutMs: 5_000, backend: { provider, gcs: ray } });
  await handle.launcher.launchHead('test');
  const real = watcherClusterOf(handle);
  let dashboards = 0;
  const cluster = { ...real, dashboard: () => ((dashboards += 1), real.dashboard()) };
  const watcher = new Watcher({ cluster, clock, metrics: new WatcherMetrics() });
  const ticks = async (count: number) => {
    for (let tick = 0; tick < count; tick += 1) {
      await watcher.tick(spec);
      await clock.advance(1_000);
    }
  };
  /** Every file of the cluster's state with its size and modification time. */
  const files = async () => {
    const names = (await readdir(paths.root, { recursive: true })).sort();
    return Promise.all(names.map(async (name) => {
      const info = await stat(path.join(paths.root, name));
      return `${name} ${info.size} ${info.mtimeMs}`;
    }));
  };
  return { ticks, files, provider, ray, dashboards: () => dashboards, journal: async () => (await handle.journal.read()).events };
}

describe('An idle tick', () => {
  it('writes no file and asks nothing of the dashboard while the GCS answers', async () => {
    const { ticks, files, provider, dashboards } = await watchedCluster();
    // Up to min, registered, the status and history written once.
    await ticks(4);
    expect((await provider.list()).filter((instance) => instance.role === 'worker')).toHaveLength(2);
    const before = await files();
    expect(before.some((line) => line.startsWith('watcher-status.json '))).toBe(true);
    expect(before.some((line) => line.startsWith('history.jsonl '))).toBe(true);
    // Within the status file's refresh (10 s) and the history's heartbeat (60 s), nothing changes: nothing is written.
    await ticks(5);
    expect(await files()).toEqual(before);
    expect(dashboards()).toBe(0);
  });
});

describe('A tick that launches in several groups', () => {
  it('launches one group after another, so no group waits for the launch lock another holds', async () => {
    const { ticks, ray, journal } = await watchedCluster([
      { name: 'big', min: 0, max: 2, cpus: 2 },
      { name: 'special', min: 0, max: 2, cpus: 1, resources: { special: 1 } },
    ]);
    ray.submit({ kind: 'task', shape: { CPU: 2 }, count: 1, durationMs: 60_000 });
    ray.submit({ kind: 'task', shape: { CPU: 1, special: 1 }, count: 1, durationMs: 60_000 });
    await ticks(1);
    // In parallel, both scale-ups were journaled before either group's launch (the second group then polled for the lock).
    const events = (await journal()).filter((event) => (event.type === 'scale-up' || event.type === 'launch') && event.group !== 'head');
    expect(events.map((event) => [event.type, 'group' in event ? event.group : undefined])).toEqual([
      ['scale-up', 'big'],
      ['launch', 'big'],
      ['scale-up', 'special'],
      ['launch', 'special'],
    ]);
  });
});
