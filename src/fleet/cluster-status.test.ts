import { describe, expect, it } from 'vitest';
import type { Instance, InstanceState } from '../providers/node-provider.js';
import { clusterSpecSchema } from '../spec/schema.js';
import { headDownOf } from './cluster-status.js';

function head(state: InstanceState): Instance {
  return { name: 'ray-head', role: 'head', group: 'head', index: 0, providerId: '1', state, address: '127.0.0.1', createdAt: new Date(0), resources: { cpus: 0, gpus: 0, custom: {} } };
}

describe('an outage in status', () => {
  const tolerant = clusterSpecSchema.parse({ name: 'ray', head: { faultTolerance: true } });
  const plain = clusterSpecSchema.parse({ name: 'ray' });

  it('is said when the head is stopped or failed and Ray cannot be asked, with what happens next', () => {
    expect(headDownOf(tolerant, [head('failed')], 'cannot reach GCS').headDown).toBe(
      'the head ray-head is failed: its Ray is gone; a running watcher starts it again on its address and ports, as does `rayfleet up` (head.faultTolerance)',
    );
    expect(headDownOf(plain, [head('stopped')], 'cannot reach GCS').headDown).toMatch(/`rayfleet up` starts a new head \(head.faultTolerance is off/);
  });

  it('is not said while the head runs (Ray merely slow) or while Ray answers', () => {
    expect(headDownOf(tolerant, [head('running')], 'timeout')).toEqual({});
    expect(headDownOf(tolerant, [head('failed')], undefined)).toEqual({});
    expect(headDownOf(tolerant, [], 'cannot reach GCS')).toEqual({});
  });
});
