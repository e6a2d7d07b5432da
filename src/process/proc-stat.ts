// What Linux's /proc says about a process (state, parent, group, start time) and about this boot of the machine.
import { readFileSync, readlinkSync } from 'node:fs';

export interface ProcStat {
  /** R, S, D, Z (zombie), T … */
  state: string;
  ppid: number;
  pgid: number;
  /** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot; with the boot id it names one process for good. */
  startTicks: number;
}

/** Fields of /proc/PID/stat; the command name may hold spaces and parentheses, so parse after the last ')'. Undefined when there is no such process. */
export function readProcStat(pid: number): ProcStat | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const stat = { state: fields[0] ?? '', ppid: Number(fields[1]), pgid: Number(fields[2]), startTicks: Number(fields[19]) };
  return Number.isFinite(stat.startTicks) && Number.isFinite(stat.pgid) ? stat : undefined;
}

/** The value of one variable in the environment a process was started with; undefined when unset or unreadable (another user's process). */
export function readProcEnv(pid: number, name: string): string | undefined {
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  const prefix = `${name}=`;
  return environ
    .split('\0')
    .find((variable) => variable.startsWith(prefix))
    ?.slice(prefix.length);
}

/** Linux reports start times in USER_HZ, which is 100 on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;
let cachedBootTimeMs: number | undefined;

/** When a process started, by the wall clock (to the second: the boot time is kept in seconds). */
export function processStartedAtMs(pid: number): number | undefined {
  const stat = readProcStat(pid);
  const bootMs = bootTimeMs();
  if (stat === undefined || bootMs === undefined) return undefined;
  return bootMs + (stat.startTicks * 1000) / TICKS_PER_SECOND;
}

/** When this machine booted, by the wall clock, to the second. */
export function bootTimeMs(): number | undefined {
  if (cachedBootTimeMs === undefined) {
    let text: string;
    try {
      text = readFileSync('/proc/stat', 'utf8');
    } catch {
      return undefined;
    }
    const line = text.split('\n').find((entry) => entry.startsWith('btime '));
    if (line === undefined) return undefined;
    cachedBootTimeMs = Number(line.slice('btime '.length)) * 1000;
  }
  return cachedBootTimeMs;
}

let cachedBootId: string | undefined;

/** This boot of the machine: start ticks restart at 0 on every boot, so a pid and start time mean nothing without it. */
export function currentBootId(): string {
  cachedBootId ??= readOnce('/proc/sys/kernel/random/boot_id');
  return cachedBootId;
}

let cachedPidNamespace: string | undefined;

/** The pid namespace this process sees (containers on one host share a boot id but not their pids). */
export function currentPidNamespace(): string {
  cachedPidNamespace ??= readlinkOnce('/proc/self/ns/pid');
  return cachedPidNamespace;
}

function readOnce(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    // No /proc (not Linux): nothing recorded can then be proven to be ours, which is the safe side.
    return 'unknown';
  }
}

function readlinkOnce(file: string): string {
  try {
    return readlinkSync(file);
  } catch {
    return 'unknown';
  }
}
