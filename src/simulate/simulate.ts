// Runs rayfleet's real watcher in virtual time against the memory provider and the simulated Ray, on one workload and one spec.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RayfleetError } from '../errors.js';
import type { JournalEvent } from '../journal/event.js';
import { MemoryProvider, type MemoryNode } from '../providers/memory/memory-provider.js';
import { seededRandom, type Random } from '../providers/memory/seeded-random.js';
import type { ClusterSpec } from '../spec/schema.js';
import { VirtualClock } from '../time/virtual-clock.js';
import { Watcher } from '../watcher/watcher.js';
import { feasibleIn } from './feasibility.js';
import { simulatedCluster, type WatcherLaunch } from './simulated-cluster.js';
import { SimulatedRay, type SimulatedNode, type WorkUnit } from './simulated-ray.js';
import type { SimulationSettings } from '../spec/simulation.js';
import { simulationDefaults } from './simulation-settings.js';
import type { Workload } from './workload.js';

export interface SimulationOptions {
  spec: ClusterSpec;
  workload: Workload;
  /** Seeds every random draw: the same seed, spec and workload give the same run. */
  seed: number;
  signal?: AbortSignal;
}

/** Everything a run left behind, for the report. Times are virtual milliseconds. */
export interface SimulationRun {
  spec: ClusterSpec;
  workload: Workload;
  /** The machines as simulated: the spec's `simulation:` section, else the workload's. */
  settings: SimulationSettings;
  /** When the cluster stood at its mins and the first arrival came: the report counts from here. */
  startMs: number;
  endMs: number;
  /** The watcher's journal, as a real cluster's would read. */
  events: JournalEvent[];
  launches: WatcherLaunch[];
  nodes: readonly MemoryNode[];
  rayNodes: readonly SimulatedNode[];
  units: readonly WorkUnit[];
}

/** `up` waits for the mins; a cluster that is not there after this long starts the workload anyway. */
const WARMUP_CAP_MS = 60 * 60_000;
/** How often, in virtual time, a run without a horizon asks whether anything is left to happen. */
const SETTLE_CHECK_MS = 10_000;
/** A run without a horizon stops this long after its work could have ended and scaled down, done or not (work that never fits). */
const TAIL_CAP_MS = 30 * 60_000;

export async function runSimulation(options: SimulationOptions): Promise<SimulationRun> {
  const { spec, workload } = options;
  const settings = spec.simulation ?? workload.simulation;
  const clock = new VirtualClock();
  const seeds = seededRandom(options.seed);
  const nextSeed = (): number => Math.floor(seeds() * 2 ** 32);
  const arrivalRandom = seededRandom(nextSeed());
  const defaults = simulationDefaults(spec.provider);
  const launchLatency = settings.launchLatency ?? defaults.launch;
  // A node `starting` until Ray runs on it (a CML application) takes its launch time in the provider; one that runs at
  // once (a process, a container) takes it joining Ray.
  const { startsInProvider } = defaults;
  const provider = new MemoryProvider({
    clock,
    seed: nextSeed(),
    launchLatency: startsInProvider ? launchLatency : 0,
    terminateLatency: settings.terminateLatency ?? defaults.terminate,
    runningMeansRayUp: startsInProvider,
    ...(defaults.launchTimeoutMs === undefined ? {} : { defaultLaunchTimeoutMs: defaults.launchTimeoutMs }),
  });
  const ray = new SimulatedRay({ provider, clock, seed: nextSeed(), registrationDelay: startsInProvider ? 0 : launchLatency });
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-simulate-'));
  const simulation = simulatedCluster({ spec, provider, ray, clock, stateDir });
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await simulation.launcher.launchHead('simulate: the head');
    // The faults are the workers': a head that fails to start is no cluster to simulate.
    Object.assign(provider.faults, {
      launchFailureRate: settings.launchFailureRate,
      deathRate: settings.deathRate,
      deathAfter: settings.deathAfter,
      quota: settings.quota,
      quotaCode: defaults.quotaCode,
    });
    const watcher = new Watcher({ cluster: simulation.cluster, clock });
    let ended = false;
    const running = watcher.run(stop.signal).finally(() => (ended = true));
    // The watcher takes its lock (a real file) before its first tick; virtual time starts once it sleeps.
    while (clock.pendingTimers === 0 && !ended) await nextTurn();
    if (ended) await running;

    const interval = spec.watcher.intervalMs;
    const warmupEnd = clock.now() + WARMUP_CAP_MS;
    while (clock.now() < warmupEnd && !atMins(ray, spec) && !stop.signal.aborted) await clock.advance(interval);
    const startMs = clock.now();
    const lastArrivalMs = submitWorkload(ray, workload, startMs, arrivalRandom);

    if (settings.horizonMs !== undefined) {
      await clock.advanceTo(startMs + settings.horizonMs);
    } else {
      const longest = Math.max(0, ...workload.arrivals.map((arrival) => arrival.durationMs).filter(Number.isFinite));
      const capMs = lastArrivalMs + longest + 2 * spec.watcher.idleTimeoutMs + TAIL_CAP_MS;
      await clock.advanceTo(lastArrivalMs);
      const feasible = feasibleIn(spec);
      while (clock.now() < capMs && !stop.signal.aborted && !settled(ray, provider, spec, feasible)) await clock.advance(Math.max(interval, SETTLE_CHECK_MS));
    }
    if (options.signal?.aborted === true) throw new RayfleetError('INTERRUPTED', 'the simulation was interrupted');
    const endMs = clock.now();
    stop.abort();
    await running;
    return { spec, workload, settings, startMs, endMs, events: simulation.events, launches: simulation.launches, nodes: provider.nodes(), rayNodes: ray.nodes(), units: ray.units() };
  } finally {
    stop.abort();
    options.signal?.removeEventListener('abort', onAbort);
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** Submits each arrival at its time after the start, spread over its window where it has one; returns when the last arrives. */
function submitWorkload(ray: SimulatedRay, workload: Workload, startMs: number, random: Random): number {
  let last = startMs;
  for (const arrival of workload.arrivals) {
    const request = {
      kind: arrival.kind,
      durationMs: arrival.durationMs,
      ...(arrival.shape === undefined ? {} : { shape: arrival.shape }),
      ...(arrival.bundles === undefined ? {} : { bundles: arrival.bundles }),
      ...(arrival.strategy === undefined ? {} : { strategy: arrival.strategy }),
      ...(arrival.name === undefined ? {} : { name: arrival.name }),
    };
    const atMs = startMs + arrival.atMs;
    if (arrival.overMs <= 0) {
      ray.submit({ ...request, count: arrival.count, atMs });
      last = Math.max(last, atMs);
      continue;
    }
    const times = Array.from({ length: arrival.count }, () => atMs + Math.floor(random() * arrival.overMs)).sort((a, b) => a - b);
    for (const at of times) ray.submit({ ...request, count: 1, atMs: at });
    last = Math.max(last, times.at(-1) ?? atMs);
  }
  return last;
}

/** The head and every group's min alive in Ray, as `up` leaves a cluster before the work comes. */
function atMins(ray: SimulatedRay, spec: ClusterSpec): boolean {
  const alive = ray.nodes().filter((node) => node.deadAtMs === undefined);
  return alive.some((node) => node.nodeTypeName === 'head') && spec.workerGroups.every((group) => alive.filter((node) => node.nodeTypeName === group.name).length >= group.min);
}

/**
 * Nothing left to happen: no work waits that some node could hold or runs to an end, no node comes or goes, no idle
 * node above its group's min. Work no node can ever hold waits forever: waiting for it only ran up node-hours.
 */
function settled(ray: SimulatedRay, provider: MemoryProvider, spec: ClusterSpec, feasible: (unit: WorkUnit) => boolean): boolean {
  if (ray.oldestPendingAtMs(feasible) !== undefined) return false;
  if (ray.units().some((unit) => unit.finishedAtMs === undefined && Number.isFinite(unit.durationMs) && feasible(unit))) return false;
  const state = ray.snapshot();
  const live = provider.nodes().filter((node) => node.goneAtMs === undefined && node.request.role === 'worker');
  if (live.some((node) => node.terminatingAtMs !== undefined)) return false;
  const alive = new Map(state.nodeStates.filter((node) => node.status !== 'DEAD').map((node) => [node.instanceId, node]));
  for (const group of spec.workerGroups) {
    const members = live.filter((node) => node.request.group === group.name);
    if (members.some((node) => !alive.has(node.request.name))) return false;
    const idle = members.filter((node) => alive.get(node.request.name)?.status === 'IDLE');
    if (idle.length > 0 && members.length > group.min) return false;
  }
  return true;
}
