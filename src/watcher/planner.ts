// The watcher's decisions, as a pure function: from one observation, the spec and the history, what to launch, drain and clean up, and why.
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import type { WatcherSpec, WorkerGroupSpec } from '../spec/schema.js';
import type { Observation, WorkerView } from './observation.js';
import { Bins, type Bin } from './bins.js';
import { add, describeShape, fits, groupCapacity, isDemandForNewNodes, isUnused, subtract, weight } from './resource-shapes.js';

export interface PlannerConfig {
  groups: WorkerGroupSpec[];
  watcher: WatcherSpec;
  /** A launch not registered in Ray after this long has failed. */
  launchTimeoutMs: number;
}

/** What the watcher must remember across ticks, rebuilt from the journal after a restart. */
export interface PlannerHistory {
  lastScaleUpAtMs: number | undefined;
  /** Per group: no launches before this time, after failed launches. */
  backoffUntilMs: Record<string, number>;
}

export interface PlannedLaunch {
  group: string;
  count: number;
  cause: 'demand' | 'constraint' | 'min';
  reason: string;
}

export interface PlannedDrain {
  name: string;
  nodeId: string;
  group: string;
  idleMs: number;
  reason: string;
}

export interface PlannedCleanup {
  name: string;
  group: string;
  reason: string;
  /** A launch that never joined Ray: it counts against the group's back-off. */
  failedLaunch: boolean;
}

export interface Plan {
  launches: PlannedLaunch[];
  drains: PlannedDrain[];
  cleanups: PlannedCleanup[];
  /** Shapes no group's node can ever hold: reported, never launched for. */
  infeasible: ResourceShape[];
  /** Why demand was not met this tick: threshold, cooldown, a max, a back-off. */
  withheld: string[];
  /** The observation numbers behind the decisions, for the journal and metrics. */
  numbers: Record<string, number>;
}

interface Packing {
  bins: Bins;
  planned: Map<string, number>;
  touched: Set<string>;
  placedOnNew: Map<string, Map<string, number>>;
}

interface Unplaced {
  ok: false;
  why: 'infeasible' | 'capped';
  details: string[];
}
type Placement = { ok: true; bin: Bin } | Unplaced;

export function planScaling(observation: Observation, config: PlannerConfig, history: PlannerHistory): Plan {
  const plan: Plan = { launches: [], drains: [], cleanups: [], infeasible: [], withheld: [], numbers: {} };
  const now = observation.atMs;
  if (!observation.providerOk) {
    // Without the provider's list nothing can be counted: launching could duplicate nodes, terminating could orphan them.
    plan.withheld.push('the provider could not list the nodes');
    return plan;
  }
  const canTerminate = observation.rayOk;
  const live: WorkerView[] = [];
  for (const worker of observation.workers) {
    if (worker.phase === 'dead') {
      if (canTerminate) plan.cleanups.push({ name: worker.name, group: worker.group, reason: 'its process ended', failedLaunch: false });
      continue;
    }
    if (worker.phase === 'launching' && observation.rayOk && now - worker.createdAtMs > config.launchTimeoutMs) {
      plan.cleanups.push({ name: worker.name, group: worker.group, reason: `not in Ray ${Math.round((now - worker.createdAtMs) / 1000)} s after launch`, failedLaunch: true });
      continue;
    }
    live.push(worker);
  }

  const packing: Packing = { bins: new Bins(initialBins(observation, live, config)), planned: new Map(), touched: new Set(), placedOnNew: new Map() };
  const groupsByName = new Map(config.groups.map((group) => [group.name, group]));
  const liveInGroup = (group: string): number => live.filter((worker) => worker.group === group).length;
  const totalWorkers = (): number => live.length + [...packing.planned.values()].reduce((sum, count) => sum + count, 0);
  const canAdd = (group: WorkerGroupSpec, why: string[]): boolean => {
    if ((history.backoffUntilMs[group.name] ?? 0) > now) {
      why.push(`group ${group.name} backs off for ${Math.ceil(((history.backoffUntilMs[group.name] ?? 0) - now) / 1000)} s after failed launches`);
      return false;
    }
    if (liveInGroup(group.name) + (packing.planned.get(group.name) ?? 0) >= group.max) {
      why.push(`group ${group.name} is at its max ${group.max}`);
      return false;
    }
    if (totalWorkers() >= config.watcher.maxWorkers) {
      why.push(`the cluster is at maxWorkers ${config.watcher.maxWorkers}`);
      return false;
    }
    return true;
  };

  const { demand } = observation;
  const shapes = demand.shapes.filter((entry) => entry.count > 0 && isDemandForNewNodes(entry.shape));
  const gangs = demand.gangs.filter((gang) => gang.bundles.length > 0);
  const pending = shapes.reduce((sum, entry) => sum + entry.count, 0) + gangs.reduce((sum, gang) => sum + gang.bundles.length, 0);
  plan.numbers = {
    pendingRequests: pending,
    pendingShapes: shapes.length,
    pendingGangs: gangs.length,
    constraintBundles: demand.constraints.reduce((sum, entry) => sum + entry.count, 0),
    workers: live.length,
    launching: live.filter((worker) => worker.phase === 'launching').length,
  };

  const coolingDown = history.lastScaleUpAtMs !== undefined && now - history.lastScaleUpAtMs < config.watcher.cooldownMs;
  if (pending > 0 && pending <= config.watcher.pendingThreshold) {
    plan.withheld.push(`${pending} pending request(s), not more than pendingThreshold ${config.watcher.pendingThreshold}`);
  } else if (pending > 0 && coolingDown) {
    plan.withheld.push(`cooldown: the last scale-up was ${Math.round((now - (history.lastScaleUpAtMs ?? now)) / 1000)} s ago, cooldown is ${Math.round(config.watcher.cooldownMs / 1000)} s`);
  } else if (pending > 0) {
    const record = (placement: { ok: true } | Unplaced, shape: ResourceShape): void => {
      if (placement.ok) return;
      if (placement.why === 'infeasible') plan.infeasible.push(shape);
      else for (const detail of placement.details) if (!plan.withheld.includes(detail)) plan.withheld.push(detail);
    };
    for (const gang of [...gangs].sort((a, b) => b.bundles.length - a.bundles.length)) {
      record(placeGang(packing, gang.id, gang.strategy, gang.bundles, config.groups, canAdd), gang.bundles[0] ?? {});
    }
    const units = shapes.flatMap((entry) => Array.from({ length: entry.count }, () => entry.shape)).sort((a, b) => weight(b) - weight(a));
    for (const shape of units) record(placeShape(packing, shape, config.groups, canAdd), shape);
  }
  addLaunches(plan, packing, 'demand');

  if (demand.constraints.length > 0 && !coolingDown) {
    // request_resources() asks for capacity, busy or free: pack it into every node's total.
    const constraintPacking: Packing = { bins: new Bins(totalBins(observation, live, packing, groupsByName)), planned: packing.planned, touched: new Set(), placedOnNew: new Map() };
    const units = demand.constraints.flatMap((entry) => Array.from({ length: entry.count }, () => entry.shape)).sort((a, b) => weight(b) - weight(a));
    for (const shape of units) {
      const placement = placeShape(constraintPacking, shape, config.groups, canAdd);
      if (!placement.ok && placement.why === 'infeasible') plan.infeasible.push(shape);
    }
    addLaunches(plan, constraintPacking, 'constraint');
  }

  for (const group of config.groups) {
    const staying = live.filter((worker) => worker.group === group.name && worker.phase !== 'draining').length + (packing.planned.get(group.name) ?? 0);
    let missing = group.min - staying;
    const why: string[] = [];
    let added = 0;
    while (missing > 0 && canAdd(group, why)) {
      packing.planned.set(group.name, (packing.planned.get(group.name) ?? 0) + 1);
      missing -= 1;
      added += 1;
    }
    if (added > 0) plan.launches.push({ group: group.name, count: added, cause: 'min', reason: `group ${group.name} has ${staying} of min ${group.min}` });
    for (const reason of why) if (!plan.withheld.includes(reason)) plan.withheld.push(reason);
  }

  if (canTerminate && observation.source === 'gcs') {
    const remaining = new Map(config.groups.map((group) => [group.name, live.filter((worker) => worker.group === group.name && worker.phase !== 'draining').length]));
    const idle = live
      .filter((worker) => worker.phase === 'registered' && worker.ray !== undefined && worker.ray.idle && worker.ray.idleMs >= config.watcher.idleTimeoutMs)
      .filter((worker) => worker.ray !== undefined && isUnused(worker.ray.total, worker.ray.available) && !packing.touched.has(worker.name))
      .sort((a, b) => b.index - a.index);
    for (const worker of idle) {
      const group = groupsByName.get(worker.group);
      const count = remaining.get(worker.group) ?? 0;
      if (group === undefined || count <= group.min || (packing.planned.get(group.name) ?? 0) > 0) continue;
      remaining.set(worker.group, count - 1);
      plan.drains.push({
        name: worker.name,
        nodeId: worker.ray?.nodeId ?? '',
        group: worker.group,
        idleMs: worker.ray?.idleMs ?? 0,
        reason: `idle ${Math.round((worker.ray?.idleMs ?? 0) / 1000)} s > idleTimeout ${Math.round(config.watcher.idleTimeoutMs / 1000)} s, group ${worker.group} keeps ${count - 1} of min ${group.min}`,
      });
    }
  }
  return plan;
}

function initialBins(observation: Observation, live: WorkerView[], config: PlannerConfig): Bin[] {
  const capacities = new Map(config.groups.map((group) => [group.name, groupCapacity(group)]));
  const bins: Bin[] = [{ name: 'head', group: undefined, free: { ...observation.headAvailable }, planned: false, gangs: new Set() }];
  for (const worker of live) {
    if (worker.phase === 'registered' && worker.ray !== undefined) {
      bins.push({ name: worker.name, group: worker.group, free: { ...worker.ray.available }, planned: false, gangs: gangLabels(worker.ray.labels) });
    } else if (worker.phase === 'launching') {
      // A launch in flight is capacity on its way: count it, or every tick would launch again for the same demand.
      bins.push({ name: worker.name, group: worker.group, free: { ...(capacities.get(worker.group) ?? {}) }, planned: false, gangs: new Set() });
    }
  }
  return bins;
}

/** Every node's whole capacity (for request_resources), with the nodes the demand pass planned. */
function totalBins(observation: Observation, live: WorkerView[], packing: Packing, groups: Map<string, WorkerGroupSpec>): Bin[] {
  const capacityOf = (group: string): ResourceShape => {
    const spec = groups.get(group);
    return spec === undefined ? {} : groupCapacity(spec);
  };
  const bins: Bin[] = [{ name: 'head', group: undefined, free: { ...observation.headTotal }, planned: false, gangs: new Set() }];
  for (const worker of live) {
    if (worker.phase === 'draining') continue;
    bins.push({ name: worker.name, group: worker.group, free: worker.ray !== undefined ? { ...worker.ray.total } : capacityOf(worker.group), planned: false, gangs: new Set() });
  }
  for (const [group, count] of packing.planned) {
    for (let index = 0; index < count; index += 1) bins.push({ name: `new ${group} ${index}`, group, free: capacityOf(group), planned: true, gangs: new Set() });
  }
  return bins;
}

function gangLabels(labels: Record<string, string>): Set<string> {
  return new Set(Object.keys(labels).filter((label) => label.startsWith('_PG_')));
}

/**
 * Best fit into a node that exists or is planned (the one left with the least, keeping GPUs free for GPU work);
 * else a new node of the group that suits the shape best. Best fit, unlike first fit, packs the same demand
 * the same way whether its nodes are planned or already launching, so the next tick does not launch again.
 */
function placeShape(packing: Packing, shape: ResourceShape, groups: WorkerGroupSpec[], canAdd: (group: WorkerGroupSpec, why: string[]) => boolean, avoid?: (bin: Bin) => boolean): Placement {
  const bin = packing.bins.bestFit(shape, avoid);
  if (bin !== undefined) {
    packing.bins.take(bin, shape);
    packing.touched.add(bin.name);
    return { ok: true, bin };
  }
  return openNode(packing, shape, groups, canAdd);
}

function openNode(packing: Packing, shape: ResourceShape, groups: WorkerGroupSpec[], canAdd: (group: WorkerGroupSpec, why: string[]) => boolean): Placement {
  const wantsGpu = (shape.GPU ?? 0) > 0;
  const holding = groups
    .filter((group) => fits(shape, groupCapacity(group)))
    // GPU nodes are dear: work that needs no GPU goes to a group without one when it can.
    .sort((a, b) => (wantsGpu ? 0 : Number(a.gpus > 0) - Number(b.gpus > 0)) || a.gpus - b.gpus || a.cpus - b.cpus);
  if (holding.length === 0) return { ok: false, why: 'infeasible', details: [`no worker group can hold ${describeShape(shape)}`] };
  const why: string[] = [];
  const group = holding.find((candidate) => canAdd(candidate, why));
  if (group === undefined) return { ok: false, why: 'capped', details: why };
  const count = (packing.planned.get(group.name) ?? 0) + 1;
  packing.planned.set(group.name, count);
  const bin: Bin = { name: `new ${group.name} ${count}`, group: group.name, free: groupCapacity(group), planned: true, gangs: new Set() };
  subtract(bin.free, shape);
  packing.bins.add(bin);
  const placed = packing.placedOnNew.get(group.name) ?? new Map<string, number>();
  placed.set(describeShape(shape), (placed.get(describeShape(shape)) ?? 0) + 1);
  packing.placedOnNew.set(group.name, placed);
  return { ok: true, bin };
}

/** All bundles of a gang or none: a placement group half placed holds resources and runs nothing. */
function placeGang(
  packing: Packing,
  gangId: string,
  strategy: 'STRICT_SPREAD' | 'STRICT_PACK' | 'ANY',
  bundles: ResourceShape[],
  groups: WorkerGroupSpec[],
  canAdd: (group: WorkerGroupSpec, why: string[]) => boolean,
): { ok: true } | Unplaced {
  const saved = snapshot(packing);
  const units = strategy === 'STRICT_PACK' ? [bundles.reduce((sum, bundle) => add(sum, bundle), {})] : bundles;
  const used = new Set<string>();
  for (const bundle of units) {
    const placement =
      strategy === 'STRICT_SPREAD'
        ? placeShape(packing, bundle, groups, canAdd, (bin) => used.has(bin.name) || bin.gangs.has(gangId))
        : placeShape(packing, bundle, groups, canAdd);
    if (!placement.ok) {
      restore(packing, saved);
      return placement;
    }
    used.add(placement.bin.name);
  }
  return { ok: true };
}

interface PackingSnapshot {
  restoreBins: () => void;
  planned: Map<string, number>;
  touched: Set<string>;
  placedOnNew: Map<string, Map<string, number>>;
}

function snapshot(packing: Packing): PackingSnapshot {
  return {
    restoreBins: packing.bins.snapshot(),
    planned: new Map(packing.planned),
    touched: new Set(packing.touched),
    placedOnNew: new Map([...packing.placedOnNew].map(([group, placed]) => [group, new Map(placed)])),
  };
}

function restore(packing: Packing, saved: PackingSnapshot): void {
  saved.restoreBins();
  packing.planned.clear();
  for (const [group, count] of saved.planned) packing.planned.set(group, count);
  packing.touched.clear();
  for (const name of saved.touched) packing.touched.add(name);
  packing.placedOnNew.clear();
  for (const [group, placed] of saved.placedOnNew) packing.placedOnNew.set(group, placed);
}

function addLaunches(plan: Plan, packing: Packing, cause: 'demand' | 'constraint'): void {
  const already = new Map<string, number>();
  for (const launch of plan.launches) already.set(launch.group, (already.get(launch.group) ?? 0) + launch.count);
  for (const [group, count] of packing.planned) {
    const fresh = count - (already.get(group) ?? 0);
    if (fresh <= 0) continue;
    const placed = [...(packing.placedOnNew.get(group) ?? new Map<string, number>())].map(([shape, times]) => `${times}×${shape}`).join(', ');
    const what = cause === 'demand' ? `pending ${placed}` : 'request_resources() needs capacity';
    plan.launches.push({ group, count: fresh, cause, reason: `${what} → ${fresh} new ${group} node(s)` });
  }
}
