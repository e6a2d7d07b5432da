import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GcsStandIn, type ReceivedCall, type StandInAnswer } from '../../test/support/gcs-stand-in.js';
import { isRayfleetError } from '../errors.js';
import { findFreePort } from '../net/ports.js';
import { GcsClient } from './gcs-client.js';

const NODE_ID = 'ab'.repeat(28);
const TOKEN = 's3cret-token';

let gcs: GcsStandIn;
let address: string;
let received: ReceivedCall[];
let answers: Record<string, StandInAnswer>;

beforeAll(async () => {
  gcs = await GcsStandIn.start();
  address = gcs.address;
});

afterAll(() => {
  gcs.close();
});

beforeEach(() => {
  gcs.reset();
  received = gcs.received;
  answers = gcs.answers;
});

async function withClient<T>(use: (client: GcsClient) => Promise<T>, options: { authToken?: string; address?: string } = { authToken: TOKEN }): Promise<T> {
  const client = new GcsClient({ address: options.address ?? address, authToken: options.authToken });
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

describe('GcsClient against a stand-in GCS', () => {
  it('asks with version 0 and the bearer token, and decodes node ids, int64s and statuses', async () => {
    answers.GetClusterResourceState = {
      reply: {
        cluster_resource_state: {
          cluster_resource_state_version: '17',
          cluster_session_name: 'session_x',
          node_states: [
            {
              node_id: Buffer.from(NODE_ID, 'hex'),
              instance_id: 'rf-worker-1',
              ray_node_type_name: 'worker',
              status: 'IDLE',
              idle_duration_ms: '90071992547',
              total_resources: { CPU: 1 },
              available_resources: { CPU: 1 },
              node_ip_address: '10.0.0.5',
              node_activity: [],
              labels: { 'ray.io/node-group': 'worker' },
            },
            { node_id: Buffer.from('cd'.repeat(28), 'hex'), status: 'DEAD' },
          ],
          pending_resource_requests: [{ request: { resources_bundle: { CPU: 2 } }, count: '3' }],
        },
      },
    };
    const state = await withClient((client) => client.getClusterResourceState());
    expect(received).toEqual([{ method: 'GetClusterResourceState', request: { last_seen_cluster_resource_state_version: '0' }, authorization: `Bearer ${TOKEN}` }]);
    expect(state.version).toBe(17);
    expect(state.nodeStates[0]).toMatchObject({ nodeId: NODE_ID, instanceId: 'rf-worker-1', nodeTypeName: 'worker', status: 'IDLE', idleMs: 90071992547, totalResources: { CPU: 1 } });
    expect(state.nodeStates[1]).toMatchObject({ nodeId: 'cd'.repeat(28), status: 'DEAD', totalResources: {} });
    expect(state.pendingRequests).toEqual([{ shape: { CPU: 2 }, constraints: [], count: 3 }]);
  });

  it('sends no authorization without a token', async () => {
    await withClient((client) => client.getClusterResourceState(), {});
    expect(received[0]?.authorization).toBeUndefined();
  });

  it('drains with the node id as bytes, the reason and the deadline', async () => {
    answers.DrainNode = { reply: { is_accepted: false, rejection_reason_message: 'The node to be idle terminated is no longer idle.' } };
    const result = await withClient((client) => client.drainNode(NODE_ID, 'IDLE_TERMINATION', 'idle 60 s', { drainDeadline: new Date(1_800_000_000_000) }));
    expect(result).toEqual({ accepted: false, rejectionReason: 'The node to be idle terminated is no longer idle.' });
    const request = received[0]?.request;
    expect(Buffer.from(request?.node_id as Uint8Array).toString('hex')).toBe(NODE_ID);
    expect(request).toMatchObject({ reason: 'DRAIN_NODE_REASON_IDLE_TERMINATION', reason_message: 'idle 60 s', deadline_timestamp_ms: '1800000000000' });
  });

  it('refuses to drain something that is not a node id, without calling Ray', async () => {
    await expect(withClient((client) => client.drainNode('rf-worker-1', 'PREEMPTION', 'x'))).rejects.toSatisfy((error: unknown) => isRayfleetError(error, 'RAY_REQUEST_FAILED'));
    expect(received).toEqual([]);
  });

  it('encodes a resource constraint as request_resources() sends it', async () => {
    await withClient((client) => client.requestClusterResourceConstraint([{ shape: { CPU: 4 }, count: 2 }]));
    expect(received[0]?.request).toMatchObject({ cluster_resource_constraint: { resource_requests: [{ request: { resources_bundle: { CPU: 4 } }, count: '2' }] } });
  });
});

describe('GcsClient errors', () => {
  it('says the token is missing or wrong on UNAUTHENTICATED, never showing the token', async () => {
    answers.GetClusterResourceState = { error: { code: grpc.status.UNAUTHENTICATED, details: 'InvalidAuthToken: Authentication token is missing or incorrect' } };
    const error = await withClient((client) => client.getClusterResourceState()).catch((caught: unknown) => caught);
    expect(isRayfleetError(error, 'RAY_REQUEST_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/auth token is missing or wrong/);
    expect((error as Error).message).not.toContain(TOKEN);
  });

  it('reports other failures as RAY_REQUEST_FAILED with Ray words', async () => {
    answers.DrainNode = { error: { code: grpc.status.INVALID_ARGUMENT, details: 'negative deadline' } };
    await expect(withClient((client) => client.drainNode(NODE_ID, 'PREEMPTION', 'x'))).rejects.toSatisfy(
      (error: unknown) => isRayfleetError(error, 'RAY_REQUEST_FAILED') && error.message.includes('negative deadline'),
    );
  });

  it('is RAY_UNREACHABLE when nothing listens', async () => {
    const nowhere = `127.0.0.1:${await findFreePort()}`;
    await expect(withClient((client) => client.getClusterResourceState({ deadlineMs: 2_000 }), { address: nowhere })).rejects.toSatisfy(
      (error: unknown) =>
        isRayfleetError(error, 'RAY_UNREACHABLE') &&
        error.message.includes(`cannot reach Ray's GCS at ${nowhere}`) &&
        error.message.includes('ECONNREFUSED') &&
        // grpc-js's empty "Resolution note: " and its "Error: " inside "Last error: " say nothing to a user.
        !/Resolution note|Error: connect/.test(error.message),
    );
  });

  it('is RAY_UNREACHABLE when the GCS does not answer within the deadline', async () => {
    answers.GetClusterResourceState = 'never';
    await expect(withClient((client) => client.getClusterResourceState({ deadlineMs: 200 }))).rejects.toSatisfy((error: unknown) => isRayfleetError(error, 'RAY_UNREACHABLE'));
  });

  it('rejects with the abort reason when the caller aborts', async () => {
    answers.GetClusterResourceState = 'never';
    const controller = new AbortController();
    const pending = withClient((client) => client.getClusterResourceState({ signal: controller.signal, deadlineMs: 10_000 }));
    setTimeout(() => controller.abort(new Error('stop now')), 50);
    await expect(pending).rejects.toThrow('stop now');
    await expect(withClient((client) => client.getClusterResourceState({ signal: AbortSignal.abort(new Error('already')) }))).rejects.toThrow('already');
  });

  it('fails a call on a closed client instead of hanging', async () => {
    const client = new GcsClient({ address });
    client.close();
    await expect(client.getClusterResourceState()).rejects.toSatisfy((error: unknown) => isRayfleetError(error, 'RAY_REQUEST_FAILED'));
  });
});
