// Orphans on this machine: live processes whose environment carries a cluster's id, outside every process group its node
// records name (read from /proc), and their stop, which signals nothing that does not carry the id.
import { readdirSync } from 'node:fs';
import { currentBootId, readProcEnv, readProcStat } from '../../process/proc-stat.js';
import { stopProcessGroup } from '../../process/process-group.js';
import { CLUSTER_ID_VARIABLE, type OrphanProcess } from '../orphan-process.js';

/** What the node records account for. */
export interface RecordedNodes {
  /** Each recorded node's process group. */
  groups: Set<number>;
  /** Names whose launch is under way (claimed, no pid yet). */
  launching: Set<string>;
  /**
   * The variable naming a node's record in its processes, and each record's leader start: a process that names a record
   * and started no earlier than its node is that node's, in whatever group (Ray's job drivers run in sessions of their own).
   */
  marker: { name: string; startTicksByValue: Map<string, number> };
}

export function findLocalOrphans(clusterId: string, recorded: RecordedNodes): OrphanProcess[] {
  const byGroup = new Map<number, OrphanProcess>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (readProcEnv(pid, CLUSTER_ID_VARIABLE) !== clusterId) continue;
    const stat = readProcStat(pid);
    if (stat === undefined || stat.state === 'Z' || recorded.groups.has(stat.pgid)) continue;
    const nodeStartTicks = recorded.marker.startTicksByValue.get(readProcEnv(pid, recorded.marker.name) ?? '');
    if (nodeStartTicks !== undefined && stat.startTicks >= nodeStartTicks) continue;
    const name = readProcEnv(pid, 'RAY_CLOUD_INSTANCE_ID');
    // A launch in progress has claimed its name and spawned its process before it records the pid.
    if (name !== undefined && recorded.launching.has(name)) continue;
    const orphan = byGroup.get(stat.pgid) ?? { providerId: String(stat.pgid), name, pids: [] };
    orphan.pids.push(pid);
    byGroup.set(stat.pgid, orphan);
  }
  return [...byGroup.values()];
}

/**
 * Stops an orphan's process group as a node is stopped (SIGTERM to its leader, SIGKILL to the group after the grace),
 * proven by the id: only members started no earlier than the first one seen and carrying this cluster's id are ours.
 */
export async function stopLocalOrphan(orphan: OrphanProcess, clusterId: string, graceMs: number, signal?: AbortSignal): Promise<void> {
  const starts = orphan.pids.flatMap((pid) => {
    const stat = readProcStat(pid);
    return stat !== undefined && readProcEnv(pid, CLUSTER_ID_VARIABLE) === clusterId ? [stat.startTicks] : [];
  });
  if (starts.length === 0) return;
  await stopProcessGroup({ pid: Number(orphan.providerId), startTicks: Math.min(...starts), bootId: currentBootId(), marker: { name: CLUSTER_ID_VARIABLE, value: clusterId } }, graceMs, signal);
}
