// A cluster's jobs and Serve context: its head's endpoints, token and journal, as a fleet has them.
import type { ClusterHandle } from './cluster-handle.js';
import type { ServeContext } from './work-context.js';

export function workContextOf(cluster: () => ClusterHandle, requireUp: () => Promise<void>): ServeContext {
  const endpoints = async (signal?: AbortSignal) => {
    await requireUp();
    return cluster().connection.endpoints(signal);
  };
  return {
    cluster: cluster().name,
    serveHost: cluster().backend.serveHost,
    dashboard: async (signal) => {
      await requireUp();
      return cluster().connection.dashboard(undefined, signal);
    },
    serveUrl: async (signal) => (await endpoints(signal)).serveUrl,
    servePort: async (signal) => (await endpoints(signal)).ports.servePort,
    record: (event) => cluster().record(event),
    driverLogFile: (nodeId, submissionId, signal) => driverLogFile(cluster(), nodeId, submissionId, signal),
    deadRayNode: async (nodeId, signal) => {
      const node = (await cluster().connection.rayNodes(signal)).find((candidate) => candidate.nodeId === nodeId);
      return node?.status === 'DEAD' ? node.instanceId || nodeId : undefined;
    },
  };
}

/** Where the driver of a job that ran on Ray node `driverNodeId` writes its output, if the provider says. */
async function driverLogFile(cluster: ClusterHandle, driverNodeId: string, submissionId: string, signal?: AbortSignal): Promise<string | undefined> {
  const provider = await cluster.provider();
  if (provider.driverLogFile === undefined) return undefined;
  const node = (await cluster.connection.rayNodes(signal)).find((candidate) => candidate.nodeId === driverNodeId);
  if (node === undefined || node.instanceId === '') return undefined;
  return provider.driverLogFile(node.instanceId, submissionId);
}
