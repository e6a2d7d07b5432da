// What the watcher must not forget across a restart, read back from the journal: the last scale-up and each group's failed launches.
import type { JournalEvent } from '../journal/event.js';
import type { PlannerHistory } from './planner.js';

export const BACKOFF_BASE_MS = 5_000;
export const BACKOFF_MAX_MS = 300_000;

/** Back-off after `failures` launches of a group failed in a row: 5 s, 10 s, 20 s … up to 5 min. */
export function backoffMs(failures: number): number {
  return failures <= 0 ? 0 : Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (failures - 1));
}

export interface GroupFailures {
  failures: number;
  lastFailureMs: number;
  lastReason: string;
}

/** Consecutive failed launches per group, reset by a node of the group joining Ray. */
export function failuresByGroup(events: JournalEvent[]): Map<string, GroupFailures> {
  const byGroup = new Map<string, GroupFailures>();
  for (const event of events) {
    if (event.group === undefined) continue;
    if (event.type === 'launch-failed') {
      const previous = byGroup.get(event.group);
      byGroup.set(event.group, { failures: (previous?.failures ?? 0) + 1, lastFailureMs: Date.parse(event.time), lastReason: event.reason });
    } else if (event.type === 'registered') {
      byGroup.delete(event.group);
    }
  }
  return byGroup;
}

export function historyFromJournal(events: JournalEvent[]): PlannerHistory {
  const lastScaleUp = events.filter((event) => event.type === 'scale-up').at(-1);
  const backoffUntilMs: Record<string, number> = {};
  for (const [group, failures] of failuresByGroup(events)) backoffUntilMs[group] = failures.lastFailureMs + backoffMs(failures.failures);
  return { lastScaleUpAtMs: lastScaleUp === undefined ? undefined : Date.parse(lastScaleUp.time), backoffUntilMs };
}
