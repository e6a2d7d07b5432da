import { describe, expect, it } from 'vitest';
import { eventSchema, summarizeEvent, type JournalEvent } from './event.js';

const base = { v: 1 as const, time: '2026-01-01T00:00:00.000Z', cluster: 'ray' };

describe('journal events', () => {
  it('summarizes each kind from its own fields', () => {
    const events: JournalEvent[] = [
      { ...base, type: 'drain-rejected', node: 'ray-worker-2', group: 'worker', reason: 'node is busy', forced: false, numbers: {} },
      { ...base, type: 'scale-up', group: 'gpu', count: 2, reason: '2 pending {GPU: 1}', numbers: { pendingRequests: 2 } },
      { ...base, type: 'withheld', cause: 'paused', reason: 'paused: would launch 1 in worker', numbers: {} },
      { ...base, type: 'spec-changed', fields: ['workerGroups[worker].min'], by: 'api', reason: 'workerGroups[worker].min 1 → 2' },
    ];
    expect(events.map(summarizeEvent)).toEqual([
      'drain of ray-worker-2 rejected: node is busy',
      'scale up gpu by 2: 2 pending {GPU: 1}',
      'withheld (paused): paused: would launch 1 in worker',
      'spec changed by the api (workerGroups[worker].min): workerGroups[worker].min 1 → 2',
    ]);
  });

  it("reads lines written before kinds had fields of their own, lifting the old `data` bag", () => {
    const old = [
      { ...base, type: 'launch', node: 'ray-worker-1', group: 'worker', reason: 'up', data: { cpus: 1, gpus: 0 } },
      { ...base, type: 'launch-failed', node: 'ray-worker-2', group: 'worker', reason: 'exited', data: { code: 'NODE_START_FAILED' } },
      { ...base, type: 'scale-up', group: 'worker', reason: '3 pending', data: { pendingRequests: 3, count: 3, source: 'gcs' } },
      { ...base, type: 'terminate', node: 'ray-worker-1', reason: 'down' },
    ].map((line) => eventSchema.parse(line));
    expect(old).toEqual([
      { ...base, type: 'launch', node: 'ray-worker-1', group: 'worker', reason: 'up', cpus: 1, gpus: 0 },
      { ...base, type: 'launch-failed', node: 'ray-worker-2', group: 'worker', reason: 'exited', code: 'NODE_START_FAILED' },
      { ...base, type: 'scale-up', group: 'worker', reason: '3 pending', count: 3, numbers: {} },
      { ...base, type: 'terminate', node: 'ray-worker-1', reason: 'down' },
    ]);
  });

  it('refuses a line whose kind lacks its fields', () => {
    expect(eventSchema.safeParse({ ...base, type: 'launch', reason: 'up' }).success).toBe(false);
    expect(eventSchema.safeParse({ ...base, type: 'nonsense', reason: 'up' }).success).toBe(false);
  });
});
