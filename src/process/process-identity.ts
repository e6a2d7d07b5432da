// Which process a record names: pid, start time and boot id together, so a reused pid or a reboot is never mistaken for ours.
import { currentBootId, readProcStat } from './proc-stat.js';

/** One process for good: a pid alone is reused, and start ticks restart at every boot. */
export interface ProcessIdentity {
  pid: number;
  startTicks: number;
  bootId: string;
}

/** An identity as a record holds it: records written before boot ids were kept carry pid and start time only. */
export interface RecordedIdentity {
  pid: number;
  startTicks?: number | undefined;
  bootId?: string | undefined;
}

/** The identity of a live process; undefined when there is none (or it is a zombie, which has finished and only awaits its parent). */
export function currentIdentity(pid: number): ProcessIdentity | undefined {
  const stat = readProcStat(pid);
  if (stat === undefined || stat.state === 'Z') return undefined;
  const bootId = currentBootId();
  if (bootId === 'unknown') return undefined;
  return { pid, startTicks: stat.startTicks, bootId };
}

/**
 * Whether the recorded process still runs: same pid, same start time, same boot. Anything else is gone,
 * and is never signalled: the pid may now belong to anyone. A record without a start time proves nothing.
 */
export function isSameProcess(recorded: RecordedIdentity): boolean {
  const current = currentIdentity(recorded.pid);
  if (current === undefined) return false;
  // A record from before boot ids were kept is accepted on pid and start time (ISSUE-NOTES, Faults).
  if (recorded.bootId !== undefined && recorded.bootId !== current.bootId) return false;
  return current.startTicks === recorded.startTicks;
}
