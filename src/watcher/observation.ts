// What the watcher sees at one instant: every worker joined with Ray's view of it, and what Ray is waiting for.
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import type { InstanceState } from '../providers/node-provider.js';

/** Where the demand numbers came from: the GCS, the dashboard's HTTP view, or the old CPU-utilisation heuristic. */
export type DemandSource = 'gcs' | 'dashboard' | 'cpu-heuristic';

export interface ShapeDemand {
  shape: ResourceShape;
  count: number;
}

/** How a placement group's bundles must lie: each on its own node, all on one node, or anywhere. */
export type GangStrategy = 'STRICT_SPREAD' | 'STRICT_PACK' | 'ANY';

export interface GangDemand {
  /** The placement group, `_PG_<hex>`, when Ray names it. */
  id: string;
  strategy: GangStrategy;
  bundles: ResourceShape[];
}

export interface Demand {
  /** Tasks and actors waiting for resources, by shape. */
  shapes: ShapeDemand[];
  /** Placement groups waiting to be placed. */
  gangs: GangDemand[];
  /** `request_resources()`: shapes the cluster must be able to hold at once, busy or not. */
  constraints: ShapeDemand[];
}

export type WorkerPhase =
  /** Alive in Ray. */
  | 'registered'
  /** Launched by the provider, not yet alive in Ray. */
  | 'launching'
  /** Draining in Ray: leaving, no longer capacity. */
  | 'draining'
  /** The provider says it ended, or it failed. */
  | 'dead'
  /**
   * The provider cannot read it (its SSH host does not answer) and Ray does not show it alive: it holds its name and
   * its place toward max, is no capacity, and is neither cleaned up nor replaced under its name.
   */
  | 'unknown';

export interface WorkerView {
  name: string;
  group: string;
  index: number;
  phase: WorkerPhase;
  createdAtMs: number;
  /**
   * When the watcher first saw the node alive in Ray. Ray counts idle time from the raylet's start, before work
   * could reach the node, so no worker is drained sooner than idleTimeout after this (createdAtMs when unknown).
   */
  registeredAtMs?: number;
  /**
   * The provider says the node ended or failed while Ray still shows it alive (on local: the leader process died,
   * the raylet runs). Such a node leaves only through an accepted drain, never by a bare terminate.
   */
  providerEnded?: 'stopped' | 'failed';
  /** Ray lists the node DEAD and none alive of its name: it was there and left (its raylet exited), whatever the provider says. */
  leftRay?: boolean;
  /** Ray's view, when the node is alive there. */
  ray?: {
    nodeId: string;
    idle: boolean;
    idleMs: number;
    total: ResourceShape;
    available: ResourceShape;
    labels: Record<string, string>;
  };
}

export interface Observation {
  atMs: number;
  source: DemandSource;
  workers: WorkerView[];
  /** Free resources on the head, which can take work too. */
  headAvailable: ResourceShape;
  headTotal: ResourceShape;
  /** The head as its provider lists it now; undefined when not listed (or the list failed). */
  headState?: InstanceState | undefined;
  demand: Demand;
  /** False when the provider's list failed this tick: then nothing is terminated. */
  providerOk: boolean;
  /** False when Ray could not be asked through the GCS: then nothing is drained or terminated. */
  rayOk: boolean;
  /** Why a view is missing, for status and events. */
  problems: string[];
  /** Per group, how many more of its nodes the provider's machines can hold, where it says (NodeProvider.roomFor). */
  providerRoom?: Record<string, number>;
}
