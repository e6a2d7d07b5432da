// End to end, real Ray: a watcher killed at a failpoint and started again leaves the provider, Ray and the processes
// agreeing, with no node stopped twice and none left behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

  describe('the orphan sweep', () => {
    const made: ChildProcess[] = [];
    /** Another cluster's process of the same node name, made by the first test: no sweep may touch it. */
    let theirs: ChildProcess | undefined;
    /** A process made by hand as a node's would be, in a process group of its own, with no record. */
    function orphanLike(clusterId: string, name: string): ChildProcess {
      const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore', env: { ...process.env, RAYFLEET_CLUSTER_ID: clusterId, RAY_CLOUD_INSTANCE_ID: name } });
      made.push(child);
      return child;
    }
    const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

    afterAll(() => {
      for (const child of made) if (alive(child)) process.kill(-(child.pid ?? 0), 'SIGKILL');
    });

    it("reports a process with this cluster's id and no record, and the watcher stops it; another cluster's of the same name stays", async () => {
      const { clusterId } = JSON.parse(readFileSync(path.join(cluster.sandbox.env.RAYFLEET_HOME ?? '', 'clusters', 'rff', 'cluster.json'), 'utf8')) as { clusterId: string };
      expect(clusterId).toMatch(/^[0-9a-f-]{36}$/);
      const added = await cluster.run(['add-worker']);
      expect(added.exitCode, added.stderr).toBe(0);
      // A running node's processes, Ray's own among them, are never orphans.
      expect((await cluster.json<ClusterStatus>(['status'])).orphans).toEqual([]);
      const ours = orphanLike(clusterId, 'rff-worker-1');
      theirs = orphanLike('0e7c3b8e-0000-4000-8000-000000000000', 'rff-worker-1');
      const status = await pollUntil(async () => {
        const current = await cluster.json<ClusterStatus>(['status']);
        return (current.orphans ?? []).length > 0 ? current : undefined;
      }, { timeoutMs: 10_000, intervalMs: 200, describe: () => 'status to report the orphan' });
      expect(status.orphans).toEqual([{ providerId: String(ours.pid), name: 'rff-worker-1', pids: [ours.pid] }]);
      // The watcher the test before started, or a new one: it sweeps at its first tick.
      await cluster.run(['watcher', 'stop']);
      const started = await cluster.run(['watcher', 'start']);
      expect(started.exitCode, started.stderr).toBe(0);
      await pollUntil(async () => (alive(ours) ? undefined : true), { timeoutMs: 30_000, intervalMs: 200, describe: () => 'the watcher to stop the orphan' });
      expect(alive(theirs)).toBe(true);
      const events = await cluster.json<Array<{ type: string; providerId?: string; node?: string; reason: string }>>(['events']);
      expect(events.filter((event) => event.type === 'orphan-stopped').map((event) => event.providerId)).toEqual([String(ours.pid)]);
      // The recorded worker is not one: the sweep never stops it. (The watcher may drain it as the idle worker it is,
      // idleTimeout 2 s, in the same first ticks: then it went by a drain, never as an orphan.)
      const worker = (await cluster.json<ClusterStatus>(['status'])).nodes.find((node) => node.name === 'rff-worker-1');
      if (worker === undefined) expect(events.filter((event) => event.node === 'rff-worker-1' && event.type === 'drain')).not.toEqual([]);
      expect(events.filter((event) => event.node === 'rff-worker-1' && /orphan/i.test(event.reason))).toEqual([]);
    });

    it("is done by down too: this cluster's orphan is stopped, another cluster's is left alone", async () => {
      const { clusterId } = JSON.parse(readFileSync(path.join(cluster.sandbox.env.RAYFLEET_HOME ?? '', 'clusters', 'rff', 'cluster.json'), 'utf8')) as { clusterId: string };
      await cluster.run(['watcher', 'stop']);
      const ours = orphanLike(clusterId, 'rff-worker-7');
      const down = await cluster.down();
      expect(down.exitCode, down.stderr).toBe(0);
      await pollUntil(async () => (alive(ours) ? undefined : true), { timeoutMs: 10_000, intervalMs: 100, describe: () => '`down` to have stopped the orphan' });
      expect(theirs !== undefined && alive(theirs)).toBe(true);
    });
  });
});
