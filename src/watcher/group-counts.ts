// Workers counted per group and phase over observe's join: the one count the watcher, `status`, the API and the page show.
import type { WorkerGroupSpec } from '../spec/schema.js';
import type { WorkerPhase, WorkerView } from './observation.js';

export type PhaseCounts = Record<WorkerPhase, number>;

/** Every phase, in the order counts are shown. */
export const WORKER_PHASES: readonly WorkerPhase[] = ['registered', 'launching', 'draining', 'dead', 'unknown'];

/** One worker group of the spec with its workers by phase. */
export interface GroupCount extends PhaseCounts {
  name: string;
  min: number;
  max: number;
}

/** Workers by group and phase, in one pass (a tick at 10,000 workers cannot afford a filter per group and phase). */
export function countByGroup(workers: Iterable<Pick<WorkerView, 'group' | 'phase'>>): Map<string, PhaseCounts> {
  const counts = new Map<string, PhaseCounts>();
  for (const { group, phase } of workers) {
    let count = counts.get(group);
    if (count === undefined) counts.set(group, (count = noWorkers()));
    count[phase] += 1;
  }
  return counts;
}

/** Each group of the spec, in its order, with its workers by phase (a group with none counts zeros). */
export function countGroups(groups: readonly WorkerGroupSpec[], workers: Iterable<Pick<WorkerView, 'group' | 'phase'>>): GroupCount[] {
  const counts = countByGroup(workers);
  return groups.map((group) => ({ name: group.name, min: group.min, max: group.max, ...(counts.get(group.name) ?? noWorkers()) }));
}

function noWorkers(): PhaseCounts {
  return { registered: 0, launching: 0, draining: 0, dead: 0, unknown: 0 };
}
