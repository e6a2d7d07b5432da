// One run of a workload against a cluster's GCS, whoever scales it: when Ray first shows the demand, when all the work was
// placed and done, how many workers came, and when they were gone.
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import type { ClusterResourceState, GcsClient } from '../../src/ray/gcs-client.js';
import { DRIVER, driverArgument, driverTimes, type BenchWorkload } from './workloads.js';

export interface RunTarget {
  gcs: GcsClient;
  python: string;
  /** The driver's environment: how it reaches the cluster. */
  env: Record<string, string>;
  isHead: (instanceId: string) => boolean;
  headAlive: () => boolean;
}

export interface RunMeasurement {
  /** Submit → the last task started: every request placed. */
  capacityS: number;
  /** Submit → the placement group's last task started: the gang placed (undefined without one). */
  gangPlacedS: number | undefined;
  /** Submit → all tasks done. */
  doneS: number;
  /** Distinct workers the GCS showed during the run. */
  nodesLaunched: number;
  /** All tasks done → every worker gone from the GCS, less the idle timeout. */
  scaleDownS: number;
  /** Wall clock (ms since the epoch) of the first GCS reply that held the pending demand; reaction times count from it. */
  demandSeenAtMs: number | undefined;
  /** Wall clock of the driver's submit. */
  submittedAtMs: number;
  /** From the driver's start to the workers gone: the span the controller's CPU is counted over. */
  spanMs: number;
}

/** A run as one side reports it: the measurement and what the side's controller did. */
export interface SideRun extends RunMeasurement {
  /** From the demand's first showing in the GCS to the first launch issued, seconds. */
  reactionS: number | undefined;
  /** The controller's CPU over the span (rayfleet's watcher process; Ray's monitor process), ms. */
  cpuMs: number | undefined;
  /** The controller's loop interval, ms. */
  intervalMs: number;
}

/** Until the demand shows, the GCS is asked this often: reaction times are exact to about this much. */
const DEMAND_POLL_MS = 50;
const NODES_POLL_MS = 250;
const RUN_TIMEOUT_MS = 600_000;

function hasDemand(state: ClusterResourceState): boolean {
  return state.pendingRequests.some((request) => request.count > 0) || state.pendingGangs.some((gang) => gang.bundles.length > 0);
}

export async function measureRun(target: RunTarget, workload: BenchWorkload, idleTimeoutS: number): Promise<RunMeasurement> {
  const startedAtMs = Date.now();
  const driver = execa(target.python, [DRIVER, driverArgument(workload)], { env: { ...process.env, ...target.env }, reject: false, encoding: 'utf8' });
  let driverEnded = false;
  void driver.finally(() => (driverEnded = true));
  const seen = new Set<string>();
  let demandSeenAtMs: number | undefined;
  let lastError: unknown;
  for (;;) {
    if (!target.headAlive()) throw new Error('the head died: see its log');
    if (Date.now() - startedAtMs > RUN_TIMEOUT_MS) throw new Error(`the run did not end within ${RUN_TIMEOUT_MS / 1000} s`, { cause: lastError });
    try {
      const state = await target.gcs.getClusterResourceState();
      const answeredAtMs = Date.now();
      if (demandSeenAtMs === undefined && hasDemand(state)) demandSeenAtMs = answeredAtMs;
      const alive = state.nodeStates.filter((node) => node.status !== 'DEAD' && !target.isHead(node.instanceId));
      for (const node of alive) seen.add(node.nodeId);
      if (driverEnded && alive.length === 0) break;
    } catch (error) {
      lastError = error;
    }
    await delay(demandSeenAtMs === undefined && !driverEnded ? DEMAND_POLL_MS : NODES_POLL_MS);
  }
  const goneAtMs = Date.now();
  const result = await driver;
  if (result.exitCode !== 0) throw new Error(`the driver failed (exit ${result.exitCode}): ${result.stderr.slice(-2000)}`);
  const times = driverTimes(result.stdout);
  const submittedAtMs = times.submitted * 1000;
  return {
    capacityS: times.lastStarted - times.submitted,
    gangPlacedS: times.gangStarted === null ? undefined : times.gangStarted - times.submitted,
    doneS: times.done - times.submitted,
    nodesLaunched: seen.size,
    scaleDownS: (goneAtMs - times.done * 1000) / 1000 - idleTimeoutS,
    demandSeenAtMs,
    submittedAtMs,
    spanMs: goneAtMs - startedAtMs,
  };
}
