// End to end, real Ray: with head.faultTolerance, a head whose GCS is SIGKILLed is restarted by the watcher on the same
// ports from its store, and the workers ride it out: the same raylet processes, the same Ray node ids.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { processesOfNodes } from './support/processes.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

describe('a fault-tolerant local head killed under its workers', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await createTestCluster({ name: 'rfh', workers: 2, max: 2, headFaultTolerance: true, watcher: '{ interval: 500ms, idleTimeout: 10m }' });
    await cluster.up();
  });

  afterAll(async () => {
    await cluster.down();
  });

  const workerIds = (status: ClusterStatus) => Object.fromEntries(status.nodes.filter((node) => node.role === 'worker').map((node) => [node.name, node.ray?.nodeId]));

  it('is restarted on its ports by the watcher, journaled, and the workers keep their raylets and node ids', async () => {
    const before = await cluster.json<ClusterStatus>(['status']);
    const ids = workerIds(before);
    expect(Object.values(ids).every((id) => id !== undefined)).toBe(true);
    const raylets = processesOfNodes(['rfh-worker-1', 'rfh-worker-2']).filter((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'raylet');
    expect(raylets).toHaveLength(2);
    const gcs = processesOfNodes(['rfh-head']).filter((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'gcs_server');
    expect(gcs).toHaveLength(1);
    // Killed on purpose: the fixture's watch would take it for a lost head.
    cluster.headWatch.stop();
    process.kill(gcs[0] ?? 0, 'SIGKILL');
    const after = await pollUntil(
      async () => {
        const status = await cluster.json<ClusterStatus>(['status']).catch(() => undefined);
        const alive = status?.nodes.filter((node) => node.ray !== null && node.ray.status !== 'DEAD') ?? [];
        return status !== undefined && alive.length === 3 && status.rayError === undefined ? status : undefined;
      },
      { timeoutMs: 150_000, intervalMs: 1_000, describe: () => 'the head restarted and both workers alive in Ray' },
    );
    cluster.headWatch.resume();
    expect(after.address).toBe(before.address);
    expect(after.ports).toEqual(before.ports);
    expect(workerIds(after)).toEqual(ids);
    expect(raylets.every((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'raylet')).toBe(true);
    const events = await cluster.json<Array<{ type: string }>>(['events']);
    expect(events.filter((event) => event.type === 'head-died')).toHaveLength(1);
    expect(events.filter((event) => event.type === 'head-restarted')).toHaveLength(1);
  });
});
