// Where a cluster's watcher keeps its lock, log and last status, and what the status says.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import type { WatcherSpec } from '../spec/schema.js';
import type { GroupCount } from './group-counts.js';
import type { Demand, DemandSource } from './observation.js';
import type { PlannedCleanup, PlannedDrain, PlannedLaunch } from './planner.js';

export interface WatcherPaths {
  /** Held by the running watcher; holds its pid. */
  lock: string;
  log: string;
  status: string;
}

export function watcherPaths(stateDir: string): WatcherPaths {
  return {
    lock: path.join(stateDir, 'watcher.lock'),
    log: path.join(stateDir, 'watcher.log'),
    status: path.join(stateDir, 'watcher-status.json'),
  };
}

/** A group at the watcher's tick; a status written before `dead` was counted lacks it. */
export interface GroupStatus extends Omit<GroupCount, 'dead'> {
  dead?: number;
  /** Launches wait until then after failures. */
  backoffUntil: string | undefined;
}

/** Written by the watcher after every tick. */
export interface WatcherStatus {
  pid: number;
  startedAt: string;
  lastTickAt: string;
  tickSeconds: number;
  source: DemandSource;
  problems: string[];
  settings: WatcherSpec;
  /** Observe only: what it would do is journaled as withheld. */
  paused: boolean;
  demand: Demand;
  groups: GroupStatus[];
  launching: string[];
  infeasible: ResourceShape[];
  withheld: string[];
  lastPlan: { launches: PlannedLaunch[]; drains: PlannedDrain[]; cleanups: PlannedCleanup[] };
}

export async function readWatcherStatus(stateDir: string): Promise<WatcherStatus | undefined> {
  try {
    return JSON.parse(await readFile(watcherPaths(stateDir).status, 'utf8')) as WatcherStatus;
  } catch {
    return undefined;
  }
}
