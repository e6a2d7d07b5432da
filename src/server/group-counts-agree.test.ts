// One observation of a cluster, counted by every reader of group counts: the watcher's status, `status`, the API (from the
// watcher and from status) and the page's snapshot must say the same, with Ray's word that a node is alive winning.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeClusterRecord } from '../fleet/cluster-record.js';
import { Fleet } from '../fleet/fleet.js';
import type { Instance, InstanceState, NodeProvider } from '../providers/node-provider.js';
import type { ClusterResourceState, RayNodeState, RayNodeStatus } from '../ray/cluster-resource-state.js';
import { clusterSpecSchema } from '../spec/schema.js';
import { pollUntil } from '../wait/poll-until.js';
import { FleetClusterControl } from './fleet-cluster-control.js';

const CLUSTER = 'agree';

function instance(name: string, group: string, index: number, state: InstanceState): Instance {
  return { name, role: name.endsWith('-head') ? 'head' : 'worker', group, index, providerId: name, state, address: undefined, createdAt: new Date(0), resources: { cpus: 1, gpus: 0, custom: {} } };
}

function rayNode(instanceId: string, status: RayNodeStatus): RayNodeState {
  return { nodeId: `${instanceId}-${status}`, instanceId, nodeTypeName: '', status, idleMs: 0, totalResources: { CPU: 1 }, availableResources: { CPU: 1 }, ipAddress: '', activity: [], labels: {} };
}

/** The one observation: every phase, and a worker its provider calls stopped that Ray shows alive (registered, not dead). */
const instances = [
  instance('agree-head', 'head', 0, 'running'),
  instance('agree-worker-1', 'worker', 1, 'running'),
  instance('agree-worker-2', 'worker', 2, 'starting'),
  instance('agree-worker-3', 'worker', 3, 'stopped'),
  instance('agree-worker-4', 'worker', 4, 'running'),
  instance('agree-worker-5', 'worker', 5, 'failed'),
  instance('agree-gpu-1', 'gpu', 1, 'running'),
];
const rayNodes = [
  rayNode('agree-head', 'IDLE'),
  rayNode('agree-worker-1', 'RUNNING'),
  rayNode('agree-worker-3', 'IDLE'),
  rayNode('agree-worker-4', 'DRAINING'),
  rayNode('agree-worker-5', 'DEAD'),
  rayNode('agree-gpu-1', 'IDLE'),
];
const expected = [
  { name: 'worker', min: 1, max: 8, registered: 2, launching: 1, draining: 1, dead: 1, unknown: 0 },
  { name: 'gpu', min: 0, max: 2, registered: 1, launching: 0, draining: 0, dead: 0, unknown: 0 },
  { name: 'tpu', min: 0, max: 1, registered: 0, launching: 0, draining: 0, dead: 0, unknown: 0 },
];

const provider: NodeProvider = {
  type: 'memory',
  launch: () => Promise.reject(new Error('this cluster launches nothing')),
  terminate: () => Promise.reject(new Error('this cluster stops nothing')),
  list: async () => instances,
  logs: async function* () {},
};
const state: ClusterResourceState = { version: 1, sessionName: 'agree', nodeStates: rayNodes, pendingRequests: [], pendingGangs: [], constraints: [] };
const backend = {
  provider,
  gcs: { getClusterResourceState: async () => state, drainNode: () => Promise.reject(new Error('this cluster drains nothing')) },
};

/** The counts without the back-off, which only the watcher knows (agree-worker-5 failed before it joined: a failed launch). */
function counts(groups: ReadonlyArray<{ backoffUntil?: string | null | undefined }>): unknown[] {
  return groups.map(({ backoffUntil: _backoff, ...count }) => count);
}

let home: string;
let previousHome: string | undefined;

beforeEach(async () => {
  previousHome = process.env.RAYFLEET_HOME;
  home = await mkdtemp(path.join(os.tmpdir(), 'rf-agree-'));
  process.env.RAYFLEET_HOME = home;
});

afterEach(async () => {
  if (previousHome === undefined) delete process.env.RAYFLEET_HOME;
  else process.env.RAYFLEET_HOME = previousHome;
  await rm(home, { recursive: true, force: true });
});

describe('group counts', () => {
  it('are the same from the watcher, status, the API and the page, for one observation', async () => {
    const spec = clusterSpecSchema.parse({
      name: CLUSTER,
      workerGroups: [
        { name: 'worker', min: 1, max: 8 },
        { name: 'gpu', gpus: 1, min: 0, max: 2 },
        { name: 'tpu', min: 0, max: 1 },
      ],
      // Paused: the watcher observes and writes its status, and acts on nothing.
      watcher: { enabled: false, paused: true, interval: '100ms' },
    });
    const stateDir = path.join(home, 'clusters', CLUSTER);
    await writeClusterRecord(path.join(stateDir, 'cluster.json'), { createdAt: new Date().toISOString(), spec, ports: { gcsPort: 1, dashboardPort: 2, clientPort: 3, servePort: 4, portOffset: 0 } });
    const fleet = await Fleet.open({ spec, stateDir, backend });
    const control = new FleetClusterControl({ backend });
    const watching = new AbortController();
    const watcher = fleet.watcher.run(watching.signal);
    try {
      const written = await pollUntil(async () => (await fleet.watcher.view()).current, { timeoutMs: 10_000, intervalMs: 20, describe: () => 'the watcher to write its status' });
      expect(counts(written.groups)).toEqual(expected);
      expect((await fleet.status()).groups).toEqual(expected);
      const fromWatcher = await control.groups(CLUSTER);
      expect(fromWatcher.countedBy).toBe('watcher');
      expect(counts(fromWatcher.groups)).toEqual(expected);
      expect((await control.snapshot(CLUSTER)).watcher.groups).toEqual(fromWatcher.groups);
    } finally {
      watching.abort();
      await watcher;
    }
    // No watcher runs now: the API counts what the provider and Ray say, by the same rule.
    const fromStatus = await control.groups(CLUSTER);
    expect(fromStatus.countedBy).toBe('status');
    expect(counts(fromStatus.groups)).toEqual(expected);
    expect((await control.snapshot(CLUSTER)).watcher.groups).toEqual(fromStatus.groups);
    control.close();
    fleet.close();
  });
});
