// A cluster that exists only in memory, as the watcher sees one: the memory provider, the simulated Ray, a journal in memory,
// and the fleet's own launcher and drain-then-stop, so the simulated watcher launches and drains by the same code as a real one.
import { RayfleetError } from '../errors.js';
import { drainThenStopAll, stopNode } from '../fleet/drain-and-stop.js';
import { NodeLauncher } from '../fleet/node-launcher.js';
import { eventSchema, type JournalEvent, type NewEvent } from '../journal/event.js';
import type { MemoryProvider } from '../providers/memory/memory-provider.js';
import type { Instance } from '../providers/node-provider.js';
import type { ClusterSpec } from '../spec/schema.js';
import type { Clock } from '../time/clock.js';
import type { WatcherCluster, WatcherDashboard } from '../watcher/watcher-cluster.js';
import { feasibleIn } from './feasibility.js';
import type { SimulatedRay } from './simulated-ray.js';

export interface SimulatedClusterOptions {
  spec: ClusterSpec;
  provider: MemoryProvider;
  ray: SimulatedRay;
  clock: Clock;
  /** Where the watcher takes its lock: the only file a simulation touches. */
  stateDir: string;
}

/** A launch the watcher made, with the oldest request that waited when it was made (for "demand → capacity"). */
export interface WatcherLaunch {
  providerId: string;
  group: string;
  atMs: number;
  oldestPendingAtMs: number | undefined;
}

export interface SimulatedCluster {
  cluster: WatcherCluster;
  launcher: NodeLauncher;
  /** The journal, in memory, in order. */
  readonly events: JournalEvent[];
  readonly launches: WatcherLaunch[];
}

/** The simulation has no dashboard: when the simulated GCS is down, the watcher's fallback finds nothing either. */
const noDashboard: WatcherDashboard = {
  clusterStatus: () => Promise.reject(new RayfleetError('RAY_UNREACHABLE', 'a simulated cluster has no dashboard')),
};

export function simulatedCluster(options: SimulatedClusterOptions): SimulatedCluster {
  const { spec, provider, ray, clock } = options;
  const events: JournalEvent[] = [];
  const launches: WatcherLaunch[] = [];
  const seen = new Set<string>();
  const feasible = feasibleIn(spec);
  const record = async (event: NewEvent): Promise<void> => {
    // Parsed as the journal reads its lines back, so a simulation's journal is one a real cluster could have written.
    events.push(eventSchema.parse({ ...event, v: 1, time: new Date(clock.now()).toISOString(), cluster: spec.name }));
  };
  const providerOf = async (): Promise<MemoryProvider> => provider;
  const terminate = (name: string, reason: string, signal?: AbortSignal): Promise<void> => stopNode({ provider: providerOf, record }, name, reason, signal);
  let lockTail: Promise<unknown> = Promise.resolve();
  const launcher = new NodeLauncher({
    cluster: spec.name,
    spec: async () => spec,
    provider: providerOf,
    // One launcher in one process: a queue is the whole lock.
    withLaunchLock: <T>(_signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> => {
      const run = lockTail.then(work);
      lockTail = run.catch(() => undefined);
      return run;
    },
    authEnv: async () => ({}),
    clusterId: () => undefined,
    record,
    terminate,
  });
  const cluster: WatcherCluster = {
    name: spec.name,
    stateDir: options.stateDir,
    currentSpec: async () => spec,
    provider: providerOf,
    gcs: async () => ray,
    dashboard: async () => noDashboard,
    launchWorkers: async (group: string, count: number, reason: string, signal?: AbortSignal): Promise<Instance[]> => {
      // Demand no node can hold is no demand a launch answers: its wait is not the launch's.
      const oldestPendingAtMs = ray.oldestPendingAtMs(feasible);
      const atMs = clock.now();
      const known = provider.nodes().length;
      try {
        return await launcher.launchWorkers(group, count, reason, { upToLimits: true, signal });
      } finally {
        // Every node this call made, also when one of its launches failed and the call threw.
        for (const node of provider.nodes().slice(known)) {
          if (node.request.group === group && node.launchedAtMs === atMs && !seen.has(node.providerId)) {
            seen.add(node.providerId);
            launches.push({ providerId: node.providerId, group, atMs, oldestPendingAtMs });
          }
        }
      }
    },
    drainThenStop: (requests, numbers, signal) => drainThenStopAll({ provider: providerOf, record, gcs: async () => ray, clock }, requests, { numbers, signal }),
    terminate,
    record,
    journal: async () => events,
    writeStatus: async () => undefined,
    recordObservation: async () => undefined,
  };
  return { cluster, launcher, events, launches };
}
