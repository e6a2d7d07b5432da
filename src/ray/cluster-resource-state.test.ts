import { describe, expect, it } from 'vitest';
import { toClusterResourceState, type RawClusterResourceState } from './cluster-resource-state.js';

const node = {
  node_id: Buffer.from('00ff10', 'hex'),
  instance_id: 'ray-worker-1',
  ray_node_type_name: 'worker',
  available_resources: { CPU: 0 },
  total_resources: { CPU: 1, memory: 1e9 },
  status: 'IDLE',
  idle_duration_ms: '65000',
  node_ip_address: '127.0.0.1',
  node_activity: [],
  labels: { 'ray.io/node-group': 'worker' },
};

const request = (shape: Record<string, number>, constraints: RawClusterResourceState['pending_gang_resource_requests'][number]['requests'][number]['placement_constraints'] = []) => ({
  resources_bundle: shape,
  placement_constraints: constraints,
});

describe('toClusterResourceState', () => {
  it('converts nodes: hex ids, numbers from int64 strings, known statuses', () => {
    const state = toClusterResourceState({
      cluster_resource_state_version: '42',
      cluster_session_name: 'session_x',
      node_states: [node, { ...node, status: 'SOMETHING_NEW' }],
      pending_resource_requests: [],
      pending_gang_resource_requests: [],
      cluster_resource_constraints: [],
    });
    expect(state.version).toBe(42);
    expect(state.nodeStates[0]).toEqual({
      nodeId: '00ff10',
      instanceId: 'ray-worker-1',
      nodeTypeName: 'worker',
      status: 'IDLE',
      idleMs: 65000,
      totalResources: { CPU: 1, memory: 1e9 },
      availableResources: { CPU: 0 },
      ipAddress: '127.0.0.1',
      activity: [],
      labels: { 'ray.io/node-group': 'worker' },
    });
    expect(state.nodeStates[1]?.status).toBe('UNSPECIFIED');
  });

  it('converts demand, gangs with their constraints, and request_resources constraints', () => {
    const state = toClusterResourceState({
      cluster_resource_state_version: '1',
      cluster_session_name: '',
      node_states: [],
      pending_resource_requests: [{ request: request({ CPU: 1 }), count: '3' }],
      pending_gang_resource_requests: [
        { details: 'pg1 STRICT_SPREAD', requests: [], bundle_selectors: [{ resource_requests: [request({ CPU: 1 }, [{ anti_affinity: { label_name: '_PG_ab', label_value: '' }, affinity: null }])] }] },
        { details: 'old ray', requests: [request({ GPU: 1 })], bundle_selectors: [] },
        { details: 'placed already', requests: [], bundle_selectors: [] },
      ],
      cluster_resource_constraints: [{ resource_requests: [{ request: request({ CPU: 4 }), count: '2' }] }],
    });
    expect(state.pendingRequests).toEqual([{ shape: { CPU: 1 }, constraints: [], count: 3 }]);
    expect(state.pendingGangs).toEqual([
      { details: 'pg1 STRICT_SPREAD', bundles: [{ shape: { CPU: 1 }, constraints: [{ antiAffinity: { label: '_PG_ab', value: '' } }] }] },
      { details: 'old ray', bundles: [{ shape: { GPU: 1 }, constraints: [] }] },
    ]);
    expect(state.constraints).toEqual([[{ shape: { CPU: 4 }, constraints: [], count: 2 }]]);
  });

  it('reads a missing state as an empty cluster', () => {
    expect(toClusterResourceState(null).nodeStates).toEqual([]);
  });
});
