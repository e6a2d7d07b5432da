// Taking a node away: drain it in Ray first, stop it only once Ray has accepted. The one path for remove-worker and the watcher.
import { failpoint } from '../fault/failpoints.js';
import type { DecisionNumbers, NewEvent } from '../journal/event.js';
import type { GcsClient } from '../ray/gcs-client.js';
import type { NodeProvider } from '../providers/node-provider.js';
import type { DrainOutcome, DrainTarget } from '../watcher/watcher-cluster.js';

export interface NodeStopContext {
  provider: () => Promise<NodeProvider>;
  record: (event: NewEvent) => Promise<void>;
}

export interface DrainContext extends NodeStopContext {
  gcs: () => Promise<Pick<GcsClient, 'drainNode'>>;
}

export interface DrainOptions {
  reason: string;
  /** Stop the node even when Ray refuses the idle drain: it is drained as a preemption first, which Ray never refuses. */
  force?: boolean;
  numbers?: DecisionNumbers;
  signal?: AbortSignal | undefined;
}

/** Stops a node through the provider and journals why. */
export async function stopNode(context: NodeStopContext, name: string, reason: string, signal?: AbortSignal): Promise<void> {
  await (await context.provider()).terminate(name, signal);
  await context.record({ type: 'terminate', node: name, reason });
}

/**
 * A node Ray has alive is drained with IDLE_TERMINATION, which Ray refuses while the node holds work; only an accepted
 * drain (or a forced one) is followed by the stop. A node Ray does not have alive has nothing to drain and is stopped.
 * A drain call that fails throws before anything is stopped.
 */
export async function drainThenStop(context: DrainContext, target: DrainTarget, options: DrainOptions): Promise<DrainOutcome> {
  const { reason, signal } = options;
  const numbers = options.numbers ?? {};
  if (target.nodeId === undefined) {
    await stopNode(context, target.name, reason, signal);
    return { stopped: true, drained: false };
  }
  const gcs = await context.gcs();
  const drain = await gcs.drainNode(target.nodeId, 'IDLE_TERMINATION', `rayfleet: ${reason}`, { signal });
  if (drain.accepted) {
    await context.record({ type: 'drain', node: target.name, group: target.group, reason, idleMs: target.idleMs, numbers });
    failpoint('drain.after-accept');
  } else {
    await context.record({ type: 'drain-rejected', node: target.name, group: target.group, reason: drain.rejectionReason, forced: options.force === true, numbers });
    if (options.force !== true) return { stopped: false, rejection: drain.rejectionReason };
    // Forced: a preemption drain is never refused, and tells Ray to stop placing work there first.
    await gcs.drainNode(target.nodeId, 'PREEMPTION', `rayfleet: ${reason} --force`, { signal });
  }
  await stopNode(context, target.name, drain.accepted ? `drained: ${reason}` : `forced: ${reason}`, signal);
  return { stopped: true, drained: true };
}
