// Where this machine reaches a cluster's head: its own ports for local processes, the published ones for a Docker head,
// the address a Cloudera AI head published for itself.
import type { ClusterSpec } from '../spec/schema.js';

export interface HeadEndpoints {
  /** host:port of the GCS, for the watcher and `status`. */
  gcsAddress: string;
  dashboardUrl: string;
  /** What a driver sets as RAY_ADDRESS. */
  driverAddress: string;
}

/** `publishedHost` is the head's own address where only the head knows it (a CML application's pod). */
export function headEndpoints(spec: ClusterSpec, publishedHost?: string): HeadEndpoints {
  const { head, provider } = spec;
  const host = publishedHost ?? '127.0.0.1';
  const offset = provider.type === 'docker' ? provider.portOffset : 0;
  const gcsAddress = `${host}:${head.gcsPort + offset}`;
  return {
    gcsAddress,
    dashboardUrl: `http://${host}:${head.dashboardPort + offset}`,
    // A driver with no raylet of the cluster beside it (outside the containers, in another pod) connects through the Ray client server.
    driverAddress: provider.type === 'local' ? gcsAddress : `ray://${host}:${head.clientPort + offset}`,
  };
}
