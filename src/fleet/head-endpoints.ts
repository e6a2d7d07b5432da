// Where this machine reaches a cluster's head: its own ports for local processes, the published ones for a Docker head.
import type { ClusterSpec } from '../spec/schema.js';

export interface HeadEndpoints {
  /** host:port of the GCS, for the watcher and `status`. */
  gcsAddress: string;
  dashboardUrl: string;
  /** What a driver on this machine sets as RAY_ADDRESS. */
  driverAddress: string;
}

export function headEndpoints(spec: ClusterSpec): HeadEndpoints {
  const { head, provider } = spec;
  const offset = provider.type === 'docker' ? provider.portOffset : 0;
  const gcsAddress = `127.0.0.1:${head.gcsPort + offset}`;
  return {
    gcsAddress,
    dashboardUrl: `http://127.0.0.1:${head.dashboardPort + offset}`,
    // A driver outside the containers has no raylet beside it, so it connects through the Ray client server.
    driverAddress: provider.type === 'docker' ? `ray://127.0.0.1:${head.clientPort + offset}` : gcsAddress,
  };
}
