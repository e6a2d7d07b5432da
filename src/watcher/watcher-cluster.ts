// What the watcher needs of a cluster, and nothing more: a Fleet serves it for real clusters, the simulator for virtual ones.
import type { JournalEvent, NewEvent } from '../journal/event.js';
import type { DashboardClient } from '../ray/dashboard-client.js';
import type { GcsClient } from '../ray/gcs-client.js';
import type { Instance, NodeProvider } from '../providers/node-provider.js';
import type { ClusterSpec } from '../spec/schema.js';
import type { Observation } from './observation.js';
import type { WatcherStatus } from './watcher-status.js';

/** The two GCS calls the watcher makes. */
export type WatcherGcs = Pick<GcsClient, 'getClusterResourceState' | 'drainNode'>;

/** The dashboard call the fallback view makes, when the GCS cannot be reached. */
export type WatcherDashboard = Pick<DashboardClient, 'clusterStatus'>;

/** A worker to take away, with what Ray said of it when it was picked. */
export interface DrainTarget {
  name: string;
  group: string;
  /** Ray's node id while it is alive there; without one, there is nothing to drain and the node is only stopped. */
  nodeId?: string | undefined;
  /** Ray's idle time when the node was picked, for the journal. */
  idleMs?: number | undefined;
}

/** A worker to take away, and why. */
export interface DrainRequest extends DrainTarget {
  reason: string;
}

export type DrainOutcome =
  | { stopped: true; drained: boolean }
  /** Ray refused the drain: the node has work, and it stays. */
  | { stopped: false; rejection: string };

/** What became of one request: its outcome, or the error that left the node as it was (not stopped). */
export type DrainResult = { name: string; outcome: DrainOutcome } | { name: string; error: unknown };

export interface WatcherCluster {
  readonly name: string;
  /** Where the watcher keeps its lock and status. */
  readonly stateDir: string;
  /** The spec the cluster runs now, live changes included; undefined once the cluster is down. */
  currentSpec(): Promise<ClusterSpec | undefined>;
  provider(): Promise<NodeProvider>;
  gcs(): Promise<WatcherGcs>;
  dashboard(): Promise<WatcherDashboard>;
  /** Launches at the group's lowest free indices, under the cluster's launch lock, within its max and maxWorkers. */
  launchWorkers(group: string, count: number, reason: string, signal?: AbortSignal): Promise<Instance[]>;
  /**
   * Drains in Ray, one call at a time, and stops each node once its drain is accepted and Ray has it DEAD (or a deadline
   * passed): as Ray's own autoscaler does.
   */
  drainThenStop(requests: DrainRequest[], numbers: Record<string, string | number | boolean>, signal?: AbortSignal): Promise<DrainResult[]>;
  /**
   * Drains (in Ray) and stops the processes that carry this cluster's id and no node record; how many it stopped. Absent
   * where nothing can carry the id (the simulator).
   */
  sweepOrphans?(signal?: AbortSignal): Promise<number>;
  /**
   * Starts the head again on its address and ports (head.faultTolerance), once the provider proves its old processes gone;
   * false while it cannot. Absent where the provider cannot restart a head.
   */
  restartHead?(signal?: AbortSignal): Promise<boolean>;
  /** Stops a node that Ray does not have alive (dead, or never joined). */
  terminate(name: string, reason: string, signal?: AbortSignal): Promise<void>;
  record(event: NewEvent): Promise<void>;
  journal(): Promise<JournalEvent[]>;
  writeStatus(status: WatcherStatus): Promise<void>;
  /** Keeps the observation in the cluster's history (the dashboard's charts); a simulation keeps none. */
  recordObservation(observation: Observation): Promise<void>;
}
