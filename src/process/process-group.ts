// Long-lived node processes: started in a process group of their own, identified beyond pid reuse, stopped as a group.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { RayfleetError, messageOf } from '../errors.js';
import { isProcessAlive } from './process-alive.js';

export interface ProcessHandle {
  /** The leader's pid, which is also the process group id. */
  pid: number;
  /** The leader's start time in clock ticks since boot (Linux), to tell it from a later process with the same pid. */
  startTicks: number | undefined;
}

export interface StartOptions {
  command: string;
  args: string[];
  env: Record<string, string | undefined>;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logPath: string;
}

/** Starts a process as the leader of a new process group, detached from ours, output to its log. */
export async function startProcessGroup(options: StartOptions): Promise<ProcessHandle> {
  const logFd = openSync(options.logPath, 'a');
  try {
    const child = spawn(options.command, options.args, {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: options.env,
      cwd: options.cwd,
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid ?? -1));
      child.once('error', reject);
    });
    child.unref();
    return { pid, startTicks: readStartTicks(pid) };
  } catch (error) {
    throw new RayfleetError('NODE_START_FAILED', `cannot run ${options.command}: ${messageOf(error)}`, { cause: error });
  } finally {
    closeSync(logFd);
  }
}

/** Whether the leader still runs (and is the same process that was started). */
export function isLeaderAlive(handle: ProcessHandle): boolean {
  if (!isProcessAlive(handle.pid)) return false;
  const stat = readProcStat(handle.pid);
  if (stat === undefined) return true; // No /proc (macOS): kill(pid, 0) is all there is.
  return stat.state !== 'Z' && (handle.startTicks === undefined || stat.startTicks === handle.startTicks);
}

/** Whether any process of the group is left (the leader may be gone while its children live on). */
export function isGroupAlive(handle: ProcessHandle): boolean {
  return hasLiveMember(handle.pid);
}

/**
 * Stops the group: SIGTERM to the leader, then SIGKILL to the whole group after the grace period.
 * The leader (`ray start --block`) shuts its node down in order on SIGTERM; sending SIGTERM to every
 * process at once leaves the GCS hanging, as seen with Ray 2.60.
 */
export async function stopProcessGroup(handle: ProcessHandle, graceMs: number, signal?: AbortSignal): Promise<void> {
  if (!isGroupAlive(handle)) return;
  if (isLeaderAlive(handle)) sendSignal(handle.pid, 'SIGTERM');
  else sendSignal(-handle.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && hasLiveMember(handle.pid)) {
    await delay(100, undefined, { signal });
  }
  if (hasLiveMember(handle.pid)) sendSignal(-handle.pid, 'SIGKILL');
  // SIGKILL cannot be refused; wait for the kernel to finish the group off.
  while (hasLiveMember(handle.pid)) {
    await delay(50, undefined, { signal });
  }
}

function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

interface ProcStat {
  state: string;
  pgid: number;
  startTicks: number;
}

/** Fields of /proc/PID/stat; the command name may hold spaces and parentheses, so parse after the last ')'. */
function readProcStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', pgid: Number(fields[2]), startTicks: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

function readStartTicks(pid: number): number | undefined {
  return readProcStat(pid)?.startTicks;
}

/** Whether a process of the group lives; zombies awaiting their reaper still answer kill(-pgid, 0) but do not count. */
function hasLiveMember(pgid: number): boolean {
  if (!isProcessAlive(-pgid)) return false;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true; // No /proc (macOS): kill(-pgid, 0) is all there is.
  }
  return entries.some((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    const stat = readProcStat(Number(entry));
    return stat !== undefined && stat.pgid === pgid && stat.state !== 'Z';
  });
}
