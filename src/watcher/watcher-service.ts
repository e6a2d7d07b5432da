// The watcher as a background service of a cluster: started detached with its log, found by its lock, stopped by signal only while provably the same process.
import { mkdir } from 'node:fs/promises';
import { RayfleetError } from '../errors.js';
import { lockHolder, lockOwner } from '../lock/directory-lock.js';
import { startBackgroundService, stopBackgroundService } from '../process/background-service.js';
import { WATCHER_NODE_FLAGS } from './watcher-node-flags.js';
import { watcherPaths } from './watcher-status.js';

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 20_000;

/** The pid of the cluster's running watcher, from its lock. */
export async function runningWatcherPid(stateDir: string): Promise<number | undefined> {
  return lockHolder(watcherPaths(stateDir).lock);
}

/**
 * Starts `rayfleet watch` detached with the given arguments and waits until it holds the cluster's lock,
 * or fails with its log's tail if it exits first (for example because another watcher holds the lock).
 */
export async function startWatcherService(stateDir: string, watchArgs: string[]): Promise<number> {
  const running = await runningWatcherPid(stateDir);
  if (running !== undefined) {
    throw new RayfleetError('LOCK_HELD', `a watcher for this cluster already runs (pid ${running})`, { details: 'Stop it first with `rayfleet watcher stop`.' });
  }
  await mkdir(stateDir, { recursive: true });
  return startBackgroundService({
    what: 'the watcher',
    nodeFlags: WATCHER_NODE_FLAGS,
    args: ['watch', ...watchArgs],
    log: watcherPaths(stateDir).log,
    readyWhen: "take the cluster's lock",
    ready: async (pid) => ((await runningWatcherPid(stateDir)) === pid ? pid : undefined),
    failedCode: 'WATCHER_FAILED',
    timeoutMs: START_TIMEOUT_MS,
  });
}

/**
 * Stops the running watcher (SIGTERM, SIGKILL after a grace period); false when none ran. Only the process that
 * holds the lock is signalled, known by pid, start time and boot: never whoever has its pid now. A watcher on
 * another host (a shared filesystem) cannot be signalled from here: that is an error saying where it runs.
 * An abort ends the wait; the watcher goes on stopping by itself.
 */
export async function stopWatcherService(stateDir: string, signal?: AbortSignal): Promise<boolean> {
  const holder = await lockOwner(watcherPaths(stateDir).lock);
  if (holder === undefined) return false;
  const { owner } = holder;
  if (!holder.local) {
    throw new RayfleetError('LOCK_HELD', `the watcher of this cluster runs on host ${owner.host} (pid ${owner.pid}), not here`, {
      details: `Stop it there, or wait: its lock counts as free once its heartbeat (${owner.heartbeatAt}) is a minute old.`,
    });
  }
  return stopBackgroundService(owner, { what: 'the watcher', graceMs: STOP_GRACE_MS, signal });
}
