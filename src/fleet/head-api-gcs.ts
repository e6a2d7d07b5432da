// Ray's nodes as seen from outside a cluster's network: the GCS is not reached there, so the head's own rayfleet API says what its GCS says.
import { RayfleetError, isRayfleetError, messageOf } from '../errors.js';
import type { DashboardClient } from '../ray/dashboard-client.js';
import type { ClusterResourceState, RayNodeState } from '../ray/gcs-client.js';
import type { ClusterStatus, RayView } from './cluster-status.js';
import type { FleetGcs } from './ray-connection.js';

/** How long the head's dashboard may take to read its GCS and provider: one status, as `rayfleet status` there. */
const STATUS_TIMEOUT_MS = 30_000;

/** A FleetGcs over `GET /api/v1/clusters/<name>` of the dashboard inside the cluster: nodes only, no demand, no drains. */
export function headApiGcs(cluster: string, api: DashboardClient, door: string): FleetGcs {
  return {
    getClusterResourceState: async (options = {}): Promise<ClusterResourceState> => {
      const status = await api.requestJson<ClusterStatus>(`/api/v1/clusters/${encodeURIComponent(cluster)}`, { signal: options.signal, timeoutMs: STATUS_TIMEOUT_MS }).catch((error: unknown) => {
        if (options.signal?.aborted === true || isRayfleetError(error, 'RAY_UNREACHABLE')) throw error;
        // Whatever the head's dashboard answered (503 while it starts), Ray's view is out of reach: the provider's word stands in where it may.
        throw new RayfleetError('RAY_UNREACHABLE', `the dashboard in the head of ${cluster} did not give Ray's view through its ${door}: ${messageOf(error)}`, { cause: error });
      });
      const known = status.nodes.flatMap((node) => (node.ray === null ? [] : [rayNodeOf(node.ray, node.name, node.group)]));
      return {
        version: 0,
        sessionName: '',
        nodeStates: [...known, ...status.unmanaged.map((ray) => rayNodeOf(ray, '', ''))],
        pendingRequests: [],
        pendingGangs: [],
        constraints: [],
      };
    },
    drainNode: async () => {
      throw new RayfleetError('RAY_UNREACHABLE', `a drain needs the GCS of ${cluster}, which is not reached through its ${door}`, {
        details: 'Run the command inside the project, or let the watcher in the head scale the group down (`rayfleet watcher` settings: min, idleTimeout).',
      });
    },
  };
}

function rayNodeOf(ray: RayView, instanceId: string, nodeTypeName: string): RayNodeState {
  return {
    nodeId: ray.nodeId,
    instanceId,
    nodeTypeName,
    status: ray.status,
    idleMs: ray.idleMs,
    totalResources: ray.resources,
    availableResources: ray.available,
    ipAddress: '',
    activity: [],
    labels: {},
  };
}
