// What a simulation run cost and how it served the work: node-hours, waits, launches against a lower bound, drains, flaps.
import type { JournalEvent } from '../journal/event.js';
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import type { ClusterSpec } from '../spec/schema.js';
import { describeShape, groupCapacity } from '../watcher/resource-shapes.js';
import { feasibleIn } from './feasibility.js';
import type { SimulationRun } from './simulate.js';
import type { WorkUnit } from './simulated-ray.js';

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  max: number;
}

export interface SimulationReport {
  /** Virtual seconds from the first arrival to the end. */
  durationS: number;
  /** Node-hours by group (`head` too), counted from the first arrival to the end. */
  nodeHours: Record<string, number>;
  totalNodeHours: number;
  /** By group, where the workload's settings price it; undefined when nothing is priced. */
  cost: Record<string, number> | undefined;
  totalCost: number | undefined;
  /** From the oldest request waiting when the watcher launched a node to that node alive in Ray, seconds. */
  demandToCapacityS: Percentiles;
  /** From each request's arrival to its placement, seconds; requests never placed are counted in `unplaced`. */
  requestWaitS: Percentiles;
  /** Workers launched after the first arrival. */
  nodesLaunched: number;
  nodesLaunchedByGroup: Record<string, number>;
  /** The fewest workers any autoscaler had to launch: the peak of the demand had every request run on arrival. */
  nodesLowerBound: number;
  launchFailures: number;
  drains: number;
  drainsRejected: number;
  /** Drains followed within idleTimeout by a launch in the same group. */
  flaps: number;
  /** Requests no group could ever hold, by shape. */
  infeasible: string[];
  /** Requests never placed by the end. */
  unplaced: number;
  /** Requests placed but not finished by the end (work that lives forever aside). */
  unfinished: number;
  /** Seconds from the first arrival until the last request finished. */
  workDoneS: number | undefined;
  /** Ticks the watcher journaled as withheld, by cause (a change of reasons is one entry). */
  withheld: Record<string, number>;
  /** Journal events by kind. */
  events: Record<string, number>;
}

/**
 * The report of a run, counting node-hours to `untilMs` (its own end by default): runs compared side by side are
 * counted to the same instant, a run that settled earlier keeping the nodes it had until then.
 */
export function reportOf(run: SimulationRun, untilMs = run.endMs): SimulationReport {
  const { spec, startMs } = run;
  const endMs = Math.max(untilMs, run.endMs);
  const nodeHours: Record<string, number> = {};
  for (const node of run.nodes) {
    const from = Math.max(node.launchedAtMs, startMs);
    const to = Math.min(node.goneAtMs ?? endMs, endMs);
    if (to > from) nodeHours[node.request.group] = (nodeHours[node.request.group] ?? 0) + (to - from) / 3_600_000;
  }
  const prices = run.settings.prices;
  const priced = Object.keys(prices).length > 0;
  const cost = priced ? Object.fromEntries(Object.entries(nodeHours).map(([group, hours]) => [group, hours * (prices[group] ?? 0)])) : undefined;

  const registered = new Map(run.rayNodes.map((node) => [node.providerId, node.registeredAtMs]));
  const toCapacity = run.launches
    .filter((launch) => launch.atMs >= startMs && launch.oldestPendingAtMs !== undefined && registered.has(launch.providerId))
    .map((launch) => ((registered.get(launch.providerId) ?? 0) - (launch.oldestPendingAtMs ?? 0)) / 1000);
  const waits = run.units.filter((unit) => unit.placedAtMs !== undefined).map((unit) => ((unit.placedAtMs ?? 0) - unit.submittedAtMs) / 1000);

  const launched = run.nodes.filter((node) => node.request.role === 'worker' && node.launchedAtMs >= startMs);
  const nodesLaunchedByGroup: Record<string, number> = {};
  for (const node of launched) nodesLaunchedByGroup[node.request.group] = (nodesLaunchedByGroup[node.request.group] ?? 0) + 1;

  const events = run.events.filter((event) => Date.parse(event.time) >= startMs);
  const feasible = feasibleIn(spec);
  const finished = run.units.map((unit) => unit.finishedAtMs).filter((at): at is number => at !== undefined);
  return {
    durationS: (endMs - startMs) / 1000,
    nodeHours,
    totalNodeHours: sum(Object.values(nodeHours)),
    cost,
    totalCost: cost === undefined ? undefined : sum(Object.values(cost)),
    demandToCapacityS: percentiles(toCapacity),
    requestWaitS: percentiles(waits),
    nodesLaunched: launched.length,
    nodesLaunchedByGroup,
    nodesLowerBound: lowerBound(run.units, spec),
    launchFailures: events.filter((event) => event.type === 'launch-failed').length,
    drains: events.filter((event) => event.type === 'drain').length,
    drainsRejected: events.filter((event) => event.type === 'drain-rejected').length,
    flaps: flaps(events, spec.watcher.idleTimeoutMs),
    infeasible: [...new Set(run.units.filter((unit) => unit.placedAtMs === undefined && !feasible(unit)).map((unit) => unit.bundles.map(describeShape).join(' + ')))],
    unplaced: run.units.filter((unit) => unit.placedAtMs === undefined).length,
    unfinished: run.units.filter((unit) => unit.placedAtMs !== undefined && unit.finishedAtMs === undefined && Number.isFinite(unit.durationMs)).length,
    workDoneS: finished.length === 0 ? undefined : (Math.max(...finished) - startMs) / 1000,
    withheld: countBy(events.flatMap((event) => (event.type === 'withheld' ? [event.cause] : []))),
    events: countBy(run.events.map((event) => event.type)),
  };
}

/** Nearest-rank percentiles; all zero for no values. */
export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { count: 0, p50: 0, p95: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (quantile: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(quantile * sorted.length) - 1))] ?? 0;
  return { count: sorted.length, p50: rank(0.5), p95: rank(0.95), max: sorted.at(-1) ?? 0 };
}

/** A drain whose group launches again within idleTimeout: the node was taken away only to be wanted back. */
function flaps(events: JournalEvent[], idleTimeoutMs: number): number {
  const launches = events.flatMap((event) => (event.type === 'launch' ? [{ group: event.group, atMs: Date.parse(event.time) }] : []));
  return events.filter((event) => {
    if (event.type !== 'drain') return false;
    const atMs = Date.parse(event.time);
    return launches.some((launch) => launch.group === event.group && launch.atMs > atMs && launch.atMs <= atMs + idleTimeoutMs);
  }).length;
}

/**
 * At the busiest instant of the workload, had every request run from its arrival for its duration, the workers
 * needed beyond what the head and each group's min already hold: per resource, the excess over that capacity
 * divided by the largest node of any group that has the resource; and a STRICT_SPREAD group's bundles beyond the
 * nodes there already are. Waits, idle gaps and packing only add to it, so no autoscaler can launch fewer.
 */
export function lowerBound(units: readonly WorkUnit[], spec: ClusterSpec): number {
  const capacities = spec.workerGroups.map(groupCapacity);
  const standing: ResourceShape = { CPU: spec.head.cpus, GPU: spec.head.gpus, ...spec.head.resources };
  for (const [index, group] of spec.workerGroups.entries()) {
    for (const [name, amount] of Object.entries(capacities[index] ?? {})) if (Number.isFinite(amount)) standing[name] = (standing[name] ?? 0) + amount * group.min;
  }
  const largest: ResourceShape = {};
  for (const capacity of capacities) for (const [name, amount] of Object.entries(capacity)) if (Number.isFinite(amount)) largest[name] = Math.max(largest[name] ?? 0, amount);
  const standingNodes = 1 + spec.workerGroups.reduce((total, group) => total + group.min, 0);

  const feasible = feasibleIn(spec);
  const changes: Array<{ atMs: number; shape: ResourceShape; sign: 1 | -1 }> = [];
  let bound = 0;
  for (const unit of units) {
    if (!feasible(unit)) continue;
    if (unit.kind === 'placement-group' && unit.strategy === 'STRICT_SPREAD') bound = Math.max(bound, unit.bundles.length - standingNodes);
    const shape: ResourceShape = {};
    for (const bundle of unit.bundles) for (const [name, amount] of Object.entries(bundle)) shape[name] = (shape[name] ?? 0) + amount;
    changes.push({ atMs: unit.submittedAtMs, shape, sign: 1 });
    if (Number.isFinite(unit.durationMs)) changes.push({ atMs: unit.submittedAtMs + unit.durationMs, shape, sign: -1 });
  }
  // Ends before starts at one instant: work that ends as other work arrives does not overlap it.
  changes.sort((a, b) => a.atMs - b.atMs || a.sign - b.sign);
  const demand: ResourceShape = {};
  for (const change of changes) {
    for (const [name, amount] of Object.entries(change.shape)) demand[name] = (demand[name] ?? 0) + change.sign * amount;
    if (change.sign < 0) continue;
    for (const [name, amount] of Object.entries(demand)) {
      const size = largest[name];
      if (size === undefined || size <= 0) continue;
      bound = Math.max(bound, Math.ceil((amount - (standing[name] ?? 0)) / size - 1e-9));
    }
  }
  return Math.max(0, bound);
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function countBy(keys: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return counts;
}
