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

/** Counts one more failed launch of the group. */
export function addFailure(byGroup: Map<string, GroupFailures>, group: string, atMs: number, reason: string): void {
  const previous = byGroup.get(group);
  byGroup.set(group, { failures: (previous?.failures ?? 0) + 1, lastFailureMs: atMs, lastReason: reason });
}

/** Consecutive failed launches per group, reset by a node of the group joining Ray. */
export function failuresByGroup(events: JournalEvent[]): Map<string, GroupFailures> {
  const byGroup = new Map<string, GroupFailures>();
  for (const event of events) {
    if (event.type === 'launch-failed') addFailure(byGroup, event.group, Date.parse(event.time), event.reason);
    else if (event.type === 'registered' && event.group !== undefined) byGroup.delete(event.group);
  }
  return byGroup;
}

/** When each node last registered in Ray, by name: the watcher counts idle time from there. */
export function registrationTimes(events: JournalEvent[]): Map<string, number> {
  const times = new Map<string, number>();
  for (const event of events) {
    if (event.type === 'registered') times.set(event.node, Date.parse(event.time));
    else if (event.type === 'terminate') times.delete(event.node);
  }
  return times;
}

/**
 * Nodes drained and not yet terminated: when they leave Ray, that was the drain, not a crash. A launch under the same
 * name ends it too: a watcher killed between the provider's stop and its journal line leaves a drain without its
 * terminate, and the next node of that name dying young would otherwise read as drained.
 */
export function drainedNodes(events: JournalEvent[]): Set<string> {
  const drained = new Set<string>();
  for (const event of events) {
    if (event.type === 'drain') drained.add(event.node);
    else if (event.type === 'terminate' || event.type === 'launch') drained.delete(event.node);
  }
  return drained;
}

export function lastScaleUpMs(events: JournalEvent[]): number | undefined {
  const lastScaleUp = events.filter((event) => event.type === 'scale-up').at(-1);
  return lastScaleUp === undefined ? undefined : Date.parse(lastScaleUp.time);
}

/** Until when each group backs off, from its run of failures. */
export function backoffUntilByGroup(failures: Map<string, GroupFailures>): Record<string, number> {
  const until: Record<string, number> = {};
  for (const [group, entry] of failures) until[group] = entry.lastFailureMs + backoffMs(entry.failures);
  return until;
}

export function historyFromJournal(events: JournalEvent[]): PlannerHistory {
  return { lastScaleUpAtMs: lastScaleUpMs(events), backoffUntilMs: backoffUntilByGroup(failuresByGroup(events)) };
}
