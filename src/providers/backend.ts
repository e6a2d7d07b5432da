// What a backend is before any node of it runs: how a cluster on it is laid out, reached and simulated, and how its provider is built.
import type { ErrorCode } from '../errors.js';
import type { ClusterSpec, HeadPorts } from '../spec/schema.js';
import type { LatencyDistribution } from '../spec/simulation.js';
import type { NodeProvider } from './node-provider.js';

/** How the head's ports are chosen at `up`. */
export type PortPolicy =
  /** The nodes share this machine: every port the spec leaves unset is chosen on its own among the free ones. */
  | { kind: 'free-on-this-machine' }
  /** The head has a network of its own (a container): its ports keep the defaults, its published ones move by one offset. */
  | { kind: 'published-with-offset'; offset: number | undefined }
  /** The head has a machine of its own (a pod): the defaults, nothing published here. */
  | { kind: 'head-machine-own' };

/** How a driver on this machine joins the cluster. */
export type DriverConnection =
  /** Straight to the GCS: a raylet of the cluster runs beside it. */
  | 'gcs'
  /** Through the head's Ray client server: no raylet of the cluster beside it (outside the containers, in another pod). */
  | 'ray-client';

/** The simulator's model of this backend's machines, where the spec's `simulation:` section says nothing. */
export interface BackendSimulation {
  /** Launch → alive in Ray. */
  launch: LatencyDistribution;
  /** Terminate → gone. */
  terminate: LatencyDistribution;
  /** A node is `starting` in the provider until Ray runs on it (a CML application), rather than running at once and joining Ray later. */
  startsInProvider: boolean;
  /** The provider's own launch timeout, where it has one (NodeProvider.defaultLaunchTimeoutMs). */
  launchTimeoutMs?: number;
  /** The error a launch over quota fails with. */
  quotaCode: ErrorCode;
  /** Where the defaults come from, for `rayfleet simulate --help`. */
  source: string;
}

/** What a provider is built from: the cluster's spec and where its state is kept on this machine. */
export interface ProviderContext {
  spec: ClusterSpec;
  /** The head's ports, as chosen at `up`. */
  head: HeadPorts;
  /** What the head's published ports carry on top of `head` (PortPolicy `published-with-offset`). */
  portOffset: number;
  /** The cluster's state directory on this machine. */
  stateDir: string;
  /** The cluster's record file (cluster.json), which a backend whose watcher runs elsewhere copies there. */
  clusterFile: string;
  /** Short directory for Ray's session files of nodes on this machine (unix socket paths are capped at 107 bytes). */
  rayTempDir: string;
  /** The `ray` command of the managed runtime; asked for only by backends that run Ray on this machine. */
  rayCommand: () => Promise<string>;
  /** The Node flags of the watcher, for a backend whose head starts it (NodeProvider.watcherRunsOnHead). */
  watcherNodeFlags: readonly string[];
  onProgress: (line: string) => void;
}

export interface Backend {
  readonly portPolicy: PortPolicy;
  /** The cluster's state directory when the spec names one; else RAYFLEET_HOME's. */
  readonly stateDir: string | undefined;
  /** Ray runs on this machine, so `up` readies the managed runtime before the first node. */
  readonly runsRayHere: boolean;
  readonly driverConnection: DriverConnection;
  /** Where Serve's proxy binds inside the head: loopback where every node shares the host, every interface in a container or pod. */
  readonly serveHost: string;
  /** Where to run a command when this machine cannot reach the head; undefined where it always can. */
  readonly unreachableHeadAdvice: string | undefined;
  readonly simulation: BackendSimulation;
  createProvider(context: ProviderContext): NodeProvider;
}
