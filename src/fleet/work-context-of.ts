// A cluster's jobs and Serve context: its head's endpoints, token and journal, as a fleet has them.
import path from 'node:path';
import { localNodeTempDir } from '../providers/local/local-provider.js';
import type { ClusterHandle } from './cluster-handle.js';
import type { ServeContext } from './work-context.js';

export function workContextOf(cluster: () => ClusterHandle, requireUp: () => Promise<void>): ServeContext {
  const endpoints = async (signal?: AbortSignal) => {
    await requireUp();
    return cluster().connection.endpoints(signal);
  };
  return {
    cluster: cluster().name,
    providerType: cluster().spec.provider.type,
    dashboardUrl: async (signal) => (await endpoints(signal)).dashboardUrl,
    serveUrl: async (signal) => (await endpoints(signal)).serveUrl,
    servePort: async (signal) => (await endpoints(signal)).ports.servePort,
    authToken: async () => {
      await requireUp();
      return cluster().connection.authToken();
    },
    record: (event) => cluster().record(event),
    ...(cluster().spec.provider.type === 'local' ? { driverLogFile: (nodeId, submissionId, signal) => localDriverLogFile(cluster(), nodeId, submissionId, signal) } : {}),
  };
}

/**
 * Where a local node's Ray writes a job driver's output: its own session's logs. Ray's dashboard agent on a worker node
 * of a local cluster reads job logs from the head's session instead (its `ray.init` picks the head among nodes that share
 * the host's address), so a worker-node driver's output is read here.
 */
async function localDriverLogFile(cluster: ClusterHandle, driverNodeId: string, submissionId: string, signal?: AbortSignal): Promise<string | undefined> {
  const node = (await cluster.connection.rayNodes(signal)).find((candidate) => candidate.nodeId === driverNodeId);
  if (node === undefined || node.instanceId === '') return undefined;
  return path.join(localNodeTempDir(cluster.paths.rayTempDir, node.instanceId), 'session_latest', 'logs', `job-driver-${submissionId}.log`);
}
