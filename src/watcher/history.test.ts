import { describe, expect, it } from 'vitest';
import { eventSchema, type JournalEvent } from '../journal/event.js';
import { backoffMs, drainedNodes, historyFromJournal, registrationTimes } from './history.js';

/** A line as the journal of rayfleet 0.1 wrote it (numbers in a `data` bag), read by today's reader. */
function event(type: JournalEvent['type'], time: string, group?: string, node = `ray-${group ?? 'x'}-1`): JournalEvent {
  return eventSchema.parse({ v: 1, type, time, cluster: 'ray', group, node, reason: 'test', data: { cpus: 1, gpus: 0, waitedMs: 1, count: 1 } });
}

describe('history from the journal', () => {
  it('doubles the back-off per failure up to five minutes', () => {
    expect([0, 1, 2, 3, 10].map(backoffMs)).toEqual([0, 5_000, 10_000, 20_000, 300_000]);
  });

  it('keeps the last scale-up and each group back-off across a restart', () => {
    const history = historyFromJournal([
      event('scale-up', '2026-01-01T00:00:00.000Z', 'worker'),
      event('launch-failed', '2026-01-01T00:00:10.000Z', 'gpu'),
      event('launch-failed', '2026-01-01T00:00:20.000Z', 'gpu'),
      event('launch-failed', '2026-01-01T00:00:05.000Z', 'worker'),
      event('registered', '2026-01-01T00:00:30.000Z', 'worker'),
      event('scale-up', '2026-01-01T00:01:00.000Z', 'worker'),
    ]);
    expect(history.lastScaleUpAtMs).toBe(Date.parse('2026-01-01T00:01:00.000Z'));
    expect(history.backoffUntilMs).toEqual({ gpu: Date.parse('2026-01-01T00:00:20.000Z') + 10_000 });
  });

  it('remembers when each node registered, until it is terminated', () => {
    const times = registrationTimes([
      event('registered', '2026-01-01T00:00:30.000Z', 'worker', 'ray-worker-1'),
      event('registered', '2026-01-01T00:00:40.000Z', 'worker', 'ray-worker-2'),
      event('terminate', '2026-01-01T00:01:00.000Z', undefined, 'ray-worker-1'),
    ]);
    expect([...times]).toEqual([['ray-worker-2', Date.parse('2026-01-01T00:00:40.000Z')]]);
  });

  it('remembers a drained node until it is terminated, or a new node of its name is launched', () => {
    const drained = drainedNodes([
      event('drain', '2026-01-01T00:00:10.000Z', 'worker', 'ray-worker-1'),
      event('drain', '2026-01-01T00:00:10.000Z', 'worker', 'ray-worker-2'),
      event('drain', '2026-01-01T00:00:10.000Z', 'worker', 'ray-worker-3'),
      event('terminate', '2026-01-01T00:00:12.000Z', undefined, 'ray-worker-1'),
      // ray-worker-2's stop was not journaled (its watcher was killed right after it): the name comes back with a launch.
      event('launch', '2026-01-01T00:01:00.000Z', 'worker', 'ray-worker-2'),
    ]);
    expect([...drained]).toEqual(['ray-worker-3']);
  });
});
