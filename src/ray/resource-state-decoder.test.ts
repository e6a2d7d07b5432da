import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toClusterResourceState, type RawClusterResourceState } from './cluster-resource-state.js';
import { ClusterResourceStateDecoder, decodeClusterResourceStateReply } from './resource-state-decoder.js';

// The oracle: proto-loader's encoding and decoding of our proto, with the options the client used before it had a decoder of its own.
const definition = protoLoader.loadSync(fileURLToPath(new URL('../../proto/autoscaler.proto', import.meta.url)), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: false });
const loaded = grpc.loadPackageDefinition(definition) as unknown as { ray: { rpc: { autoscaler: { AutoscalerStateService: { service: grpc.ServiceDefinition } } } } };
const method = loaded.ray.rpc.autoscaler.AutoscalerStateService.service.GetClusterResourceState as grpc.MethodDefinition<object, object>;
const encode = (reply: object): Buffer => method.responseSerialize(reply);
const protoLoaderView = (bytes: Buffer) => toClusterResourceState((method.responseDeserialize(bytes) as { cluster_resource_state: RawClusterResourceState | null }).cluster_resource_state);

const name = fc.string({ unit: fc.constantFrom('a', 'B', '_', ':', '.', '-', '0', 'é', '语', '🙂'), maxLength: 12 });
const amount = fc.oneof(fc.double({ noNaN: true }), fc.integer({ min: 0, max: 64 }));
const shape = fc.dictionary(name, amount, { maxKeys: 4 });
const int64 = fc.integer({ min: 0, max: 2 ** 50 }).map(String);
const labelPair = fc.record({ label_name: name, label_value: name }, { requiredKeys: [] });
const request = fc.record({ resources_bundle: shape, placement_constraints: fc.array(fc.record({ anti_affinity: labelPair, affinity: labelPair }, { requiredKeys: [] }), { maxLength: 2 }) }, { requiredKeys: [] });
const node = fc.record(
  {
    node_id: fc.uint8Array({ maxLength: 28 }).map((bytes) => Buffer.from(bytes)),
    instance_id: name,
    ray_node_type_name: name,
    available_resources: shape,
    total_resources: shape,
    dynamic_labels: fc.dictionary(name, name, { maxKeys: 2 }),
    node_state_version: int64,
    status: fc.constantFrom('UNSPECIFIED', 'RUNNING', 'DEAD', 'IDLE', 'DRAINING', 7),
    idle_duration_ms: int64,
    node_ip_address: name,
    instance_type_name: name,
    node_activity: fc.array(name, { maxLength: 3 }),
    labels: fc.dictionary(name, name, { maxKeys: 3 }),
  },
  { requiredKeys: [] },
);
const byCount = fc.record({ request, count: int64 }, { requiredKeys: [] });
const state = fc.record(
  {
    cluster_resource_state_version: int64,
    last_seen_autoscaler_state_version: int64,
    node_states: fc.array(node, { maxLength: 4 }),
    pending_resource_requests: fc.array(byCount, { maxLength: 3 }),
    pending_gang_resource_requests: fc.array(
      fc.record({ requests: fc.array(request, { maxLength: 3 }), details: name, bundle_selectors: fc.array(fc.record({ resource_requests: fc.array(request, { maxLength: 3 }) }), { maxLength: 2 }) }, { requiredKeys: [] }),
      { maxLength: 3 },
    ),
    cluster_resource_constraints: fc.array(fc.record({ resource_requests: fc.array(byCount, { maxLength: 2 }) }), { maxLength: 2 }),
    cluster_session_name: name,
  },
  { requiredKeys: [] },
);

describe('decodeClusterResourceStateReply', () => {
  it('reads every reply as proto-loader and toClusterResourceState do', () => {
    fc.assert(
      fc.property(fc.option(state, { nil: undefined }), (given) => {
        const bytes = encode(given === undefined ? {} : { cluster_resource_state: given });
        expect(decodeClusterResourceStateReply(bytes)).toEqual(protoLoaderView(bytes));
      }),
      { numRuns: 400 },
    );
  });

  it('reads a sequence of replies alike with the node states of each reply before reused', () => {
    // Successive replies as a GCS sends them: the same nodes, most unchanged, idle times counting up, some changed,
    // gone, new, given twice or in another order.
    const change = fc.record({ kind: fc.constantFrom('same', 'same', 'idle', 'before-idle', 'after-idle', 'other', 'gone', 'twice'), idle: int64, other: node });
    const sequence = fc.record({ first: fc.array(node, { minLength: 1, maxLength: 5 }), steps: fc.array(fc.record({ changes: fc.array(change, { minLength: 5, maxLength: 5 }), reversed: fc.boolean(), added: fc.array(node, { maxLength: 2 }) }), { minLength: 1, maxLength: 4 }) });
    fc.assert(
      fc.property(sequence, ({ first, steps }) => {
        const decoder = new ClusterResourceStateDecoder();
        let nodes: object[] = first;
        const replies = [nodes];
        for (const step of steps) {
          nodes = nodes.flatMap((given, index) => {
            const { kind, idle, other } = step.changes[index % 5] as { kind: string; idle: string; other: object };
            const same = given as { node_id?: Buffer; node_activity?: string[] };
            if (kind === 'idle') return [{ ...given, idle_duration_ms: idle }];
            // One field changed on either side of the idle time, the idle time as it was.
            if (kind === 'before-idle') return [{ ...given, available_resources: { changed: 1 } }];
            if (kind === 'after-idle') return [{ ...given, node_activity: ['changed', ...(same.node_activity ?? [])] }];
            if (kind === 'other') return [{ ...other, node_id: same.node_id }];
            if (kind === 'gone') return [];
            if (kind === 'twice') return [given, given];
            return [given];
          });
          nodes = [...(step.reversed ? [...nodes].reverse() : nodes), ...step.added];
          replies.push(nodes);
        }
        for (const node_states of replies) {
          const bytes = encode({ cluster_resource_state: { cluster_session_name: 'session_x', node_states } });
          expect(decoder.decode(bytes)).toEqual(decodeClusterResourceStateReply(bytes));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same node state object for a node unchanged but for its idle time, and a new one when it changed', () => {
    const decoder = new ClusterResourceStateDecoder();
    const busy = { node_id: Buffer.alloc(28, 1), instance_id: 'rf-w-1', status: 'RUNNING', total_resources: { CPU: 2 }, available_resources: { CPU: 0 } };
    const idle = { node_id: Buffer.alloc(28, 2), instance_id: 'rf-w-2', status: 'IDLE', idle_duration_ms: '1000', total_resources: { CPU: 2 }, available_resources: { CPU: 2 } };
    const reply = (nodes: object[]) => decoder.decode(encode({ cluster_resource_state: { node_states: nodes } })).nodeStates;
    const [busyBefore, idleBefore] = reply([busy, idle]);
    const [busyAfter, idleAfter] = reply([busy, { ...idle, idle_duration_ms: '2000' }]);
    expect(busyAfter).toBe(busyBefore);
    expect(idleAfter).not.toBe(idleBefore);
    expect(idleAfter).toMatchObject({ idleMs: 2000, totalResources: { CPU: 2 } });
    expect(idleAfter?.totalResources).toBe(idleBefore?.totalResources);
    const [busyChanged] = reply([{ ...busy, available_resources: { CPU: 1 } }, idle]);
    expect(busyChanged).not.toBe(busyBefore);
    expect(busyChanged?.availableResources).toEqual({ CPU: 1 });
  });

  it('compares with the reply before as it was, not with a buffer its caller has since reused', () => {
    const decoder = new ClusterResourceStateDecoder();
    const node = (cpus: number) => ({ node_id: Buffer.alloc(28, 1), instance_id: 'rf-w-1', status: 'RUNNING', total_resources: { CPU: cpus }, available_resources: { CPU: 0 } });
    const first = encode({ cluster_resource_state: { node_states: [node(2)] } });
    const second = encode({ cluster_resource_state: { node_states: [node(4)] } });
    expect(second.length).toBe(first.length);
    const reused = Buffer.from(first);
    decoder.decode(reused);
    // gRPC's buffer is its own: once decoded it may be written over, here with the next reply.
    second.copy(reused);
    expect(decoder.decode(reused).nodeStates[0]?.totalResources).toEqual({ CPU: 4 });
  });

  it('reads the reply after a malformed one afresh', () => {
    const decoder = new ClusterResourceStateDecoder();
    const bytes = encode({ cluster_resource_state: { node_states: [{ node_id: Buffer.alloc(28, 1), instance_id: 'rf-w-1', total_resources: { CPU: 2 } }] } });
    decoder.decode(bytes);
    expect(() => decoder.decode(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated protobuf message/);
    expect(decoder.decode(bytes)).toEqual(decodeClusterResourceStateReply(bytes));
  });

  it('reads a node as Ray sends it', () => {
    const nodeId = Buffer.alloc(28, 0xab);
    const bytes = encode({
      cluster_resource_state: {
        cluster_resource_state_version: '17',
        cluster_session_name: 'session_x',
        node_states: [
          { node_id: nodeId, instance_id: 'rf-worker-1', ray_node_type_name: 'worker', status: 'IDLE', idle_duration_ms: '90071992547', total_resources: { CPU: 2, 'node:10.0.0.5': 1 }, available_resources: { CPU: 0.5 }, node_activity: ['busy'], labels: { 'ray.io/node_id': 'x' } },
        ],
        pending_gang_resource_requests: [{ details: 'empty gang' }],
      },
    });
    expect(decodeClusterResourceStateReply(bytes)).toEqual({
      version: 17,
      sessionName: 'session_x',
      nodeStates: [
        {
          nodeId: 'ab'.repeat(28),
          instanceId: 'rf-worker-1',
          nodeTypeName: 'worker',
          status: 'IDLE',
          idleMs: 90071992547,
          totalResources: { CPU: 2, 'node:10.0.0.5': 1 },
          availableResources: { CPU: 0.5 },
          ipAddress: '',
          activity: ['busy'],
          labels: { 'ray.io/node_id': 'x' },
        },
      ],
      pendingRequests: [],
      pendingGangs: [],
      constraints: [],
    });
  });

  it("keeps a label named __proto__ as the node's own label", () => {
    const bytes = encode({ cluster_resource_state: { node_states: [{ node_id: Buffer.alloc(28, 7), labels: Object.fromEntries([['__proto__', 'x'], ['ray.io/node_id', '07'.repeat(28)]]) }] } });
    const [node] = decodeClusterResourceStateReply(bytes).nodeStates;
    expect(Object.keys(node?.labels ?? {})).toEqual(expect.arrayContaining(['__proto__', 'ray.io/node_id']));
    expect(Object.getOwnPropertyDescriptor(node?.labels, '__proto__')?.value).toBe('x');
    expect(node?.labels['ray.io/node_id']).toBe(node?.nodeId);
  });

  it('refuses a truncated message instead of reading past its end', () => {
    const bytes = encode({ cluster_resource_state: { cluster_session_name: 'session_x', node_states: [{ instance_id: 'rf-worker-1' }] } });
    expect(() => decodeClusterResourceStateReply(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated protobuf message/);
  });
});
