// A rayfleet command run as a background service (the watcher of a cluster, the machine's dashboard): started detached
// with its output appended to a log, and stopped by signal only while it is provably the process that was started.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { RayfleetError, isRayfleetError, type ErrorCode } from '../errors.js';
import { readTail } from '../fs/read-tail.js';
import { packageFile } from '../package-files.js';
import { pollUntil } from '../wait/poll-until.js';
import { isSameProcess, type ProcessIdentity } from './process-identity.js';

const BIN = packageFile('bin/rayfleet.js');

export interface BackgroundStart<T> {
  /** What it is, as messages name it: "the watcher". */
  what: string;
  /** Node's own flags, before the CLI. */
  nodeFlags?: readonly string[];
  /** The CLI's arguments: `['watch', '-c', 'ray']`. */
  args: readonly string[];
  /** The file its stdout and stderr are appended to. */
  log: string;
  /** What it has done once it is up, as the wait names it: "take the cluster's lock". */
  readyWhen: string;
  /** Its value once the process of this pid is up (its lock taken, its address written), undefined until then. */
  ready: (pid: number) => Promise<T | undefined>;
  /** The error when it exits before it is up; its message says how it exited and the log's last lines follow. */
  failedCode: ErrorCode;
  timeoutMs: number;
}

/** Starts `node [flags] bin/rayfleet.js ARGS…` detached and waits until it is up; fails with its log's tail if it exits first. */
export async function startBackgroundService<T>(start: BackgroundStart<T>): Promise<T> {
  const logFd = openSync(start.log, 'a');
  let exited: string | undefined;
  let pid: number;
  try {
    const child = spawn(process.execPath, [...(start.nodeFlags ?? []), BIN, ...start.args], { detached: true, stdio: ['ignore', logFd, logFd], env: process.env });
    child.once('exit', (code, signal) => {
      exited = `exited with ${code ?? signal}`;
    });
    pid = child.pid ?? -1;
    child.unref();
  } finally {
    closeSync(logFd);
  }
  return pollUntil(
    async () => {
      if (exited !== undefined) {
        throw new RayfleetError(start.failedCode, `${start.what} ${exited} before it was up`, { details: `last lines of ${start.log}:\n${await readTail(start.log, 20)}` });
      }
      return start.ready(pid);
    },
    { timeoutMs: start.timeoutMs, intervalMs: 100, describe: () => `${start.what} (pid ${pid}) to ${start.readyWhen}`, isFatal: (error) => isRayfleetError(error, start.failedCode) },
  );
}

/**
 * Stops the process (SIGTERM, SIGKILL after graceMs) and waits until it is gone; false when it was gone already.
 * It is signalled only while it is the recorded one (pid, start time and boot): never whoever has its pid now.
 * An abort ends the wait; the process goes on stopping by itself.
 */
export async function stopBackgroundService(owner: ProcessIdentity, options: { what: string; graceMs: number; signal?: AbortSignal }): Promise<boolean> {
  const { what, graceMs, signal } = options;
  if (!sendTo(owner, 'SIGTERM')) return false;
  const gone = async (): Promise<true | undefined> => (isSameProcess(owner) ? undefined : true);
  try {
    await pollUntil(gone, { timeoutMs: graceMs, intervalMs: 100, signal, describe: () => `${what} (pid ${owner.pid}) to stop` });
  } catch (error) {
    if (!isRayfleetError(error, 'WAIT_TIMEOUT')) throw error;
    sendTo(owner, 'SIGKILL');
    // SIGKILL cannot be refused: the kernel finishes it off shortly.
    await pollUntil(gone, { timeoutMs: graceMs, intervalMs: 50, signal, describe: () => `${what} (pid ${owner.pid}) to die` });
  }
  return true;
}

/** Signals the process only if it is still the recorded one; false when it is gone (it may end between the look and the signal). */
function sendTo(identity: ProcessIdentity, signal: NodeJS.Signals): boolean {
  if (!isSameProcess(identity)) return false;
  try {
    process.kill(identity.pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}
