import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RayfleetError } from '../errors.js';
import type { ClusterResourceState, RayNodeState } from '../ray/cluster-resource-state.js';
import type { DashboardClient } from '../ray/dashboard-client.js';
import type { GcsClient } from '../ray/gcs-client.js';
import type { Instance, NodeProvider } from '../providers/node-provider.js';
import type { WorkerGroupSpec } from '../spec/schema.js';
import { observeCluster, type ObserveDeps } from './observe.js';

const worker: WorkerGroupSpec = { name: 'worker', cpus: 2, gpus: 0, resources: {}, min: 0, max: 5 };

function instance(name: string, state: Instance['state'], role: Instance['role'] = 'worker'): Instance {
  return { name, role, group: role === 'head' ? 'head' : 'worker', index: Number(name.at(-1)), providerId: '1', state, address: undefined, createdAt: new Date(0), resources: { cpus: 2, gpus: 0, custom: {} } };
}

const state: ClusterResourceState = {
  version: 3,
  sessionName: 's',
  nodeStates: [
    { nodeId: 'h', instanceId: 'ray-head', nodeTypeName: 'head', status: 'IDLE', idleMs: 5, totalResources: { CPU: 1 }, availableResources: { CPU: 1 }, ipAddress: '', activity: [], labels: {} },
    { nodeId: 'a', instanceId: 'ray-worker-1', nodeTypeName: 'worker', status: 'IDLE', idleMs: 70_000, totalResources: { CPU: 2 }, availableResources: { CPU: 2 }, ipAddress: '', activity: [], labels: {} },
    { nodeId: 'old', instanceId: 'ray-worker-2', nodeTypeName: 'worker', status: 'DEAD', idleMs: 0, totalResources: {}, availableResources: {}, ipAddress: '', activity: [], labels: {} },
    { nodeId: 'd', instanceId: 'ray-worker-3', nodeTypeName: 'worker', status: 'DRAINING', idleMs: 0, totalResources: { CPU: 2 }, availableResources: { CPU: 2 }, ipAddress: '', activity: [], labels: {} },
  ],
  pendingRequests: [{ shape: { CPU: 1 }, count: 4, constraints: [] }],
  pendingGangs: [{ details: 'pg', bundles: [{ shape: { CPU: 1 }, constraints: [{ antiAffinity: { label: '_PG_x', value: '' } }] }] }],
  constraints: [[{ shape: { CPU: 8 }, count: 1, constraints: [] }]],
};

function deps(overrides: { list?: () => Promise<Instance[]>; gcsState?: () => Promise<ClusterResourceState>; dashboard?: () => Promise<unknown> }): ObserveDeps {
  const provider = { list: overrides.list ?? (async () => [instance('ray-head', 'running', 'head'), instance('ray-worker-1', 'running'), instance('ray-worker-2', 'running'), instance('ray-worker-3', 'running'), instance('ray-worker-4', 'stopped')]) } as unknown as NodeProvider;
  const gcs = { getClusterResourceState: overrides.gcsState ?? (async () => state) } as unknown as GcsClient;
  const dashboard = { clusterStatus: overrides.dashboard ?? (async () => ({})) } as unknown as DashboardClient;
  return { provider, gcs, dashboard, headName: 'ray-head', defaultGroup: worker, now: () => 1000 };
}

const unreachable = async (): Promise<never> => {
  throw new RayfleetError('RAY_UNREACHABLE', 'no GCS');
};

describe('observeCluster', () => {
  it('joins workers with Ray by instance id: registered, launching (a name reused after a dead node), draining, dead', async () => {
    const observation = await observeCluster(deps({}));
    expect(observation.source).toBe('gcs');
    expect(observation.workers.map((entry) => [entry.name, entry.phase])).toEqual([
      ['ray-worker-1', 'registered'],
      ['ray-worker-2', 'launching'],
      ['ray-worker-3', 'draining'],
      ['ray-worker-4', 'dead'],
    ]);
    expect(observation.workers[0]?.ray).toMatchObject({ nodeId: 'a', idle: true, idleMs: 70_000 });
    expect(observation.headAvailable).toEqual({ CPU: 1 });
    expect(observation.demand).toEqual({
      shapes: [{ shape: { CPU: 1 }, count: 4 }],
      gangs: [{ id: '_PG_x', strategy: 'STRICT_SPREAD', bundles: [{ CPU: 1 }] }],
      constraints: [{ shape: { CPU: 8 }, count: 1 }],
    });
    expect(observation).toMatchObject({ providerOk: true, rayOk: true, problems: [] });
  });

  it('says so when the provider cannot list, and never pretends there are no nodes', async () => {
    const observation = await observeCluster(deps({ list: async () => Promise.reject(new Error('disk gone')) }));
    expect(observation.providerOk).toBe(false);
    expect(observation.problems).toEqual(['provider: disk gone']);
  });

  it("falls back to the dashboard's demand by shape when the GCS is out of reach", async () => {
    const observation = await observeCluster(
      deps({ gcsState: unreachable, dashboard: async () => ({ data: { clusterStatus: { loadMetricsReport: { resourceDemand: [[{ CPU: 2 }, 3]], usage: { CPU: [1, 4] } } } } }) }),
    );
    expect(observation.source).toBe('dashboard');
    expect(observation.rayOk).toBe(false);
    expect(observation.demand.shapes).toEqual([{ shape: { CPU: 2 }, count: 3 }]);
    expect(observation.problems[0]).toMatch(/^GCS: no GCS/);
    // Without Ray's view, running workers count as registered: kept, never cleaned up as stuck launches.
    expect(observation.workers.find((entry) => entry.name === 'ray-worker-2')?.phase).toBe('registered');
  });

  it('falls back to the old CPU rule: one default worker when CPUs are 90% busy', async () => {
    const busy = await observeCluster(deps({ gcsState: unreachable, dashboard: async () => ({ data: { clusterStatus: { loadMetricsReport: { resourceDemand: [], usage: { CPU: [3.6, 4] } } } } }) }));
    expect(busy.source).toBe('cpu-heuristic');
    expect(busy.demand.shapes).toEqual([{ shape: { CPU: 2 }, count: 1 }]);
    const calm = await observeCluster(deps({ gcsState: unreachable, dashboard: async () => ({ data: { clusterStatus: { loadMetricsReport: { usage: { CPU: [1, 4] } } } } }) }));
    expect(calm.demand.shapes).toEqual([]);
  });

  it('reports both failures when neither the GCS nor the dashboard answers', async () => {
    const observation = await observeCluster(deps({ gcsState: unreachable, dashboard: unreachable }));
    expect(observation.source).toBe('cpu-heuristic');
    expect(observation.problems).toEqual(['GCS: no GCS', 'dashboard: no GCS']);
  });
});

describe('observeCluster: a node Ray shows alive is never dead, whatever the provider says', () => {
  function rayNode(instanceId: string, status: RayNodeState['status']): RayNodeState {
    return { nodeId: `id-${instanceId}`, instanceId, nodeTypeName: 'worker', status, idleMs: 90_000, totalResources: { CPU: 2 }, availableResources: { CPU: 2 }, ipAddress: '', activity: [], labels: {} };
  }
  const look = (provider: Instance['state'], ray: Array<RayNodeState['status']>) =>
    observeCluster(
      deps({
        list: async () => [instance('ray-head', 'running', 'head'), instance('ray-worker-1', provider)],
        gcsState: async () => ({ ...state, nodeStates: ray.map((status) => rayNode('ray-worker-1', status)) }),
      }),
    );

  it.each([
    ['failed', ['IDLE'], 'registered', 'failed'],
    ['failed', ['RUNNING'], 'registered', 'failed'],
    ['stopped', ['IDLE'], 'registered', 'stopped'],
    ['failed', ['DRAINING'], 'draining', 'failed'],
    ['failed', ['DEAD', 'IDLE'], 'registered', 'failed'],
    ['failed', ['DEAD'], 'dead', undefined],
    ['failed', [], 'dead', undefined],
    ['stopped', [], 'dead', undefined],
    ['running', ['IDLE'], 'registered', undefined],
  ] as const)('provider %s, Ray %j → %s (providerEnded %s)', async (provider, ray, phase, ended) => {
    const [worker] = (await look(provider, [...ray])).workers;
    expect(worker?.phase).toBe(phase);
    expect(worker?.providerEnded).toBe(ended);
    if (phase !== 'dead') expect(worker?.ray?.nodeId).toBe('id-ray-worker-1');
  });

  it('holds for any provider state and any Ray statuses (property)', async () => {
    const states: Array<Instance['state']> = ['starting', 'running', 'stopping', 'stopped', 'failed'];
    const statuses: Array<RayNodeState['status']> = ['RUNNING', 'IDLE', 'DRAINING', 'DEAD'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...states), fc.array(fc.constantFrom(...statuses), { maxLength: 3 }), async (provider, ray) => {
        const [worker] = (await look(provider, ray)).workers;
        const aliveInRay = ray.some((status) => status !== 'DEAD');
        expect(worker?.phase === 'dead').toBe(!aliveInRay && (provider === 'stopped' || provider === 'failed'));
        if (aliveInRay) expect(worker?.ray).toBeDefined();
        expect(worker?.providerEnded !== undefined).toBe(aliveInRay && (provider === 'stopped' || provider === 'failed'));
      }),
      { numRuns: 200 },
    );
  });
});
