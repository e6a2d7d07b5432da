// CPU time a process has used (user + system), from /proc: what a watcher or Ray's monitor costs per tick.
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_S = 100;

/** User + system CPU of one process so far, in ms; undefined when it is gone. Its children are not counted. */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of /proc/PID/stat (utime, stime); the list above starts at field 3.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** The process of a group whose command line contains `needle` (Ray's monitor inside a head's group); only read, never signalled. */
export function findInGroup(pgid: number, needle: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const group = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (group !== pgid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  return undefined;
}

/** CPU a process spends from now until the returned function is called, in ms (undefined if it ended meanwhile). */
export function cpuMeter(pid: number | undefined): () => number | undefined {
  const start = pid === undefined ? undefined : cpuMsOf(pid);
  return () => {
    if (pid === undefined || start === undefined) return undefined;
    const end = cpuMsOf(pid);
    return end === undefined ? undefined : end - start;
  };
}
