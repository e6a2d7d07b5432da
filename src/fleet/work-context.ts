// What jobs and Serve need of a cluster: where its dashboard and Serve proxy are, its token, its journal; not the whole Fleet.
import type { NewEvent } from '../journal/event.js';
import type { DashboardClient } from '../ray/dashboard-client.js';

/** The journal events work writes: a job submitted or ended, applications deployed or deleted. */
export type WorkEvent = Extract<NewEvent, { type: 'job-submitted' | 'job-ended' | 'serve-deployed' | 'serve-deleted' }>;

export interface WorkContext {
  cluster: string;
  /** Ray's dashboard as this machine reaches it (directly, or through a front door), with the cluster's token: the Jobs, packages and Serve REST APIs. */
  dashboard(signal?: AbortSignal): Promise<DashboardClient>;
  /** Appends to the cluster's journal; never fails what already happened. */
  record(event: WorkEvent): Promise<void>;
  /**
   * The file on this machine where the driver of a job writes its output, where the provider knows one (local nodes:
   * Ray's log API reads a worker-node driver's log from the head's session there); undefined elsewhere.
   */
  driverLogFile?(driverNodeId: string, submissionId: string, signal?: AbortSignal): Promise<string | undefined>;
  /** The name of Ray node `nodeId` when Ray's GCS lists it DEAD; undefined when it lives, is unknown, or Ray cannot be read. */
  deadRayNode?(nodeId: string, signal?: AbortSignal): Promise<string | undefined>;
}

export interface ServeContext extends WorkContext {
  /** Where Serve's proxy binds inside the head: the backend's word (Backend.serveHost). */
  serveHost: string;
  /** Serve's HTTP proxy as this machine reaches it (a Docker head's published port, a CML head's pod address). */
  serveUrl(signal?: AbortSignal): Promise<string>;
  /** The port the proxy listens on inside the head: the cluster's serve port. */
  servePort(signal?: AbortSignal): Promise<number>;
}
