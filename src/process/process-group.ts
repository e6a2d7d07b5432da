// Long-lived node processes: started in a process group of their own, signalled only while provably ours, stopped as a group.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync, readdirSync, readlinkSync } from 'node:fs';
import { access } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { RayfleetError, messageOf } from '../errors.js';
import { failpoint } from '../fault/failpoints.js';
import { currentBootId, readProcEnv, readProcStat } from './proc-stat.js';
import { currentIdentity, isSameProcess } from './process-identity.js';

export interface ProcessHandle {
  /** The leader's pid, which is also the process group id. */
  pid: number;
  /**
   * The leader's start time in clock ticks since boot, to tell it from a later process with the same pid.
   * Undefined: only a child of this very process can be proven to be the leader (by its parent pid).
   */
  startTicks: number | undefined;
  /** The boot the leader started in; absent in records written before it was kept. */
  bootId?: string | undefined;
  /**
   * A variable every process of the group carries in its environment (a node's RAY_CLOUD_INSTANCE_ID).
   * Once the leader is gone its group id could in principle name a later, foreign group; a member counts
   * as ours only if it carries this.
   */
  marker?: GroupMarker | undefined;
}

export interface GroupMarker {
  name: string;
  value: string;
  /**
   * A directory only this group's processes hold files in (a node's Ray temp dir). Ray's processes that set their title
   * (`ray::DashboardAgent`, workers) write it over their environment, so /proc shows no variable at all: such a member is
   * ours when it holds a file open under this directory. One carrying another value is never ours.
   */
  openDir?: string | undefined;
}

export interface StartOptions {
  command: string;
  args: string[];
  env: Record<string, string | undefined>;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logPath: string;
}

/** A process group started but held at its first instruction until `release`: its pid can be recorded before it can do anything. */
export interface GatedStart {
  handle: ProcessHandle;
  /** Lets the process go on into its command (exec, same pid). */
  release(): Promise<void>;
  /** Ends the held process without it having run its command; resolves once it has exited. */
  cancel(): Promise<void>;
}

/**
 * The gate: the shell blocks reading fd 3 and execs the command only on "open". When the launcher dies
 * (even by SIGKILL) the kernel closes its end of the pipe, the read sees end-of-file and the shell exits:
 * a launcher killed anywhere leaves either no process or one whose pid it has recorded.
 */
const GATE_SCRIPT = 'IFS= read -r gate <&3 || exit 70; [ "$gate" = open ] || exit 70; exec 3<&-; exec "$0" "$@"';
/** A held shell exits within milliseconds of end-of-file; one still there after this was let go. */
const GATE_EXIT_MS = 2000;

/** Starts a process as the leader of a new process group, detached from ours, output to its log. */
export async function startProcessGroup(options: StartOptions): Promise<ProcessHandle> {
  const { child, pid } = await spawnGroup(options.command, options.args, options, 'ignore');
  child.unref();
  return handleOf(pid);
}

/** Like startProcessGroup, but the process waits for `release` before it runs the command (see GATE_SCRIPT). */
export async function startGatedProcessGroup(options: StartOptions): Promise<GatedStart> {
  // The shell would find a missing command only once released; say so now, while nothing has started.
  if (options.command.includes('/')) {
    await access(options.command, constants.X_OK).catch((error: unknown) => {
      throw new RayfleetError('NODE_START_FAILED', `cannot run ${options.command}: ${messageOf(error)}`, { cause: error });
    });
  }
  const { child, pid } = await spawnGroup('/bin/sh', ['-c', GATE_SCRIPT, options.command, ...options.args], options, 'pipe');
  const gate = child.stdio[3] as Writable;
  // The far end closes as the shell execs or exits (a reset, at times): that is the gate working, not an error.
  gate.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle = handleOf(pid);
  return {
    handle,
    release: async () => {
      await new Promise<void>((resolve, reject) => gate.end('open\n', (error?: Error | null) => (error ? reject(error) : resolve())));
      child.unref();
    },
    cancel: async () => {
      gate.destroy();
      // Held, it exits on end-of-file at once; let go already (release failed midway), it is a node to stop.
      const stillRunning = await Promise.race([exited.then(() => false), delay(GATE_EXIT_MS).then(() => true)]);
      if (stillRunning) await stopProcessGroup(handle, 0);
    },
  };
}

async function spawnGroup(
  command: string,
  args: string[],
  options: StartOptions,
  gate: 'ignore' | 'pipe',
): Promise<{ child: ChildProcess; pid: number }> {
  const logFd = openSync(options.logPath, 'a');
  try {
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', logFd, logFd, gate],
      env: options.env,
      cwd: options.cwd,
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid ?? -1));
      child.once('error', reject);
    });
    return { child, pid };
  } catch (error) {
    throw new RayfleetError('NODE_START_FAILED', `cannot run ${options.command}: ${messageOf(error)}`, { cause: error });
  } finally {
    closeSync(logFd);
  }
}

function handleOf(pid: number): ProcessHandle {
  // Read while the child is unreaped, so the pid is certainly still this process.
  const identity = currentIdentity(pid);
  return { pid, startTicks: identity?.startTicks, bootId: identity?.bootId ?? currentBootId() };
}

/** Whether the leader still runs and is provably the process that was started. */
export function isLeaderAlive(handle: ProcessHandle): boolean {
  if (handle.startTicks !== undefined) return isSameProcess(handle);
  // Without a start time, only our own unreaped child is certain: its pid cannot be reused while we hold it.
  const stat = readProcStat(handle.pid);
  return stat !== undefined && stat.state !== 'Z' && stat.ppid === process.pid;
}

/** Whether any process of the group is left that is provably ours (the leader may be gone while its children live on). */
export function isGroupAlive(handle: ProcessHandle): boolean {
  return isLeaderAlive(handle) || ourMembers(handle).length > 0;
}

/**
 * Stops the group: SIGTERM to the leader, then SIGKILL to the whole group after the grace period. Nothing is
 * signalled that is not provably ours. The leader (`ray start --block`) shuts its node down in order on SIGTERM;
 * sending SIGTERM to every process at once leaves the GCS hanging, as seen with Ray 2.60.
 * An abort ends the wait and rethrows; the group goes on stopping by itself, and a later call picks up from there.
 */
export async function stopProcessGroup(given: ProcessHandle, graceMs: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  // A child of ours known by pid alone: its start time, read while it is provably ours, keeps its group ours after it exits.
  const handle = given.startTicks === undefined && isLeaderAlive(given) ? { ...given, ...currentIdentity(given.pid) } : given;
  if (isLeaderAlive(handle)) sendSignal(handle.pid, 'SIGTERM');
  // Only one group can have a given id at a time, so one member proven ours proves the whole group.
  else if (ourMembers(handle).length > 0) sendSignal(-handle.pid, 'SIGTERM');
  else return;
  failpoint('terminate.after-sigterm');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && isGroupAlive(handle)) {
    await delay(100, undefined, { signal });
  }
  if (isGroupAlive(handle)) sendSignal(-handle.pid, 'SIGKILL');
  // SIGKILL cannot be refused; wait for the kernel to finish the group off.
  while (isGroupAlive(handle)) {
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

/**
 * The live members of the group that are provably ours. If the leader's pid is held by another process, the
 * group is gone: Linux does not give a pid to a new process while a group of that id exists. Otherwise a member
 * must be of the same boot, started no earlier than the leader, and carry the marker when the handle has one.
 */
function ourMembers(handle: ProcessHandle): number[] {
  if (handle.bootId !== undefined && handle.bootId !== currentBootId()) return [];
  const leader = readProcStat(handle.pid);
  if (leader !== undefined && leader.state !== 'Z' && !isLeaderAlive(handle)) return [];
  // A group whose start is unknown can only be proven by its live leader, handled above.
  if (handle.startTicks === undefined) return [];
  const startTicks = handle.startTicks;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return []; // No /proc: nothing can be proven ours.
  }
  return entries
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      const stat = readProcStat(pid);
      if (stat === undefined || stat.pgid !== handle.pid || stat.state === 'Z' || stat.startTicks < startTicks) return false;
      return handle.marker === undefined || carriesMarker(pid, handle.marker);
    });
}

function carriesMarker(pid: number, marker: GroupMarker): boolean {
  const value = readProcEnv(pid, marker.name);
  if (value !== undefined) return value === marker.value;
  return marker.openDir !== undefined && holdsFileUnder(pid, marker.openDir);
}

/** Whether one of the process's open files lies under `dir` (a deleted file still names where it was). */
export function holdsFileUnder(pid: number, dir: string): boolean {
  const prefix = `${dir.replace(/\/+$/, '')}/`;
  let descriptors: string[];
  try {
    descriptors = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return descriptors.some((descriptor) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${descriptor}`).startsWith(prefix);
    } catch {
      return false;
    }
  });
}
