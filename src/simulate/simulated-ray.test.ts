// SimulatedRay: registration after launch, placement by fit, demand and idle time as the GCS reports them, drains as Ray answers them, faults.
import { describe, expect, it } from 'vitest';
import { isRayfleetError, type RayfleetError } from '../errors.js';
import { MemoryProvider } from '../providers/memory/memory-provider.js';
import type { LaunchRequest } from '../providers/node-provider.js';
import type { RayNodeState } from '../ray/cluster-resource-state.js';
import { VirtualClock } from '../time/virtual-clock.js';
import { SimulatedRay } from './simulated-ray.js';

function request(name: string, group: string, cpus: number, gpus = 0): LaunchRequest {
  return { name, role: group === 'head' ? 'head' : 'worker', group, index: 1, resources: { cpus, gpus, custom: group === 'tpu' ? { TPU: 4 } : {} }, env: {} };
}

function setup(options: { launchLatency?: number; registrationDelay?: number; terminateLatency?: number } = {}) {
  const clock = new VirtualClock({ startMs: 0 });
  const provider = new MemoryProvider({ clock, launchLatency: options.launchLatency ?? 0, terminateLatency: options.terminateLatency ?? 0 });
  const ray = new SimulatedRay({ provider, clock, registrationDelay: options.registrationDelay ?? 0 });
  return { clock, provider, ray };
}

async function nodesOf(ray: SimulatedRay): Promise<Map<string, RayNodeState>> {
  const state = await ray.getClusterResourceState();
  return new Map(state.nodeStates.map((node) => [node.instanceId, node]));
}

async function failureOf(work: () => Promise<unknown>): Promise<RayfleetError> {
  const error = await work().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isRayfleetError(error)) throw new Error(`expected a RayfleetError, got ${String(error)}`);
  return error;
}

describe('SimulatedRay', () => {
  it('registers a node a while after its instance runs, with its launch resources, name and group', async () => {
    const { clock, provider, ray } = setup({ launchLatency: 5 * 60_000, registrationDelay: 3_000 });
    await provider.launch(request('ray-gpu-1', 'gpu', 4, 1));
    await clock.advance(5 * 60_000 + 2_999);
    expect((await ray.getClusterResourceState()).nodeStates).toEqual([]);
    await clock.advance(1);
    const [node] = (await ray.getClusterResourceState()).nodeStates;
    expect(node).toMatchObject({ instanceId: 'ray-gpu-1', nodeTypeName: 'gpu', status: 'IDLE', idleMs: 0, ipAddress: '10.0.0.1' });
    expect(node?.nodeId).toMatch(/^[0-9a-f]{56}$/);
    expect(node?.totalResources).toMatchObject({ CPU: 4, GPU: 1, 'node:10.0.0.1': 1 });
    expect(node?.availableResources).toEqual(node?.totalResources);
  });

  it('places tasks by fit, reports what waits by shape with counts, and frees the resources when they finish', async () => {
    const { clock, provider, ray } = setup();
    await provider.launch(request('ray-worker-1', 'worker', 2));
    ray.submit({ kind: 'task', shape: { CPU: 1 }, count: 3, durationMs: 10_000 });
    ray.submit({ kind: 'actor', shape: { CPU: 1, GPU: 1 }, durationMs: 60_000 });
    const state = await ray.getClusterResourceState();
    expect(state.pendingRequests).toEqual([
      { shape: { CPU: 1 }, constraints: [], count: 1 },
      { shape: { CPU: 1, GPU: 1 }, constraints: [], count: 1 },
    ]);
    expect(state.nodeStates[0]).toMatchObject({ status: 'RUNNING', idleMs: 0, availableResources: expect.objectContaining({ CPU: 0 }) });
    expect(state.nodeStates[0]?.activity).toContain('Resource: CPU currently in use.');
    await clock.advance(10_000);
    const later = await ray.getClusterResourceState();
    expect(later.pendingRequests).toEqual([{ shape: { CPU: 1, GPU: 1 }, constraints: [], count: 1 }]);
    expect(later.nodeStates[0]?.availableResources.CPU).toBe(1);
    await clock.advance(10_000);
    const units = ray.units();
    expect(units.map((unit) => [unit.placedAtMs, unit.finishedAtMs])).toEqual([
      [0, 10_000],
      [0, 10_000],
      [10_000, 20_000],
      [undefined, undefined],
    ]);
    expect(units[0]?.nodes).toEqual(['ray-worker-1']);
  });

  it('reports idle time since registration, and since the last work ended', async () => {
    const { clock, provider, ray } = setup();
    await provider.launch(request('ray-worker-1', 'worker', 1));
    await clock.advance(30_000);
    expect((await nodesOf(ray)).get('ray-worker-1')).toMatchObject({ status: 'IDLE', idleMs: 30_000 });
    ray.submit({ kind: 'task', shape: { CPU: 1 }, durationMs: 5_000 });
    expect((await nodesOf(ray)).get('ray-worker-1')).toMatchObject({ status: 'RUNNING', idleMs: 0 });
    await clock.advance(12_000);
    expect((await nodesOf(ray)).get('ray-worker-1')).toMatchObject({ status: 'IDLE', idleMs: 7_000 });
  });

  it('keeps non-GPU work off GPU nodes while another node can take it', async () => {
    const { provider, ray } = setup();
    await provider.launch(request('ray-gpu-1', 'gpu', 8, 1));
    await provider.launch(request('ray-worker-1', 'worker', 2));
    const units = ray.submit({ kind: 'task', shape: { CPU: 1 }, count: 4, durationMs: 1_000 });
    const gpuTask = ray.submit({ kind: 'task', shape: { CPU: 1, GPU: 1 }, durationMs: 1_000 });
    expect(units.map((unit) => unit.nodes[0])).toEqual(['ray-worker-1', 'ray-worker-1', 'ray-gpu-1', 'ray-gpu-1']);
    expect(gpuTask[0]?.nodes).toEqual(['ray-gpu-1']);
  });

  it('packs onto the first node below half use, then spreads to the least used', async () => {
    const { provider, ray } = setup();
    await provider.launch(request('ray-worker-1', 'worker', 4));
    await provider.launch(request('ray-worker-2', 'worker', 4));
    const units = ray.submit({ kind: 'task', shape: { CPU: 1 }, count: 5, durationMs: 1_000 });
    // worker-1 takes work until half used (2 of 4), then the less used worker-2 gets it, then they alternate.
    expect(units.map((unit) => unit.nodes[0])).toEqual(['ray-worker-1', 'ray-worker-1', 'ray-worker-2', 'ray-worker-2', 'ray-worker-1']);
    const spread = ray.submit({ kind: 'task', shape: { CPU: 0.5 }, strategy: 'SPREAD', count: 1, durationMs: 1_000 });
    expect(spread[0]?.nodes).toEqual(['ray-worker-2']);
  });

  it('reports a STRICT_SPREAD group as a gang with its anti-affinity until enough nodes exist, then places each bundle on its own node', async () => {
    const { clock, provider, ray } = setup({ launchLatency: 1_000 });
    await provider.launch(request('ray-worker-1', 'worker', 4));
    await clock.advance(1_000);
    const [group] = ray.submit({ kind: 'placement-group', bundles: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], strategy: 'STRICT_SPREAD', durationMs: 60_000 });
    const state = await ray.getClusterResourceState();
    expect(state.pendingRequests).toEqual([]);
    expect(state.pendingGangs).toHaveLength(1);
    const label = state.pendingGangs[0]?.bundles[0]?.constraints[0]?.antiAffinity?.label;
    expect(label).toMatch(/^_PG_[0-9a-f]+$/);
    expect(state.pendingGangs[0]?.bundles.map((bundle) => bundle.shape)).toEqual([{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }]);
    expect(state.pendingGangs[0]?.details).toMatch(/:STRICT_SPREAD\|PENDING$/);
    await provider.launch(request('ray-worker-2', 'worker', 4));
    await provider.launch(request('ray-worker-3', 'worker', 4));
    await clock.advance(1_000);
    const placed = await ray.getClusterResourceState();
    expect(placed.pendingGangs).toEqual([]);
    expect([...(group?.nodes ?? [])].sort()).toEqual(['ray-worker-1', 'ray-worker-2', 'ray-worker-3']);
    for (const node of placed.nodeStates) expect(node.labels).toEqual({ [label ?? '']: '' });
    expect(group?.placedAtMs).toBe(2_000);
  });

  it('puts a STRICT_PACK group on one node, and reports its affinity while it waits', async () => {
    const { clock, provider, ray } = setup({ launchLatency: 1_000 });
    await provider.launch(request('ray-worker-1', 'worker', 2));
    await provider.launch(request('ray-worker-2', 'worker', 2));
    await clock.advance(1_000);
    const [group] = ray.submit({ kind: 'placement-group', bundles: [{ CPU: 2 }, { CPU: 2 }], strategy: 'STRICT_PACK', durationMs: 10_000 });
    const state = await ray.getClusterResourceState();
    expect(state.pendingGangs[0]?.bundles[0]?.constraints[0]?.affinity?.label).toMatch(/^_PG_/);
    const [pack] = ray.submit({ kind: 'placement-group', bundles: [{ CPU: 2 }, { CPU: 2 }], strategy: 'PACK', durationMs: 10_000 });
    expect(pack?.nodes).toEqual(['ray-worker-1', 'ray-worker-2']);
    await provider.launch(request('ray-big-1', 'big', 4));
    await clock.advance(1_000);
    ray.units();
    expect(group?.nodes).toEqual(['ray-big-1', 'ray-big-1']);
  });

  it('accepts an idle drain, shows the node DRAINING, then DEAD; rejects a busy one with Ray’s reason', async () => {
    const { clock, provider, ray } = setup();
    await provider.launch(request('ray-worker-1', 'worker', 1));
    await provider.launch(request('ray-worker-2', 'worker', 1));
    ray.submit({ kind: 'task', shape: { CPU: 1 }, durationMs: 60_000 });
    const nodes = await nodesOf(ray);
    const busy = nodes.get('ray-worker-1');
    const idle = nodes.get('ray-worker-2');
    expect(await ray.drainNode(busy?.nodeId ?? '', 'IDLE_TERMINATION', 'idle 60 s')).toEqual({ accepted: false, rejectionReason: 'The node to be idle terminated is no longer idle.' });
    expect(await ray.drainNode(idle?.nodeId ?? '', 'IDLE_TERMINATION', 'idle 60 s')).toEqual({ accepted: true, rejectionReason: '' });
    expect((await nodesOf(ray)).get('ray-worker-2')?.status).toBe('DRAINING');
    // A draining node takes no new work.
    ray.submit({ kind: 'task', shape: { CPU: 1 }, durationMs: 1_000 });
    expect((await ray.getClusterResourceState()).pendingRequests).toEqual([{ shape: { CPU: 1 }, constraints: [], count: 1 }]);
    await clock.advance(1_000);
    expect((await nodesOf(ray)).get('ray-worker-2')).toMatchObject({ status: 'DEAD', totalResources: {} });
    expect(ray.drains.map((drain) => [drain.instanceId, drain.accepted, drain.message])).toEqual([
      ['ray-worker-1', false, 'idle 60 s'],
      ['ray-worker-2', true, 'idle 60 s'],
    ]);
    // Unknown nodes are accepted, as the GCS does; a malformed id is an error.
    expect((await ray.drainNode('ab'.repeat(28), 'IDLE_TERMINATION', 'gone')).accepted).toBe(true);
    expect((await failureOf(() => ray.drainNode('nope', 'IDLE_TERMINATION', 'x'))).code).toBe('RAY_REQUEST_FAILED');
  });

  it('accepts a preemption of a busy node, which leaves once its work is done', async () => {
    const { clock, provider, ray } = setup();
    await provider.launch(request('ray-worker-1', 'worker', 1));
    ray.submit({ kind: 'task', shape: { CPU: 1 }, durationMs: 10_000 });
    const node = (await nodesOf(ray)).get('ray-worker-1');
    expect((await ray.drainNode(node?.nodeId ?? '', 'PREEMPTION', 'spot')).accepted).toBe(true);
    await clock.advance(10_000);
    expect((await nodesOf(ray)).get('ray-worker-1')?.status).toBe('DRAINING');
    await clock.advance(1_000);
    expect((await nodesOf(ray)).get('ray-worker-1')?.status).toBe('DEAD');
    expect(ray.units()[0]?.finishedAtMs).toBe(10_000);
  });

  it('marks a node DEAD when the provider terminates it, and places its work again', async () => {
    const { clock, provider, ray } = setup({ terminateLatency: 5_000 });
    await provider.launch(request('ray-worker-1', 'worker', 1));
    const [task] = ray.submit({ kind: 'task', shape: { CPU: 1 }, durationMs: 60_000 });
    await clock.advance(1_000);
    void provider.terminate('ray-worker-1');
    expect((await nodesOf(ray)).get('ray-worker-1')?.status).toBe('DEAD');
    expect((await ray.getClusterResourceState()).pendingRequests).toEqual([{ shape: { CPU: 1 }, constraints: [], count: 1 }]);
    expect(task).toMatchObject({ restarts: 1, nodes: [], placedAtMs: 0 });
    await provider.launch(request('ray-worker-2', 'worker', 1));
    ray.units();
    expect(task?.nodes).toEqual(['ray-worker-2']);
    provider.kill('ray-worker-2');
    expect((await nodesOf(ray)).get('ray-worker-2')?.status).toBe('DEAD');
    expect(task?.restarts).toBe(2);
  });

  it('never registers a node that ended before it came up', async () => {
    const { clock, provider, ray } = setup({ registrationDelay: 10_000 });
    await provider.launch(request('ray-worker-1', 'worker', 1));
    await clock.advance(5_000);
    await provider.terminate('ray-worker-1');
    await clock.advance(10_000);
    expect((await ray.getClusterResourceState()).nodeStates).toEqual([]);
  });

  it('reports request_resources() constraints, and clears them with an empty one', async () => {
    const { ray } = setup();
    await ray.requestClusterResourceConstraint([{ shape: { CPU: 4 }, count: 2 }]);
    expect((await ray.getClusterResourceState()).constraints).toEqual([[{ shape: { CPU: 4 }, constraints: [], count: 2 }]]);
    await ray.requestClusterResourceConstraint([]);
    expect((await ray.getClusterResourceState()).constraints).toEqual([]);
  });

  it('fails as an unreachable GCS, answers without nodes, and times a drain out after accepting it', async () => {
    const { clock, provider, ray } = setup();
    await provider.launch(request('ray-worker-1', 'worker', 1));
    ray.unreachable = true;
    expect((await failureOf(() => ray.getClusterResourceState())).code).toBe('RAY_UNREACHABLE');
    expect((await failureOf(() => ray.drainNode('ab'.repeat(28), 'IDLE_TERMINATION', 'x'))).code).toBe('RAY_UNREACHABLE');
    ray.unreachable = false;
    ray.failStates({ count: 2 });
    expect((await failureOf(() => ray.getClusterResourceState())).code).toBe('RAY_UNREACHABLE');
    expect((await failureOf(() => ray.getClusterResourceState())).code).toBe('RAY_UNREACHABLE');
    ray.answerWithoutNodes();
    ray.submit({ kind: 'task', shape: { CPU: 2 }, durationMs: 1_000 });
    const empty = await ray.getClusterResourceState();
    expect(empty.nodeStates).toEqual([]);
    expect(empty.pendingRequests).toHaveLength(1);
    const node = (await nodesOf(ray)).get('ray-worker-1');
    ray.timeOutDrainsAfterAcceptance();
    expect((await failureOf(() => ray.drainNode(node?.nodeId ?? '', 'IDLE_TERMINATION', 'idle'))).code).toBe('RAY_UNREACHABLE');
    await clock.advance(1_000);
    expect((await nodesOf(ray)).get('ray-worker-1')?.status).toBe('DEAD');
    expect(ray.calls.getClusterResourceState).toBe(6);
  });

  it('refuses work it cannot model', () => {
    const { ray } = setup();
    expect(() => ray.submit({ kind: 'placement-group', bundles: [], durationMs: 1 })).toThrow(/needs bundles/);
    expect(() => ray.submit({ kind: 'task', shape: { CPU: 1 }, strategy: 'STRICT_PACK', durationMs: 1 })).toThrow(/strategy STRICT_PACK/);
    expect(() => ray.submit({ kind: 'task', shape: { CPU: 1 }, count: 0, durationMs: 1 })).toThrow(/count 0/);
  });
});
