// Bringing a cluster to its spec and taking it away: the head, the groups' minimums, the watcher, and back, in order.
import { rm } from 'node:fs/promises';
import { messageOf, RayfleetError } from '../errors.js';
import { PartialListError } from '../providers/partial-list-error.js';
import { headName } from '../providers/node-names.js';
import type { Instance } from '../providers/node-provider.js';
import type { ClusterHandle } from './cluster-handle.js';
import type { FleetWatcher } from './fleet-watcher.js';
import { sweepOrphans } from './orphan-sweep.js';

export interface BringUpOptions {
  /** The cluster ran before this `up`: its watcher, if on, acts on the saved change and `up` launches no workers. */
  wasRunning: boolean;
  waitForWorkers: boolean;
  signal?: AbortSignal | undefined;
}

/**
 * The head unless it runs, then what each group lacks of its min (or, where the watcher runs in the head, a wait for
 * it to bring them), then the watcher. Returns the names launched; a failure stops what this call started.
 */
export async function bringUp(cluster: ClusterHandle, watcher: FleetWatcher, options: BringUpOptions, takeDown: () => Promise<void>): Promise<string[]> {
  const { signal } = options;
  const started: string[] = [];
  try {
    // A fresh cluster starts from an empty store, never from a previous cluster's actors and jobs.
    if (!options.wasRunning) await clearGcsStore(cluster);
    await ensureHead(cluster, started, signal);
    const watched = cluster.spec.watcher.enabled;
    const inHead = watched && (await cluster.provider()).watcherRunsOnHead === true;
    // Two launchers on two machines share no launch lock and would race for the same names: the head's watcher brings them.
    const names = inHead || (options.wasRunning && watched) ? [] : await launchMinimums(cluster, started, signal);
    if (options.waitForWorkers) {
      if (inHead) await cluster.readiness.waitForMinimums(cluster.spec.workerGroups, signal);
      else await cluster.readiness.waitForRegistration(names, signal);
    }
    if (watched) await watcher.start();
    await cluster.record({ type: 'cluster-up', reason: `${cluster.name} up with ${names.length} new worker(s)`, newWorkers: names.length });
    return names;
  } catch (error) {
    // Leave no half-started cluster: a head started by this call takes everything down with it.
    if (started.length > 0) cluster.progress(`${signal?.aborted === true ? 'interrupted' : 'up failed'}: stopping ${started.join(', ')}`);
    if (started.includes(headName(cluster.name))) await takeDown().catch(() => undefined);
    else await Promise.all(started.map((name) => cluster.stop(name, 'up failed'))).catch(() => undefined);
    throw error;
  }
}

/**
 * Stops the watcher, then every node the provider lists (workers first, unless the watcher lives in the head and would
 * replace them), then what the nodes shared. Nodes whose records cannot be read are reported after the rest are stopped.
 */
export async function takeDown(cluster: ClusterHandle, watcher: FleetWatcher, signal?: AbortSignal, options: { force?: boolean } = {}): Promise<void> {
  await watcher.stop();
  const provider = await cluster.provider();
  let instances: Instance[];
  let unreadable: PartialListError | undefined;
  try {
    instances = await provider.list(signal);
  } catch (error) {
    if (!(error instanceof PartialListError)) throw error;
    instances = error.instances;
    unreadable = error;
  }
  // An unknown node (its host does not answer) cannot be stopped from here: it is named in the error below, its record kept.
  const stopRole = (role: 'head' | 'worker') =>
    Promise.all(instances.filter((instance) => instance.role === role && instance.state !== 'unknown').map((instance) => cluster.stop(instance.name, 'down', signal)));
  cluster.progress(`stopping ${instances.map((instance) => instance.name).join(', ') || 'nothing: no node is listed'}`);
  for (const role of provider.watcherRunsOnHead === true ? (['head', 'worker'] as const) : (['worker', 'head'] as const)) await stopRole(role);
  // What carries this cluster's id and no record goes too (nothing else is Ray's to drain now).
  const orphans = await sweepOrphans({ provider: () => cluster.provider(), clusterId: cluster.savedRecord.clusterId, record: (event) => cluster.record(event) }, 'down: no record accounts for it', signal);
  if (orphans.length > 0) cluster.progress(`stopped ${orphans.length} orphan process group(s) of this cluster`);
  if (unreadable !== undefined) {
    const unknown = instances.filter((instance) => instance.state === 'unknown');
    // --force on a host gone for good: its nodes are forgotten, said plainly; nothing there is stopped.
    if (options.force !== true || provider.forget === undefined || unknown.length !== unreadable.unreadable.length) throw unreadable;
    for (const node of unreadable.unreadable) {
      await provider.forget(node.name);
      cluster.progress(`forgot ${node.name}, not stopped (${node.reason}); if its host comes back, stop its Ray there by hand`);
    }
  }
  await clearGcsStore(cluster);
  await provider.cleanup?.(signal).catch((error: unknown) => {
    // With --force a host that does not answer keeps the cluster's directory; the rest of down goes on, and says so.
    if (options.force !== true) throw error;
    cluster.progress(`left behind: ${messageOf(error)}`);
  });
  cluster.close();
  await rm(cluster.paths.rayTempDir, { recursive: true, force: true });
  await rm(cluster.paths.clusterFile, { force: true });
  await cluster.record({ type: 'cluster-down', reason: `${cluster.name} down, ${instances.length} node(s) stopped`, nodes: instances.length });
}

/** Removes the head's GCS store (head.faultTolerance), where its backend keeps one. */
async function clearGcsStore(cluster: ClusterHandle): Promise<void> {
  await (await cluster.provider()).gcsStore?.().clear();
}

/** Starts the head unless it runs, and waits until Ray has it. */
async function ensureHead(cluster: ClusterHandle, started: string[], signal: AbortSignal | undefined): Promise<void> {
  const provider = await cluster.provider();
  const head = (await provider.list(signal)).find((instance) => instance.role === 'head');
  if (head !== undefined && head.state !== 'stopped' && head.state !== 'failed') return;
  if (head !== undefined && cluster.spec.head.faultTolerance === true && provider.restartHead !== undefined) {
    // Brought back as the watcher brings it: on its address and ports, from its store, to the workers waiting for it. A
    // terminate and a new launch would lose what the store keeps (a Docker head's store is on its container's disk).
    cluster.progress(`starting ${head.name} again on its address and ports (head.faultTolerance)`);
    const restarted = await provider.restartHead(await cluster.launcher.headRequest(), signal);
    if (restarted === undefined) {
      throw new RayfleetError('PROVIDER_FAILED', `the head ${head.name} is ${head.state}, but its old processes are not proven gone (or its host does not answer): it is not started again; try again, or \`rayfleet down\``);
    }
    await cluster.record({ type: 'head-restarted', node: head.name, reason: 'up: on its address and ports, the GCS recovering from its store' });
    await cluster.readiness.waitForRegistration([head.name], signal);
    return;
  }
  if (head !== undefined) await provider.terminate(head.name, signal);
  cluster.progress(`starting ${headName(cluster.name)}`);
  started.push(headName(cluster.name));
  await cluster.launcher.launchHead(`up: head of ${cluster.name}`, signal);
  await cluster.readiness.waitForRegistration([headName(cluster.name)], signal);
}

/** What each group lacks of its min, launched in parallel; the names, for the wait. */
async function launchMinimums(cluster: ClusterHandle, started: string[], signal: AbortSignal | undefined): Promise<string[]> {
  const instances = await (await cluster.provider()).list(signal);
  const launches = cluster.spec.workerGroups.map((group) => {
    const live = instances.filter((instance) => instance.group === group.name && (instance.state === 'running' || instance.state === 'starting')).length;
    const missing = group.min - live;
    return missing <= 0 ? Promise.resolve([]) : cluster.launcher.launchWorkers(group.name, missing, `up: ${group.name} min ${group.min}`, { signal, started, upToLimits: true });
  });
  const names = (await Promise.all(launches)).flat().map((instance) => instance.name);
  if (names.length > 0) cluster.progress(`waiting for ${names.join(', ')} to join`);
  return names;
}
