// The watcher's decisions, as a pure function: from one observation, the spec and the history, what to launch, drain and clean up, and why.
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import type { WatcherSpec, WorkerGroupSpec } from '../spec/schema.js';
import type { GangDemand, Observation, WorkerView } from './observation.js';
import { Bins, NO_GANGS, keyNames, keyOf, newBin, project, type Bin } from './bins.js';
import { Packer, slotsFor, type GroupSlots, type Unplaced } from './packing.js';
import { EPSILON, add, fits, isDemandForNewNodes, isUnused, shapeKey, weight } from './resource-shapes.js';

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

/**
 * Packing rounds at most. The plan is a fixed point: it packs the demand again with its own launches counted as
 * in flight until a round adds nothing, so the next tick, which sees those launches in flight, plans none. Nearly
 * every plan settles in two rounds; the cap bounds the time when one does not.
 */
const MAX_ROUNDS = 8;

type Cause = PlannedLaunch['cause'];
const CAUSES: Cause[] = ['demand', 'constraint', 'min'];

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

  const { demand } = observation;
  const shapes = mergeShapes(demand.shapes.filter((entry) => entry.count > 0 && isDemandForNewNodes(entry.shape)));
  const gangs = [...demand.gangs.filter((gang) => gang.bundles.length > 0)].sort((a, b) => b.bundles.length - a.bundles.length);
  const constraints = mergeShapes(demand.constraints.filter((entry) => entry.count > 0));
  const pending = shapes.reduce((total, entry) => total + entry.count, 0) + gangs.reduce((total, gang) => total + gang.bundles.length, 0);
  const coolingDown = history.lastScaleUpAtMs !== undefined && now - history.lastScaleUpAtMs < config.watcher.cooldownMs;
  let packDemand = pending > 0;
  if (pending > 0 && pending <= config.watcher.pendingThreshold) {
    plan.withheld.push(`${pending} pending request(s), not more than pendingThreshold ${config.watcher.pendingThreshold}`);
    packDemand = false;
  } else if (pending > 0 && coolingDown) {
    plan.withheld.push(`cooldown: the last scale-up was ${Math.round((now - (history.lastScaleUpAtMs ?? now)) / 1000)} s ago, cooldown is ${Math.round(config.watcher.cooldownMs / 1000)} s`);
    packDemand = false;
  }

  const units = [...shapes.map((entry) => entry.shape), ...gangs.flatMap((gang) => (gang.strategy === 'STRICT_PACK' ? [sum(gang.bundles)] : gang.bundles))];
  const counts = new Map<string, GroupCounts>();
  for (const worker of live) {
    const group = counts.get(worker.group) ?? { live: 0, staying: 0, inFlight: 0, leaving: 0 };
    counts.set(worker.group, group);
    group.live += 1;
    if (isLeaving(worker)) group.leaving += 1;
    // An unknown node (its host does not answer) holds its place toward max but is no capacity: a min is met without it.
    else if (worker.phase !== 'draining' && worker.phase !== 'unknown') group.staying += 1;
    if (worker.phase === 'launching') group.inFlight += 1;
  }
  const demandNames = keyNames(units);
  const constraintUnits = constraints.map((entry) => entry.shape);
  const constraintNames = keyNames(constraintUnits);
  const context: RoundContext = {
    observation,
    config,
    history,
    liveWorkers: live.length,
    counts,
    shapes: packDemand ? shapes : [],
    gangs: packDemand ? gangs : [],
    constraints: coolingDown ? [] : constraints,
    demandNames,
    constraintNames,
    roomy: roomyBins(live, units, 'available', demandNames),
    roomyTotal: roomyBins(live, constraintUnits, 'total', constraintNames),
    inFlightBins: new Map(),
  };
  const added = new Map<string, Record<Cause, number>>();
  const minReasons = new Map<string, string>();
  let round: Round;
  let rounds = 0;
  for (;;) {
    rounds += 1;
    round = packRound(context, added);
    let fresh = 0;
    for (const [group, byCause] of round.planned) {
      const total = added.get(group) ?? { demand: 0, constraint: 0, min: 0 };
      for (const cause of CAUSES) total[cause] += byCause[cause];
      added.set(group, total);
      fresh += byCause.demand + byCause.constraint + byCause.min;
    }
    for (const [group, reason] of round.minReasons) if (!minReasons.has(group)) minReasons.set(group, reason);
    if (fresh === 0 || rounds === MAX_ROUNDS) break;
  }

  plan.infeasible = round.infeasible;
  for (const reason of round.withheld) if (!plan.withheld.includes(reason)) plan.withheld.push(reason);
  for (const cause of CAUSES) {
    for (const slot of round.slots.values()) {
      const count = added.get(slot.spec.name)?.[cause] ?? 0;
      if (count === 0) continue;
      const group = slot.spec.name;
      const placed = [...(round.packer.placedOnNew.get(group) ?? new Map<string, number>())].map(([shape, times]) => `${times}×${shape}`).join(', ');
      const reason =
        cause === 'min' ? (minReasons.get(group) ?? `group ${group} is below min ${slot.spec.min}`) : `${cause === 'demand' ? `pending ${placed}` : 'request_resources() needs capacity'} → ${count} new ${group} node(s)`;
      plan.launches.push({ group, count, cause, reason });
    }
  }
  plan.numbers = {
    pendingRequests: pending,
    pendingShapes: shapes.length,
    pendingGangs: gangs.length,
    constraintBundles: demand.constraints.reduce((total, entry) => total + entry.count, 0),
    workers: live.length,
    launching: [...counts.values()].reduce((total, group) => total + group.inFlight, 0),
    leaving: [...counts.values()].reduce((total, group) => total + group.leaving, 0),
    planRounds: rounds,
  };

  if (canTerminate && observation.source === 'gcs') {
    // The bins of the last round, which is the plan: the workers whose bins took demand or a constraint are needed.
    const neededNames = new Set<string>();
    for (const { bin } of context.roomy) if (bin.took) neededNames.add(bin.name);
    if (round.constraintPacker !== undefined) for (const { bin } of context.roomyTotal) if (bin.took) neededNames.add(bin.name);
    const needed = (name: string): boolean => neededNames.has(name);
    const launching = (group: string): boolean => {
      const byCause = added.get(group);
      return byCause !== undefined && byCause.demand + byCause.constraint + byCause.min > 0;
    };
    planDrains(plan, observation, live, config, round.staying, launching, needed);
  }
  return plan;
}

interface GroupCounts {
  live: number;
  /** Not draining, not ended in the provider's eyes. */
  staying: number;
  /** Launched, not yet in Ray. */
  inFlight: number;
  /** Alive in Ray, ended in the provider's eyes. */
  leaving: number;
}

interface RoundContext {
  observation: Observation;
  config: PlannerConfig;
  history: PlannerHistory;
  liveWorkers: number;
  counts: Map<string, GroupCounts>;
  shapes: MergedShape[];
  gangs: GangDemand[];
  constraints: MergedShape[];
  /** The resources bins are keyed on in the demand pass and in the constraint pass. */
  demandNames: string[];
  constraintNames: string[];
  /** Registered workers with room for some unit of demand, and (whole) for some constraint, as bins: the same every round. */
  roomy: ReusedBin[];
  roomyTotal: ReusedBin[];
  /** Bins for launches in flight, by pass, kind and group, made once and reset every round. */
  inFlightBins: Map<string, Bin[]>;
}

interface Round {
  packer: Packer;
  constraintPacker: Packer | undefined;
  slots: Map<string, GroupSlots>;
  /** Per group, the workers that stay: not draining, not ended in the provider's eyes, and what earlier rounds added. */
  staying: Map<string, number>;
  planned: Map<string, Record<Cause, number>>;
  minReasons: Map<string, string>;
  withheld: string[];
  infeasible: ResourceShape[];
}

/** The provider's room per group less what earlier rounds planned, which this round counts as launches in flight. */
function roomLeft(providerRoom: Record<string, number> | undefined, added: Map<string, Record<Cause, number>>): Record<string, number> | undefined {
  if (providerRoom === undefined) return undefined;
  const left: Record<string, number> = {};
  for (const [group, room] of Object.entries(providerRoom)) {
    const byCause = added.get(group);
    left[group] = Math.max(0, room - (byCause === undefined ? 0 : byCause.demand + byCause.constraint + byCause.min));
  }
  return left;
}

/** One packing of all demand, constraints and mins, with the nodes earlier rounds planned counted as launches in flight. */
function packRound(context: RoundContext, added: Map<string, Record<Cause, number>>): Round {
  const { observation, config, history } = context;
  const slots = slotsFor(config.groups);
  const staying = new Map<string, number>();
  /** Launches in flight, and what earlier rounds planned: capacity on its way, at the group's size. */
  const inFlight: Array<{ slot: GroupSlots; count: number; kind: 'in-flight' | 'new' }> = [];
  let liveWorkers = context.liveWorkers;
  for (const slot of slots.values()) {
    const group = context.counts.get(slot.spec.name) ?? { live: 0, staying: 0, inFlight: 0, leaving: 0 };
    const byCause = added.get(slot.spec.name);
    const more = byCause === undefined ? 0 : byCause.demand + byCause.constraint + byCause.min;
    slot.live = group.live + more;
    liveWorkers += more;
    staying.set(slot.spec.name, group.staying + more);
    // A launch in flight is capacity on its way: count it, or every tick would launch again for the same demand.
    if (group.inFlight > 0) inFlight.push({ slot, count: group.inFlight, kind: 'in-flight' });
    if (more > 0) inFlight.push({ slot, count: more, kind: 'new' });
  }
  const addInFlight = (bins: Bins, pass: 'demand' | 'constraint'): void => {
    const names = pass === 'demand' ? context.demandNames : context.constraintNames;
    for (const { slot, count, kind } of inFlight) {
      const capacity = project(slot.capacity, names);
      const key = keyOf(newBin('', undefined, capacity, kind, names), names);
      const poolKey = `${pass} ${kind} ${slot.spec.name}`;
      const pool = context.inFlightBins.get(poolKey) ?? [];
      context.inFlightBins.set(poolKey, pool);
      for (let index = 0; index < count; index += 1) {
        let bin = pool[index];
        if (bin === undefined) {
          bin = newBin(`${kind} ${slot.spec.name} ${index + 1}`, slot.spec.name, capacity, kind, names);
          pool.push(bin);
        } else reset(bin, capacity);
        bins.add(bin, key);
      }
    }
  };
  const limits = { now: observation.atMs, maxWorkers: config.watcher.maxWorkers, backoffUntilMs: history.backoffUntilMs, providerRoom: roomLeft(observation.providerRoom, added) };
  const withheld: string[] = [];
  const infeasible: ResourceShape[] = [];
  const record = (failure: Unplaced, shape: ResourceShape, times: number): void => {
    if (failure.why === 'infeasible') for (let index = 0; index < times; index += 1) infeasible.push(shape);
    else for (const detail of failure.details) if (!withheld.includes(detail)) withheld.push(detail);
  };

  const demandBins = new Bins(context.demandNames);
  demandBins.add(newBin('head', undefined, observation.headAvailable, 'node', context.demandNames));
  for (const { bin, initial, key } of context.roomy) demandBins.add(reset(bin, initial), key);
  addInFlight(demandBins, 'demand');
  const packer = new Packer(demandBins, slots, limits, liveWorkers);
  // Plain work first, gangs into what it leaves: that is the order Ray fills the nodes on their way. A raylet takes
  // pending tasks the moment its node joins, while a gang of several nodes waits until all of them are there, so the
  // first nodes to join go to the tasks. Packed the other way round, a gang's nodes were counted with room for the
  // tasks beside it, the tasks filled the first nodes instead, and the gang needed one more launch a launch later
  // (bench:autoscale's strict-spread: 4 nodes, then a 5th). Launching fewer and letting the gang wait for the tasks
  // to end saves that node only when they end sooner than a node comes up, and Ray does not say how long they run.
  for (const entry of context.shapes) {
    const placed = packer.placeShape(entry.shape, entry.count);
    if (placed.failure !== undefined) record(placed.failure, entry.shape, placed.left);
  }
  for (const gang of context.gangs) {
    const placed = packer.placeGang(gang.id, gang.strategy, gang.bundles);
    if (!placed.ok) record(placed, gang.bundles[0] ?? {}, 1);
  }
  const planned = new Map<string, Record<Cause, number>>();
  const count = (cause: Cause, group: string, times: number): void => {
    if (times <= 0) return;
    const byCause = planned.get(group) ?? { demand: 0, constraint: 0, min: 0 };
    byCause[cause] += times;
    planned.set(group, byCause);
  };
  for (const slot of slots.values()) count('demand', slot.spec.name, slot.planned);

  let constraintPacker: Packer | undefined;
  if (context.constraints.length > 0) {
    // request_resources() asks for capacity, busy or free: pack it into every staying node's total, and the nodes the demand opened.
    const before = new Map([...slots].map(([group, slot]) => [group, slot.planned]));
    const totals = new Bins(context.constraintNames);
    totals.add(newBin('head', undefined, observation.headTotal, 'node', context.constraintNames));
    for (const { bin, initial, key } of context.roomyTotal) totals.add(reset(bin, initial), key);
    addInFlight(totals, 'constraint');
    for (const bin of packer.opened) {
      const capacity = bin.group === undefined ? undefined : slots.get(bin.group)?.capacity;
      if (capacity !== undefined) totals.add(newBin(bin.name, bin.group, capacity, bin.kind, context.constraintNames));
    }
    constraintPacker = new Packer(totals, slots, limits, liveWorkers);
    for (const entry of context.constraints) {
      const placed = constraintPacker.placeShape(entry.shape, entry.count);
      if (placed.failure?.why === 'infeasible') record(placed.failure, entry.shape, placed.left);
    }
    for (const [group, slot] of slots) count('constraint', group, slot.planned - (before.get(group) ?? 0));
  }

  const minReasons = new Map<string, string>();
  for (const slot of slots.values()) {
    const group = slot.spec;
    const have = (staying.get(group.name) ?? 0) + slot.planned;
    const why: string[] = [];
    let more = 0;
    while (have + more < group.min && packer.canAdd(slot, why)) {
      slot.planned += 1;
      more += 1;
    }
    if (more > 0) {
      count('min', group.name, more);
      minReasons.set(group.name, `group ${group.name} has ${have} of min ${group.min}`);
    }
    for (const reason of why) if (!withheld.includes(reason)) withheld.push(reason);
  }
  return { packer, constraintPacker, slots, staying, planned, minReasons, withheld, infeasible };
}

/** A node Ray runs but the provider says ended: it is drained when it can be, and replaced meanwhile. */
function isLeaving(worker: WorkerView): boolean {
  return worker.providerEnded !== undefined && worker.phase === 'registered';
}

/**
 * Scale-down. A worker is drained only when Ray says it is idle and unused, it registered at least idleTimeout ago
 * (Ray counts idle time from the raylet's start, before work could reach it), no pending demand fits on it (it may
 * be about to get that work) and this plan packed nothing into it. A healthy worker also needs idleTimeout of idle
 * time and its group above min with nothing launching; one the provider says ended goes as soon as it is unused.
 */
function planDrains(
  plan: Plan,
  observation: Observation,
  live: WorkerView[],
  config: PlannerConfig,
  staying: Map<string, number>,
  launching: (group: string) => boolean,
  needed: (name: string) => boolean,
): void {
  const groups = new Map(config.groups.map((group) => [group.name, group]));
  const idleTimeoutMs = config.watcher.idleTimeoutMs;
  const pendingFits = pendingFitter(observation);
  const drainable = (worker: WorkerView): worker is WorkerView & { ray: NonNullable<WorkerView['ray']> } =>
    worker.phase === 'registered' &&
    worker.ray !== undefined &&
    worker.ray.idle &&
    observation.atMs - (worker.registeredAtMs ?? worker.createdAtMs) >= idleTimeoutMs &&
    isUnused(worker.ray.total, worker.ray.available) &&
    !needed(worker.name) &&
    !pendingFits(worker.ray.available);
  for (const worker of live) {
    if (!isLeaving(worker) || !drainable(worker)) continue;
    plan.drains.push({
      name: worker.name,
      nodeId: worker.ray.nodeId,
      group: worker.group,
      idleMs: worker.ray.idleMs,
      reason: `the provider says it ${worker.providerEnded === 'failed' ? 'failed' : 'stopped'} while Ray still runs it: drained before it is stopped`,
    });
  }
  const remaining = new Map(staying);
  const idle = live.filter((worker) => !isLeaving(worker) && drainable(worker) && worker.ray.idleMs >= idleTimeoutMs).sort((a, b) => b.index - a.index);
  for (const worker of idle) {
    const group = groups.get(worker.group);
    const count = remaining.get(worker.group) ?? 0;
    if (group === undefined || count <= group.min || launching(group.name) || worker.ray === undefined) continue;
    remaining.set(worker.group, count - 1);
    plan.drains.push({
      name: worker.name,
      nodeId: worker.ray.nodeId,
      group: worker.group,
      idleMs: worker.ray.idleMs,
      reason: `idle ${Math.round(worker.ray.idleMs / 1000)} s > idleTimeout ${Math.round(idleTimeoutMs / 1000)} s, group ${worker.group} keeps ${count - 1} of min ${group.min}`,
    });
  }
}

/** Whether any pending request or bundle, whatever its kind, fits into the given free resources. */
function pendingFitter(observation: Observation): (available: ResourceShape) => boolean {
  const pending: ResourceShape[] = [];
  for (const entry of observation.demand.shapes) if (entry.count > 0) pending.push(entry.shape);
  for (const gang of observation.demand.gangs) pending.push(...gang.bundles);
  const units = minimalUnits(pending.filter((shape) => Object.values(shape).some((amount) => amount > EPSILON)));
  return (available) => fitsAny(units, available);
}

/** Equal shapes as one entry, largest first (GPUs, then CPUs), a fixed order on ties: the order packing goes in. */
interface MergedShape {
  shape: ResourceShape;
  count: number;
  key: string;
}

function mergeShapes(entries: Array<{ shape: ResourceShape; count: number }>): MergedShape[] {
  const merged = new Map<string, MergedShape>();
  for (const entry of entries) {
    const key = shapeKey(entry.shape);
    const known = merged.get(key);
    if (known === undefined) merged.set(key, { shape: entry.shape, count: entry.count, key });
    else known.count += entry.count;
  }
  return [...merged.values()].sort((a, b) => weight(b.shape) - weight(a.shape) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function sum(bundles: ResourceShape[]): ResourceShape {
  return bundles.reduce((total, bundle) => add(total, bundle), {});
}

/** A bin made once per plan and reset to its node's resources at the start of every round: rounds allocate nothing for it. */
interface ReusedBin {
  bin: Bin;
  initial: ResourceShape;
  key: string;
}

/** Puts the bin's free resources back to `initial` (packing changes only the amounts of names it has) and out of any bucket. */
function reset(bin: Bin, initial: ResourceShape): Bin {
  for (const name in initial) bin.free[name] = initial[name] as number;
  bin.took = false;
  bin.bucketAt = -1;
  return bin;
}

/**
 * Registered workers as bins of their free resources (`available`) or their whole capacity (`total`), those with
 * room for some unit only: a node no unit fits now fits none later (packing only takes room away), so leaving it
 * out changes nothing but the time.
 */
function roomyBins(live: WorkerView[], units: ResourceShape[], room: 'available' | 'total', names: readonly string[]): ReusedBin[] {
  const distinct = minimalUnits(units);
  const bins: ReusedBin[] = [];
  if (distinct.length === 0) return bins;
  for (const worker of live) {
    if (worker.phase !== 'registered' || worker.ray === undefined || isLeaving(worker)) continue;
    // A unit asks only for names in `names`, so it fits the node's resources as Ray gives them exactly when it fits
    // their projection: only the nodes with room are copied (10,000 copies a tick were most of this function).
    const resources = worker.ray[room];
    if (!fitsAny(distinct, resources)) continue;
    // Ray's resources of each node have a name of their own (`node:<ip>`): they are read once, into the names packing uses.
    const initial = project(resources, names);
    const bin = newBin(worker.name, worker.group, initial, 'node', names, room === 'available' ? gangLabels(worker.ray.labels) : NO_GANGS);
    bins.push({ bin, initial, key: keyOf(bin, names) });
  }
  return bins;
}

/** A loop, not `units.some(…)`: a closure per node is 10,000 a tick. */
function fitsAny(units: ResourceShape[], resources: ResourceShape): boolean {
  for (const unit of units) if (fits(unit, resources)) return true;
  return false;
}

/** The units no smaller unit stands for: where one of them fits, a smaller one (every amount at most its own) fits too. */
function minimalUnits(units: ResourceShape[]): ResourceShape[] {
  const distinct = [...new Map(units.map((unit) => [shapeKey(unit), unit])).values()];
  return distinct.filter((unit, index) => !distinct.some((other, otherIndex) => otherIndex !== index && smallerOrEqual(other, unit) && (!smallerOrEqual(unit, other) || otherIndex < index)));
}

function smallerOrEqual(small: ResourceShape, large: ResourceShape): boolean {
  for (const name in small) if ((small[name] ?? 0) > (large[name] ?? 0)) return false;
  return true;
}

function gangLabels(labels: Record<string, string>): ReadonlySet<string> {
  // Most nodes hold no bundle: nothing is allocated for them.
  let gangs: Set<string> | undefined;
  for (const label in labels) if (label.startsWith('_PG_')) (gangs ??= new Set()).add(label);
  return gangs ?? NO_GANGS;
}
