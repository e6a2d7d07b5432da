// The seam every backend implements: launch, terminate, list and read logs of a cluster's nodes.
import type { OrphanProcess } from './orphan-process.js';

/** What a node needs from Ray's point of view; the same for every backend. */
export interface NodeResources {
  cpus: number;
  gpus: number;
  /** Logical memory for Ray's scheduler, bytes. */
  memoryBytes?: number | undefined;
  objectStoreMemoryBytes?: number | undefined;
  /** Custom resources, e.g. `{ TPU: 4 }`. */
  custom: Record<string, number>;
}

export type NodeRole = 'head' | 'worker';

/** A node the fleet wants: configured, not started. */
export interface LaunchRequest {
  /** The node's name and its identity everywhere: `ray-head`, `ray-worker-3`, `ray-gpu-1`. */
  name: string;
  role: NodeRole;
  /** The worker group, or `head`. */
  group: string;
  /** 0 for the head; 1… within a worker group. */
  index: number;
  resources: NodeResources;
  /** Extra environment for the Ray processes of this node (auth, the cloud instance id and node type). */
  env: Record<string, string>;
}

/**
 * `unknown`: the provider cannot read the node now (its SSH host does not answer). It still holds its name and its
 * room, is never counted as gone, and is never made again under its name.
 */
export type InstanceState = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed' | 'unknown';

/** A node as its provider sees it. Read-only: a provider may hand out the same object again while nothing changed. */
export interface Instance {
  name: string;
  role: NodeRole;
  group: string;
  index: number;
  /** The provider's own handle: a process group id, a container id, an application id. */
  providerId: string;
  state: InstanceState;
  /** How Ray on this node is reached, when known. */
  address: string | undefined;
  createdAt: Date;
  resources: NodeResources;
}

export interface LogOptions {
  follow?: boolean;
  /** Last N lines only. */
  tail?: number;
  signal?: AbortSignal;
}

/** The order nodes are listed in: the head, then each group by index. */
export function byRoleGroupIndex(a: Pick<Instance, 'role' | 'group' | 'index'>, b: Pick<Instance, 'role' | 'group' | 'index'>): number {
  if (a.role !== b.role) return a.role === 'head' ? -1 : 1;
  // Code-point order: group names are plain ASCII, and localeCompare was a tenth of a 10,000-node listing.
  if (a.group !== b.group) return a.group < b.group ? -1 : 1;
  return a.index - b.index;
}

/** How a user reaches a cluster from outside its network, where the head is not reached directly. */
export interface FrontDoor {
  /** What the door is, in the backend's words: `head application`. */
  name: string;
  /** rayfleet's dashboard for the cluster. */
  url: string;
  /** Ray's own dashboard behind the same door. */
  rayDashboardUrl: string;
}

/**
 * How a command on this machine goes through the front door: what every request carries and where each API is. The
 * door takes the cluster's credential (its Ray token) in `credentialHeader`, checks it, and passes nothing further
 * than it must: toward Ray it sends Ray's token itself.
 */
export interface FrontDoorAccess {
  /** What the door is and how it is passed, for messages: `head application (CML API key)`. */
  describe: string;
  /** Headers for the ingress in front of the door (the CML API key in `authorization`), on every request. */
  headers: Record<string, string>;
  /** The header that carries `Bearer <cluster credential>`. */
  credentialHeader: string;
  /** Ray's dashboard API through the door. */
  rayDashboardUrl: string;
  /** The dashboard rayfleet runs inside the cluster (its API under /api/v1), through the door. */
  rayfleetUrl: string;
  /** Ray Serve's HTTP proxy through the door. */
  serveUrl: string;
  /** Where to connect for the door's host when its name does not resolve here (host:port); the URL's own host when undefined. */
  connectTo: string | undefined;
  /** The largest request body the ingress takes. */
  maxBodyBytes: number;
  /** Values that must never reach a log, trace or message (the API key). */
  secrets: readonly string[];
  /** Whether an answer came from the door itself, rather than from the ingress in front of it (a login page, a redirect). */
  answeredByDoor(headers: Record<string, string | string[] | undefined>): boolean;
  /** What to do when the ingress answers instead of the door: the error's details. */
  refusedAdvice: string;
}

/**
 * A backend's nodes. What differs by backend beyond launch, terminate, list and logs is an optional capability here
 * (or, where it is needed before a provider exists, a field of its Backend): callers ask for it, never for a type.
 */
/** Where a head's GCS store lives, as its head sees the path, and how it is emptied (a fresh `up`, `down`). */
export interface GcsStore {
  /** The path given to the head as RAY_gcs_storage_path. */
  readonly path: string;
  /** Removes the store; nothing to do where it went with the head's container or host directory. */
  clear(signal?: AbortSignal): Promise<void>;
}

export interface NodeProvider {
  readonly type: string;
  /** The watcher runs inside the head (cai): `down` stops the head first, so nothing relaunches the workers it stops. */
  readonly watcherRunsOnHead?: boolean;
  /** How long a launch may take to join Ray before it counts as failed, where the spec does not say (`watcher.launchTimeout`). */
  readonly defaultLaunchTimeoutMs?: number;
  /** A node reaches `running` only once Ray is up on it (a CML application's launcher serves after `ray start`). */
  readonly runningMeansRayUp?: boolean;
  /** Starts the node; launching a name that already runs returns the running instance. */
  launch(request: LaunchRequest, signal?: AbortSignal): Promise<Instance>;
  /** Stops and forgets the node; terminating a node that is gone is not an error. */
  terminate(name: string, signal?: AbortSignal): Promise<void>;
  /** Every node of the cluster as it is now. Throws when it cannot know: never `[]` on error. */
  list(signal?: AbortSignal): Promise<Instance[]>;
  /** The node's log, line by line. */
  logs(name: string, options?: LogOptions): AsyncIterable<string>;
  /** The head's host where only the running head knows it (a CML pod's address); undefined until it has said. */
  headHost?(signal?: AbortSignal): Promise<string | undefined>;
  /** The journal of a watcher that runs inside the cluster (cai: in the project), as text; undefined when there is none. */
  remoteJournal?(signal?: AbortSignal): Promise<string | undefined>;
  /** The cluster's front door from outside its network (a CML head application); undefined where the head is reached directly. */
  frontDoor?(signal?: AbortSignal): Promise<FrontDoor | undefined>;
  /**
   * How this machine reaches the head through its front door; undefined where it reaches the head directly (inside CML's
   * network, or the door switched off). Throws RAY_UNREACHABLE, naming each way and what it needs, when no way works.
   */
  frontDoorAccess?(signal?: AbortSignal): Promise<FrontDoorAccess | undefined>;
  /** The token of the dashboard that serves this cluster, where that dashboard runs inside the cluster (a CML head's). */
  dashboardToken?(signal?: AbortSignal): Promise<string>;
  /**
   * The file on this machine where a job's driver that ran on node `instanceName` writes its output, where Ray's log
   * API reads another node's file instead (local nodes share a host, and Ray's agent reads the head's session).
   */
  driverLogFile?(instanceName: string, submissionId: string): string;
  /**
   * How many more nodes of this shape the provider's machines can hold now, at most `limit`, where they are few and fixed
   * (an SSH pool): the watcher launches no more than that, and reports the rest as infeasible capacity.
   */
  roomFor?(resources: NodeResources, limit: number, signal?: AbortSignal): Promise<number>;
  /**
   * Processes carrying this cluster's id (CLUSTER_ID_VARIABLE) that no node of `list` accounts for (local: read from /proc);
   * another cluster's id, or none, is never reported.
   */
  orphans?(clusterId: string, signal?: AbortSignal): Promise<OrphanProcess[]>;
  /** Stops an orphan `orphans` reported, only while its processes still carry the cluster's id. */
  stopOrphan?(orphan: OrphanProcess, clusterId: string, signal?: AbortSignal): Promise<void>;
  /**
   * Forgets a node that cannot be reached (its SSH host is gone for good): its name is released and nothing is stopped,
   * for `down --force`. Only providers that can lose sight of a node have it.
   */
  forget?(name: string): Promise<void>;
  /**
   * The head's embedded GCS store (head.faultTolerance), on the head's own disk (local: the cluster's state; a container
   * or host keeps it where the head runs); absent where the backend cannot keep one.
   */
  gcsStore?(): GcsStore;
  /**
   * Starts the head again on its address and ports, once its old processes are proven gone (a hung GCS still holds its
   * port and the store's lock): resolves undefined, restarting nothing, while they are not.
   */
  restartHead?(request: LaunchRequest, signal?: AbortSignal): Promise<Instance | undefined>;
  /** Releases what the cluster's nodes shared (a Docker network), once they are all gone. */
  cleanup?(signal?: AbortSignal): Promise<void>;
  /** Lets go of what this provider object holds open (an SSH pool's sessions), when its fleet is closed; nodes run on. */
  close?(): void;
}
