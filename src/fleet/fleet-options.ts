// What a Fleet is opened with, and what adding workers takes.
import type { Logger } from '../log/logger.js';
import type { ClusterSpec } from '../spec/schema.js';
import type { FleetBackend } from './cluster-handle.js';

export interface FleetOptions {
  /** The spec this invocation brings (file, env, flags); a running cluster's saved spec stays its truth until `up` or `restart` apply it. */
  spec: ClusterSpec;
  logger?: Logger;
  /** Progress lines for a person (runtime install, nodes starting); silent when absent. */
  onProgress?: (line: string) => void;
  /** How long a node may take from launch to registered in Ray. */
  nodeStartTimeoutMs?: number;
  /** The cluster's state directory, where it is not the spec's (the background watcher is told it). */
  stateDir?: string;
  /** The nodes' backend and GCS given whole, instead of made from the spec's provider: the memory provider in tests and the simulator. */
  backend?: FleetBackend;
}

export interface AddWorkersOptions {
  group?: string;
  count?: number;
  /** Why, for the journal. */
  reason?: string;
  /**
   * When the call returns: once the names are claimed and the provider has the launches (`launched`; the watcher
   * counts them as launching and cleans up one that never joins), or once Ray has every node (`registered`, the default).
   */
  wait?: AddWorkersWait;
  signal?: AbortSignal;
}

export type AddWorkersWait = 'launched' | 'registered';
