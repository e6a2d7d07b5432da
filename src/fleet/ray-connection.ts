// How this machine talks to a cluster's Ray: where the head is (its address, or the front door the provider names), its auth token, and the GCS and dashboard clients.
import { RayfleetError } from '../errors.js';
import { readOrCreateAuthToken, rayAuthEnv } from '../ray/auth-token.js';
import { DashboardClient } from '../ray/dashboard-client.js';
import { GcsClient, type RayNodeState } from '../ray/gcs-client.js';
import type { FrontDoorAccess, NodeProvider } from '../providers/node-provider.js';
import type { DriverConnection } from '../providers/backend.js';
import type { ClusterPorts } from './cluster-record.js';
import { headApiGcs } from './head-api-gcs.js';
import { headEndpoints, type HeadEndpoints } from './head-endpoints.js';

export interface RayConnectionOptions {
  cluster: string;
  driverConnection: DriverConnection;
  ports: ClusterPorts;
  authTokenPath: string;
  provider: () => Promise<NodeProvider>;
  /** A GCS other than the head's (the simulator's, a test's stand-in); the head's over gRPC when absent. */
  gcs?: FleetGcs;
}

/** The GCS calls a fleet makes: nodes and demand, and drains. */
export type FleetGcs = Pick<GcsClient, 'getClusterResourceState' | 'drainNode'>;

export class RayConnection {
  private gcsClient: GcsClient | undefined;
  /** The head's endpoints once a provider that learns them at run time (cai) has told them. */
  private knownEndpoints: HeadEndpoints | undefined;
  /** The provider's front door as this machine goes through it (undefined: the head is reached directly), asked once per connection. */
  private door: Promise<FrontDoorAccess | undefined> | undefined;

  constructor(private readonly options: RayConnectionOptions) {}

  /** Where this machine reaches the head; asks the provider when only the running head knows its address. */
  async endpoints(signal?: AbortSignal): Promise<HeadEndpoints> {
    if (this.knownEndpoints !== undefined) return this.knownEndpoints;
    const { driverConnection, ports, cluster } = this.options;
    const provider = await this.options.provider();
    if (provider.headHost === undefined) return headEndpoints(driverConnection, ports);
    const door = await this.frontDoor(signal);
    const host = await provider.headHost(signal);
    if (door !== undefined) {
      // Through the door Ray's dashboard and Serve are the door's paths; the pod's address is shown for what it is.
      this.knownEndpoints = { ...headEndpoints(driverConnection, ports, host ?? 'unpublished'), dashboardUrl: door.rayDashboardUrl, serveUrl: door.serveUrl, door };
      return this.knownEndpoints;
    }
    if (host === undefined) {
      throw new RayfleetError('RAY_UNREACHABLE', `the head of ${cluster} has not published its address yet`, {
        details: 'It does once Ray is up on it; `rayfleet status` shows whether its application is running.',
      });
    }
    // Asked of the project once per connection (status would otherwise read it twice); close() forgets it with the GCS client.
    this.knownEndpoints = headEndpoints(driverConnection, ports, host);
    return this.knownEndpoints;
  }

  /** The cluster's Ray auth token, made on first use. */
  async authToken(): Promise<string> {
    return readOrCreateAuthToken(this.options.authTokenPath);
  }

  /** The environment that gives a Ray process the token (by path, never by value). */
  async authEnv(): Promise<Record<string, string>> {
    await this.authToken();
    return rayAuthEnv(this.options.authTokenPath);
  }

  /** The client of this cluster's GCS, with its auth token; closed by close(). Through a front door, the head's own API stands in for it. */
  async gcs(): Promise<FleetGcs> {
    if (this.options.gcs !== undefined) return this.options.gcs;
    const door = await this.frontDoor();
    if (door !== undefined) return headApiGcs(this.options.cluster, await this.throughDoor(door, door.rayfleetUrl), door.describe);
    this.gcsClient ??= new GcsClient({ address: (await this.endpoints()).gcsAddress, authToken: await this.authToken() });
    return this.gcsClient;
  }

  /** The dashboard's HTTP API, at `baseUrl` when given (RAY_DASHBOARD_METRIC_API), else the head's (through its front door, where it has one). */
  async dashboard(baseUrl?: string, signal?: AbortSignal): Promise<DashboardClient> {
    if (baseUrl !== undefined) return new DashboardClient({ baseUrl, authToken: await this.authToken() });
    const { dashboardUrl, door } = await this.endpoints(signal);
    return door === undefined ? new DashboardClient({ baseUrl: dashboardUrl, authToken: await this.authToken() }) : this.throughDoor(door, dashboardUrl);
  }

  /** A client of one API behind the door: the ingress's headers, the cluster's credential in the door's header, answers from the ingress refused. */
  private async throughDoor(door: FrontDoorAccess, baseUrl: string): Promise<DashboardClient> {
    return new DashboardClient({
      baseUrl,
      authToken: await this.authToken(),
      authHeader: door.credentialHeader,
      headers: door.headers,
      connectTo: door.connectTo,
      maxBodyBytes: door.maxBodyBytes,
      checkAnswer: (answer) => {
        if (door.answeredByDoor(answer.headers)) return;
        const why = answer.status === 413 ? `413: the request is over the ingress's body limit (provider.frontDoorBodyLimit says ${door.maxBodyBytes} bytes)` : `${answer.status}`;
        throw new RayfleetError('RAY_UNREACHABLE', `the workspace's ingress answered ${why} instead of the ${door.describe} of ${this.options.cluster}`, { details: door.refusedAdvice });
      },
    });
  }

  /** The provider's front door, where this machine goes through one; asked once per connection. */
  private async frontDoor(signal?: AbortSignal): Promise<FrontDoorAccess | undefined> {
    if (this.options.gcs !== undefined) return undefined;
    const provider = await this.options.provider();
    if (provider.frontDoorAccess === undefined) return undefined;
    this.door ??= provider.frontDoorAccess(signal).catch((error: unknown) => {
      this.door = undefined;
      throw error;
    });
    return this.door;
  }

  /** Every node Ray's GCS knows, alive and recently dead. */
  async rayNodes(signal?: AbortSignal): Promise<RayNodeState[]> {
    return (await (await this.gcs()).getClusterResourceState({ signal })).nodeStates;
  }

  /** Releases the connection, so a short command can exit; it reconnects if used again. */
  close(): void {
    this.gcsClient?.close();
    this.gcsClient = undefined;
    this.knownEndpoints = undefined;
    this.door = undefined;
  }
}
