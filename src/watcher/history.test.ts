import { describe, expect, it } from 'vitest';
import type { JournalEvent } from '../journal/event.js';
import { backoffMs, historyFromJournal } from './history.js';

function event(type: JournalEvent['type'], time: string, group?: string): JournalEvent {
  return { v: 1, type, time, cluster: 'ray', group, reason: 'test' };
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
});
