// remove-worker: one named worker drained in Ray and stopped, and Ray seen to let it go; a busy one is refused unless forced.
import { RayfleetError } from '../errors.js';
import { assertNodeName } from '../providers/node-names.js';
import type { RayNodeState } from '../ray/gcs-client.js';
import { pollUntil } from '../wait/poll-until.js';
import type { ClusterHandle } from './cluster-handle.js';
import { drainThenStop } from './drain-and-stop.js';

export interface RemoveWorkerOptions {
  /** Stop the node even when Ray says it is busy. */
  force?: boolean;
  reason?: string;
  signal?: AbortSignal;
}

const RAY_FORGETS_NODE_MS = 60_000;

export async function removeWorker(cluster: ClusterHandle, name: string, options: RemoveWorkerOptions = {}): Promise<void> {
  assertNodeName(name, cluster.name);
  const { signal } = options;
  const instance = (await (await cluster.provider()).list(signal)).find((candidate) => candidate.name === name);
  if (instance === undefined) throw new RayfleetError('NODE_NOT_FOUND', `no node named ${name} in cluster ${cluster.name}`);
  if (instance.role === 'head') throw new RayfleetError('USAGE', `${name} is the head; use \`rayfleet down\` to stop the cluster`);
  const alive = (nodes: RayNodeState[]) => nodes.find((node) => node.instanceId === name && node.status !== 'DEAD');
  const rayNode = alive(await cluster.connection.rayNodes(signal));
  const outcome = await drainThenStop(
    { provider: () => cluster.provider(), record: (event) => cluster.record(event), gcs: () => cluster.connection.gcs() },
    { name, group: instance.group, nodeId: rayNode?.nodeId, idleMs: rayNode?.idleMs },
    { reason: options.reason ?? 'remove-worker', force: options.force, signal },
  );
  if (!outcome.stopped) {
    throw new RayfleetError('NODE_BUSY', `Ray refused to drain ${name}: ${outcome.rejection}`, {
      details: 'The node is running work. Wait for it to finish, or pass --force to stop it anyway (its tasks are retried elsewhere, its actors and objects are lost).',
    });
  }
  if (rayNode === undefined) return;
  await pollUntil(async () => (alive(await cluster.connection.rayNodes(signal)) === undefined ? true : undefined), {
    timeoutMs: RAY_FORGETS_NODE_MS,
    intervalMs: 500,
    signal,
    describe: () => `Ray to see ${name} gone`,
  });
}
