// Where this machine reaches a cluster's head: its own ports for local processes, the published ones for a Docker head,
// the address a Cloudera AI head published for itself (and, from outside its network, the front door its provider names).
import type { DriverConnection } from '../providers/backend.js';
import type { FrontDoorAccess } from '../providers/node-provider.js';
import type { ClusterPorts } from './cluster-record.js';

export interface HeadEndpoints {
  /** host:port of the GCS, for the watcher and `status`. */
  gcsAddress: string;
  dashboardUrl: string;
  /** What a driver sets as RAY_ADDRESS. */
  driverAddress: string;
  /** Ray Serve's HTTP proxy. */
  serveUrl: string;
  /** Every port the head listens on here, for `up`, `status` and `env` to print. */
  ports: ClusterPorts;
  /** The front door this machine reaches the dashboard and Serve through, where it does not reach the head itself. */
  door?: FrontDoorAccess;
}

/** `publishedHost` is the head's own address where only the head knows it (a CML application's pod). */
export function headEndpoints(driverConnection: DriverConnection, ports: ClusterPorts, publishedHost?: string): HeadEndpoints {
  const host = publishedHost ?? '127.0.0.1';
  const offset = ports.portOffset;
  const gcsAddress = `${host}:${ports.gcsPort + offset}`;
  return {
    gcsAddress,
    dashboardUrl: `http://${host}:${ports.dashboardPort + offset}`,
    driverAddress: driverConnection === 'gcs' ? gcsAddress : `ray://${host}:${ports.clientPort + offset}`,
    serveUrl: `http://${host}:${ports.servePort + offset}`,
    ports,
  };
}
