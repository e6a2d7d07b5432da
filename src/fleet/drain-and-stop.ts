// Taking nodes away as Ray's own autoscaler does (its RayStopper): drain calls one at a time, then each drained node
// awaited, in parallel and with a deadline, until Ray has it DEAD; only then does the provider stop what is left of it.
// The one path for remove-worker and the watcher.
import { messageOf } from '../errors.js';
import { failpoint } from '../fault/failpoints.js';
import type { DecisionNumbers, NewEvent } from '../journal/event.js';
import type { GcsClient, RayNodeStatus } from '../ray/gcs-client.js';
import type { NodeProvider } from '../providers/node-provider.js';
import { systemClock, type Clock } from '../time/clock.js';
import type { DrainOutcome, DrainRequest, DrainResult, DrainTarget } from '../watcher/watcher-cluster.js';

export interface NodeStopContext {
  provider: () => Promise<NodeProvider>;
  record: (event: NewEvent) => Promise<void>;
}

export interface DrainContext extends NodeStopContext {
  gcs: () => Promise<Pick<GcsClient, 'drainNode' | 'getClusterResourceState'>>;
  /** The time the wait for DEAD runs on: the watcher's (virtual in tests and the simulator), else the system's. */
  clock?: Clock;
}

export interface DrainOptions {
  /** Stop the node even when Ray refuses the idle drain: it is drained as a preemption first, which Ray never refuses. */
  force?: boolean;
  numbers?: DecisionNumbers;
  signal?: AbortSignal | undefined;
  /** How long drained nodes get to be DEAD in Ray before they are stopped anyway; DRAINED_TO_DEAD_MS when absent. */
  deadWithinMs?: number;
}

/**
 * An accepted idle drain makes the raylet exit by itself within about a second; one not DEAD after this long is stuck,
 * and the provider's stop (SIGTERM: `ray start --block` shuts its node down in order) ends it instead.
 */
export const DRAINED_TO_DEAD_MS = 15_000;
const DEAD_POLL_MS = 250;

/** Stops a node through the provider and journals why. */
export async function stopNode(context: NodeStopContext, name: string, reason: string, signal?: AbortSignal): Promise<void> {
  await (await context.provider()).terminate(name, signal);
  await context.record({ type: 'terminate', node: name, reason });
}

/** One node, as `drainThenStopAll` takes it; a failed call throws, and nothing is stopped. */
export async function drainThenStop(context: DrainContext, target: DrainTarget, options: DrainOptions & { reason: string }): Promise<DrainOutcome> {
  const [result] = await drainThenStopAll(context, [{ ...target, reason: options.reason }], options);
  if (result === undefined || 'error' in result) throw result?.error;
  return result.outcome;
}

/**
 * Each node Ray has alive is drained with IDLE_TERMINATION, one call at a time and never twice; a node Ray shows
 * DRAINING is not drained again and one it shows DEAD not at all. Ray refuses an idle drain while the node holds work:
 * such a node stays (unless forced). Every accepted node is then awaited until Ray has it DEAD (its raylet exited), at
 * most `deadWithinMs`, and stopped through the provider as soon as it is; a node Ray does not have alive is stopped at
 * once. A drain call that fails leaves that node and the ones not yet asked as they were.
 */
export async function drainThenStopAll(context: DrainContext, asked: DrainRequest[], options: DrainOptions = {}): Promise<DrainResult[]> {
  const { signal } = options;
  // A node asked for twice is drained once.
  const requests = [...new Map(asked.map((request) => [request.name, request])).values()];
  const numbers = options.numbers ?? {};
  const results = new Map<string, DrainResult>();
  const stops: Array<Promise<void>> = [];
  const stop = (request: DrainRequest, reason: string, drained: boolean): void => {
    stops.push(
      stopNode(context, request.name, reason, signal).then(
        () => void results.set(request.name, { name: request.name, outcome: { stopped: true, drained } }),
        (error: unknown) => void results.set(request.name, { name: request.name, error }),
      ),
    );
  };
  const inRay = requests.filter((request) => request.nodeId !== undefined);
  for (const request of requests) if (request.nodeId === undefined) stop(request, request.reason, false);
  const awaited: Array<{ request: DrainRequest; reason: string }> = [];
  if (inRay.length > 0) {
    let failure: unknown;
    let gcs: Awaited<ReturnType<DrainContext['gcs']>> | undefined;
    let statuses = new Map<string, RayNodeStatus>();
    try {
      gcs = await context.gcs();
      statuses = await rayStatuses(gcs, signal);
    } catch (error) {
      failure = error;
    }
    for (const request of inRay) {
      const nodeId = request.nodeId as string;
      if (failure !== undefined || gcs === undefined) {
        results.set(request.name, { name: request.name, error: failure });
        continue;
      }
      const status = statuses.get(nodeId);
      // Gone from Ray, or dead there: nothing to drain. Draining: asked before (by a watcher since restarted), awaited.
      if (status === undefined || status === 'DEAD') {
        stop(request, request.reason, false);
        continue;
      }
      if (status === 'DRAINING') {
        awaited.push({ request, reason: `drained: ${request.reason}` });
        continue;
      }
      try {
        const drain = await gcs.drainNode(nodeId, 'IDLE_TERMINATION', `rayfleet: ${request.reason}`, { signal });
        if (drain.accepted) {
          await context.record({ type: 'drain', node: request.name, group: request.group, reason: request.reason, idleMs: request.idleMs, numbers });
          failpoint('drain.after-accept');
          awaited.push({ request, reason: `drained: ${request.reason}` });
          continue;
        }
        await context.record({ type: 'drain-rejected', node: request.name, group: request.group, reason: drain.rejectionReason, forced: options.force === true, numbers });
        if (options.force !== true) {
          results.set(request.name, { name: request.name, outcome: { stopped: false, rejection: drain.rejectionReason } });
          continue;
        }
        // Forced: a preemption drain is never refused, and tells Ray to stop placing work there first. Its work keeps
        // the node alive, so it is stopped now rather than awaited.
        await gcs.drainNode(nodeId, 'PREEMPTION', `rayfleet: ${request.reason} --force`, { signal });
        stop(request, `forced: ${request.reason}`, true);
      } catch (error) {
        // A call that failed may still have been accepted: this node is not stopped, and no more are asked while the
        // GCS does not answer (the next look finds them as they are).
        failure = error;
        results.set(request.name, { name: request.name, error });
      }
    }
    if (awaited.length > 0 && gcs !== undefined) await stopWhenDead(context, gcs, awaited, options, stop);
  }
  await Promise.all(stops);
  return requests.map((request) => results.get(request.name) ?? { name: request.name, error: new Error(`${request.name}: the wait for DEAD was interrupted`) });
}

/** Polls Ray for the awaited nodes and stops each once DEAD (or gone); at the deadline, stops those left anyway. */
async function stopWhenDead(
  context: DrainContext,
  gcs: Pick<GcsClient, 'getClusterResourceState'>,
  awaited: Array<{ request: DrainRequest; reason: string }>,
  options: DrainOptions,
  stop: (request: DrainRequest, reason: string, drained: boolean) => void,
): Promise<void> {
  const clock = context.clock ?? systemClock;
  const deadlineMs = clock.now() + (options.deadWithinMs ?? DRAINED_TO_DEAD_MS);
  let waiting = awaited;
  let lastError = '';
  while (waiting.length > 0) {
    await clock.sleep(DEAD_POLL_MS, options.signal);
    // Stopping the watcher mid-wait: what was drained is found dead (or draining) by the next look, and stopped then.
    if (options.signal?.aborted === true) return;
    let statuses: Map<string, RayNodeStatus> | undefined;
    try {
      statuses = await rayStatuses(gcs, options.signal);
    } catch (error) {
      lastError = messageOf(error);
    }
    const still: typeof waiting = [];
    for (const entry of waiting) {
      const status = statuses?.get(entry.request.nodeId as string);
      if (statuses !== undefined && (status === undefined || status === 'DEAD')) stop(entry.request, entry.reason, true);
      else still.push(entry);
    }
    waiting = still;
    if (clock.now() >= deadlineMs) {
      const seconds = Math.round((options.deadWithinMs ?? DRAINED_TO_DEAD_MS) / 1000);
      const why = statuses === undefined ? `Ray could not be asked (${lastError})` : 'Ray does not have it DEAD';
      for (const entry of waiting) stop(entry.request, `${entry.reason} (${why} ${seconds} s after its drain)`, true);
      return;
    }
  }
}

async function rayStatuses(gcs: Pick<GcsClient, 'getClusterResourceState'>, signal: AbortSignal | undefined): Promise<Map<string, RayNodeStatus>> {
  const state = await gcs.getClusterResourceState({ signal });
  return new Map(state.nodeStates.map((node) => [node.nodeId, node.status]));
}
