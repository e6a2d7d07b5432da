// The rounds of both sides as a table: median [min–max] per side and the ratio of the medians.
import { formatTable } from '../../src/cli/format-table.js';
import type { SideRun } from './measure-run.js';
import type { BenchWorkload } from './workloads.js';

export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Nearest rank: with 3 samples the p95 is the largest. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function defined(values: Array<number | undefined>): number[] {
  return values.filter((value): value is number => value !== undefined && Number.isFinite(value));
}

function spread(values: number[], digits: number): string {
  const middle = median(values);
  if (middle === undefined) return '-';
  return `${middle.toFixed(digits)} [${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}]`;
}

function ratio(ours: number[], theirs: number[]): string {
  const a = median(ours);
  const b = median(theirs);
  return a === undefined || b === undefined || b === 0 ? '-' : (a / b).toFixed(2);
}

export function workloadTable(workload: BenchWorkload, ours: SideRun[], ray: SideRun[]): string {
  const row = (label: string, pick: (run: SideRun) => number | undefined, digits = 1): string[] => {
    const a = defined(ours.map(pick));
    const b = defined(ray.map(pick));
    return [label, spread(a, digits), spread(b, digits), ratio(a, b)];
  };
  return formatTable(
    ['measure', 'rayfleet', 'ray autoscaler v2', 'rayfleet / ray'],
    [
      row('reaction: demand in the GCS → first launch (s)', (run) => run.reactionS, 2),
      row('time to capacity: submit → all work placed (s)', (run) => run.capacityS),
      ...(workload.placementGroup === undefined ? [] : [row('submit → the placement group placed (s)', (run) => run.gangPlacedS)]),
      row('submit → all work done (s)', (run) => run.doneS),
      row(`nodes launched (needed ${workload.needed})`, (run) => run.nodesLaunched, 0),
      row('scale-down: idle timeout → all workers gone (s)', (run) => run.scaleDownS),
      row('controller CPU per tick of its own interval (ms)', (run) => (run.cpuMs === undefined ? undefined : run.cpuMs / (run.spanMs / run.intervalMs)), 0),
      row('controller CPU over the run (% of a core)', (run) => (run.cpuMs === undefined ? undefined : (100 * run.cpuMs) / run.spanMs), 2),
    ],
  );
}

/** Every run's reaction, by side: the p95 the goal is set on. */
export function reactionLine(label: string, runs: SideRun[]): string {
  const reactions = defined(runs.map((run) => run.reactionS));
  const p95 = percentile(reactions, 95);
  return `${label}: reaction p95 ${p95 === undefined ? '-' : `${p95.toFixed(2)} s`}, median ${median(reactions)?.toFixed(2) ?? '-'} s over ${reactions.length} runs`;
}
