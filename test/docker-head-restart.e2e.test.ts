// End to end on a real Docker Engine and real Ray: with head.faultTolerance, a head container killed whole is started
// again in place by the watcher, on the same address and published ports, and the worker containers ride it out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import type { JournalEvent } from '../src/journal/event.js';
import { findFreePort, isPortFree } from '../src/net/ports.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { containersLabelled, docker, ensureTestRayImage, networkExists, uniqueClusterName } from './support/docker.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

/** What a container is to the engine: which one, since when, where, and what it publishes. */
interface ContainerFacts {
  id: string;
  startedAt: string;
  address: string;
  published: string;
}

async function containerFacts(name: string): Promise<ContainerFacts> {
  const [id = '', startedAt = '', address = '', published = ''] = (
    await docker('inspect', name, '--format', '{{.Id}}|{{.State.StartedAt}}|{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}|{{json .NetworkSettings.Ports}}')
  ).split('|');
  return { id, startedAt, address, published };
}

/** An offset that makes every one of the head's published ports free on this host. */
async function freeOffset(ports: number[]): Promise<number> {
  for (let offset = 20_000 + ((await findFreePort()) % 20_000); ; offset += 7) {
    if ((await Promise.all(ports.map((port) => isPortFree(port + offset)))).every(Boolean)) return offset;
  }
}

describe('a fault-tolerant Docker head killed under its workers', () => {
  let cluster: TestCluster;
  const name = uniqueClusterName('rfk');
  const head = `${name}-head`;
  const workers = [`${name}-worker-1`, `${name}-worker-2`];

  beforeAll(async () => {
    const image = await ensureTestRayImage();
    const offset = await freeOffset([6379, 8265, 10001, 8000]);
    cluster = await createTestCluster({
      name,
      workers: 2,
      max: 2,
      ports: 'unset',
      headFaultTolerance: true,
      provider: `{ type: docker, image: ${image}, portOffset: ${offset} }`,
      watcher: '{ interval: 500ms, idleTimeout: 10m }',
    });
    await cluster.up();
  });

  afterAll(async () => {
    // Whatever a failed test left: `down` of a cluster already down only says so.
    await cluster.down();
  });

  const aliveIn = (status: ClusterStatus) => status.nodes.filter((node) => node.ray !== null && node.ray.status !== 'DEAD').map((node) => node.name);
  const nodeIds = (status: ClusterStatus) => Object.fromEntries(status.nodes.map((node) => [node.name, node.ray?.nodeId]));

  it('is started again in place by the watcher on its address and ports; the workers keep their containers and Ray node ids', async () => {
    const before = await cluster.json<ClusterStatus>(['status']);
    expect(aliveIn(before)).toEqual([head, ...workers]);
    const headBefore = await containerFacts(head);
    const workersBefore = await Promise.all(workers.map(containerFacts));
    // The head's address is the one its network keeps for it, pinned to its container.
    expect(await docker('network', 'inspect', `${name}-cluster`, '--format', '{{index .Labels "rayfleet.head-address"}}')).toBe(headBefore.address);
    expect(await docker('inspect', head, '--format', `{{(index .NetworkSettings.Networks "${name}-cluster").IPAMConfig.IPv4Address}}`)).toBe(headBefore.address);

    await docker('kill', head);
    const after = await pollUntil(
      async () => {
        const status = await cluster.json<ClusterStatus>(['status']).catch(() => undefined);
        // The store brings the old head's node back alive until the restored GCS finds it gone: wait for the new one.
        const restarted = status !== undefined && nodeIds(status)[head] !== nodeIds(before)[head];
        return restarted && status.rayError === undefined && aliveIn(status).length === 3 ? status : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, describe: () => 'the head back under a new Ray node id, and Ray seeing it and both workers alive' },
    );

    const headAfter = await containerFacts(head);
    // The same container, started again: its disk (the store) kept, its address and published ports the same.
    expect(headAfter.id).toBe(headBefore.id);
    expect(headAfter.startedAt).not.toBe(headBefore.startedAt);
    expect(headAfter.address).toBe(headBefore.address);
    expect(headAfter.published).toBe(headBefore.published);
    expect([after.address, after.ports]).toEqual([before.address, before.ports]);
    expect(after.nodes.find((node) => node.name === head)?.address).toBe(headBefore.address);
    // The workers were not restarted, and Ray knows them under the node ids they had; the head has a new one.
    expect(await Promise.all(workers.map(containerFacts))).toEqual(workersBefore);
    const ids = nodeIds(after);
    expect(workers.map((worker) => ids[worker])).toEqual(workers.map((worker) => nodeIds(before)[worker]));
    const events = await cluster.json<JournalEvent[]>(['events']);
    expect(events.filter((event) => event.type === 'head-died')).toHaveLength(1);
    expect(events.filter((event) => event.type === 'head-restarted')).toHaveLength(1);
  });

  it('`down` removes the head container, and its store with it, and the network', async () => {
    const down = await cluster.run(['down']);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(await containersLabelled(`rayfleet.cluster=${name}`)).toEqual([]);
    expect(await networkExists(`${name}-cluster`)).toBe(false);
  });
});
