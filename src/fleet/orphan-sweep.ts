// The orphan sweep: processes carrying this cluster's id that no node record accounts for (as a launcher of an older
// version killed mid-launch could leave), found and stopped through the provider's capability. Another cluster's id, or
// none, is never touched: the provider reports only carriers of this one.
import type { NewEvent } from '../journal/event.js';
import type { GcsClient } from '../ray/gcs-client.js';
import type { NodeProvider } from '../providers/node-provider.js';
import type { OrphanProcess } from '../providers/orphan-process.js';

export interface OrphanSweepContext {
  provider: () => Promise<NodeProvider>;
  /** This cluster's id; a cluster whose record predates ids has no orphans to find. */
  clusterId: string | undefined;
  record: (event: NewEvent) => Promise<void>;
  /** Ray, to drain an orphan that is a node there first; absent when everything stops anyway (`down`). */
  gcs?: () => Promise<Pick<GcsClient, 'getClusterResourceState' | 'drainNode'>>;
}

/** The orphans of this cluster now; none where the provider cannot tell. */
export async function findOrphans(context: Pick<OrphanSweepContext, 'provider' | 'clusterId'>, signal?: AbortSignal): Promise<OrphanProcess[]> {
  const provider = await context.provider();
  if (context.clusterId === undefined || provider.orphans === undefined) return [];
  return provider.orphans(context.clusterId, signal);
}

/**
 * Stops every orphan, each journaled. One that Ray has alive under its node name, where no listed node has that name,
 * is drained first as a preemption (never refused: it is not ours to keep, and Ray stops placing work on it).
 */
export async function sweepOrphans(context: OrphanSweepContext, reason: string, signal?: AbortSignal): Promise<OrphanProcess[]> {
  const orphans = await findOrphans(context, signal);
  const { clusterId } = context;
  if (orphans.length === 0 || clusterId === undefined) return [];
  const provider = await context.provider();
  if (context.gcs !== undefined) {
    const gcs = await context.gcs();
    const listed = new Set((await provider.list(signal)).map((instance) => instance.name));
    const alive = (await gcs.getClusterResourceState({ signal })).nodeStates.filter((node) => node.status !== 'DEAD' && !listed.has(node.instanceId));
    for (const orphan of orphans) {
      const node = alive.find((candidate) => candidate.instanceId === orphan.name);
      if (node !== undefined) await gcs.drainNode(node.nodeId, 'PREEMPTION', `rayfleet: ${reason}`, { signal });
    }
  }
  await Promise.all(
    orphans.map(async (orphan) => {
      await provider.stopOrphan?.(orphan, clusterId, signal);
      await context.record({ type: 'orphan-stopped', node: orphan.name, providerId: orphan.providerId, pids: orphan.pids, reason });
    }),
  );
  return orphans;
}
