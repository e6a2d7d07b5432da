// The watcher as a background service of a cluster: started detached with its log, found by its lock, stopped by signal only while provably the same process.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { RayfleetError, isRayfleetError } from '../errors.js';
import { packageFile } from '../package-files.js';
import { lockHolder, lockOwner } from '../fs/directory-lock.js';
import { readTail } from '../fs/read-tail.js';
import { isSameProcess } from '../process/process-identity.js';
import { pollUntil } from '../wait/poll-until.js';
import { WATCHER_NODE_FLAGS } from './watcher-node-flags.js';
import { watcherPaths } from './watcher-status.js';

const BIN = packageFile('bin/rayfleet.js');
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
  const { log } = watcherPaths(stateDir);
  await mkdir(stateDir, { recursive: true });
  const logFd = openSync(log, 'a');
  let exited: string | undefined;
  let pid: number;
  try {
    const child = spawn(process.execPath, [...WATCHER_NODE_FLAGS, BIN, 'watch', ...watchArgs], { detached: true, stdio: ['ignore', logFd, logFd], env: process.env });
    child.once('exit', (code, signal) => {
      exited = `exited with ${code ?? signal}`;
    });
    pid = child.pid ?? -1;
    child.unref();
  } finally {
    closeSync(logFd);
  }
  await pollUntil(
    async () => {
      if (exited !== undefined) {
        throw new RayfleetError('WATCHER_FAILED', `the watcher ${exited} before it started`, { details: `last lines of ${log}:\n${await readTail(log, 20)}` });
      }
      return (await runningWatcherPid(stateDir)) === pid ? true : undefined;
    },
    { timeoutMs: START_TIMEOUT_MS, intervalMs: 100, describe: () => `the watcher (pid ${pid}) to take the cluster's lock`, isFatal: (error) => isRayfleetError(error, 'WATCHER_FAILED') },
  );
  return pid;
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
  if (!sendTo(owner, 'SIGTERM')) return false;
  try {
    await pollUntil(async () => (isSameProcess(owner) ? undefined : true), { timeoutMs: STOP_GRACE_MS, intervalMs: 100, signal, describe: () => `the watcher (pid ${owner.pid}) to stop` });
  } catch (error) {
    if (!isRayfleetError(error, 'WAIT_TIMEOUT')) throw error;
    sendTo(owner, 'SIGKILL');
    await pollUntil(async () => (isSameProcess(owner) ? undefined : true), { timeoutMs: STOP_GRACE_MS, intervalMs: 50, signal, describe: () => `the watcher (pid ${owner.pid}) to die` });
  }
  return true;
}

/** Signals the process only if it is still the recorded one; false when it is gone. */
function sendTo(identity: { pid: number; startTicks: number; bootId: string }, signal: NodeJS.Signals): boolean {
  if (!isSameProcess(identity)) return false;
  try {
    process.kill(identity.pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}
