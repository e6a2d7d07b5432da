// End to end, real Ray: a watcher killed at a failpoint and started again leaves the provider, Ray and the processes
// agreeing, with no node stopped twice and none left behind.
import { execa } from 'execa';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { processesOfNodes } from './support/processes.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

const BIN = path.resolve('bin/rayfleet.js');

describe('a watcher killed after Ray accepted a drain (failpoint drain.after-accept)', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await createTestCluster({ name: 'rff', workers: 0, max: 2, watcher: '{ enabled: false, interval: 500ms, idleTimeout: 2s }' });
    await cluster.up();
  });

  afterAll(async () => {
    await cluster.run(['watcher', 'stop']);
    await cluster.down();
  });

  it('is started again and stops the drained node exactly once: provider, Ray and processes agree', async () => {
    const added = await cluster.run(['add-worker']);
    expect(added.exitCode, added.stderr).toBe(0);
    const killed = await execa(process.execPath, [BIN, ...cluster.args(['watch'])], { cwd: cluster.sandbox.dir, env: { ...cluster.sandbox.env, RAYFLEET_FAILPOINTS: 'drain.after-accept' }, reject: false, timeout: 120_000 });
    expect(killed.signal).toBe('SIGKILL');
    // Killed between the accepted drain and the stop: the node's process is still there.
    expect(processesOfNodes(['rff-worker-1']).length).toBeGreaterThan(0);
    const restarted = await cluster.run(['watcher', 'start']);
    expect(restarted.exitCode, restarted.stderr).toBe(0);
    const status = await pollUntil(
      async () => {
        const current = await cluster.json<ClusterStatus>(['status']);
        return current.nodes.length === 1 && processesOfNodes(['rff-worker-1']).length === 0 ? current : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1_000, describe: () => 'rff-worker-1 gone from the provider and the machine' },
    );
    expect(status.nodes.map((node) => [node.name, node.ray?.status])).toEqual([['rff-head', 'IDLE']]);
    expect(status.unmanaged).toEqual([]);
    const events = await cluster.json<Array<{ type: string; node?: string }>>(['events']);
    const ofWorker = events.filter((event) => event.node === 'rff-worker-1').map((event) => event.type);
    expect(ofWorker.filter((type) => type === 'drain')).toHaveLength(1);
    expect(ofWorker.filter((type) => type === 'terminate')).toHaveLength(1);
    expect(ofWorker).not.toContain('launch-failed');
  });
});
