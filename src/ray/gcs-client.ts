// A client of Ray's GCS AutoscalerStateService over gRPC: the cluster's nodes and demand, and draining a node.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { RayfleetError, messageOf } from '../errors.js';
import { packageFile, shippedFile } from '../package-files.js';
import { toClusterResourceState, type ClusterResourceState, type RawClusterResourceState, type ResourceShape } from './cluster-resource-state.js';
import { ClusterResourceStateDecoder } from './resource-state-decoder.js';

export type { ClusterResourceState, RayNodeState, RayNodeStatus, PendingRequest, GangRequest, ResourceShape } from './cluster-resource-state.js';

export interface GcsClientOptions {
  /** host:port of the GCS (the head's `--port`). */
  address: string;
  /** The cluster's auth token, sent as `authorization: Bearer …` on every call; Ray ≥ 2.52 refuses calls without it when token auth is on. */
  authToken?: string | undefined;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  /** How long the call may take, connection included; 5 s when absent. */
  deadlineMs?: number | undefined;
}

export type DrainReason = 'IDLE_TERMINATION' | 'PREEMPTION';

export interface DrainOptions extends CallOptions {
  /**
   * When the node will be killed, for Ray's bookkeeping. Ray 2.60 does not act on it: a draining node
   * with work keeps running past it, so the caller must stop the node itself.
   */
  drainDeadline?: Date | undefined;
}

export interface DrainResult {
  accepted: boolean;
  /** Ray's reason when it refused, e.g. "The node to be idle terminated is no longer idle."; empty when accepted. */
  rejectionReason: string;
}

/** The autoscaler's view that `ray status` shows: what rayfleet reports, and what the GCS hands back. */
export interface AutoscalingState {
  /** The ClusterResourceState version the report was made from. */
  lastSeenClusterResourceStateVersion: number;
  /** Must grow with every report: the GCS drops a report older than the one it holds. */
  autoscalerStateVersion: number;
  pendingInstanceRequests: Array<{ nodeTypeName: string; count: number; requestedAtSeconds: number }>;
  pendingInstances: Array<{ nodeTypeName: string; instanceId: string; details: string }>;
  failedInstanceRequests: Array<{ nodeTypeName: string; count: number; reason: string; startedAtSeconds: number; failedAtSeconds: number }>;
  /** Shapes no node type can hold. Ray tells the drivers that submitted them. */
  infeasibleRequests: ResourceShape[];
}

/** What rayfleet sends with reportAutoscalingState. */
export type AutoscalingStateReport = AutoscalingState;

export interface ClusterStatus {
  resourceState: ClusterResourceState;
  /** The last state reported to the GCS; all zero and empty when nobody reported. */
  autoscalingState: AutoscalingState;
}

/** One shape of a `request_resources()`-style constraint: the cluster must be able to hold `count` of `shape` at once. */
export interface ShapeCount {
  shape: ResourceShape;
  count: number;
}

/** Our proto: in the package's proto/, or beside the single-file bundle in a Cloudera AI project. */
const PROTO_PATH = shippedFile('proto/autoscaler.proto', './proto/autoscaler.proto') ?? packageFile('proto/autoscaler.proto');
const DEFAULT_DEADLINE_MS = 5_000;
/** Room for a large cluster's whole resource state in flight at once. */
const FLOW_CONTROL_WINDOW_BYTES = 16 * 2 ** 20;
/** Dead nodes accumulate in the GCS's replies; Ray itself allows messages this large. */
const MAX_MESSAGE_BYTES = 512 * 1024 * 1024;
/** A Ray node id is 28 bytes. */
const NODE_ID_HEX = /^[0-9a-f]{56}$/i;

type UnaryCallback = (error: grpc.ServiceError | null, reply: unknown) => void;
type UnaryMethod = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: UnaryCallback) => grpc.ClientUnaryCall;
type ServiceClient = grpc.Client & Record<string, UnaryMethod | undefined>;
type ServiceConstructor = (new (address: string, credentials: grpc.ChannelCredentials, options: grpc.ClientOptions) => ServiceClient) & { service: grpc.ServiceDefinition };

let serviceConstructor: ServiceConstructor | undefined;

function loadService(): ServiceConstructor {
  if (serviceConstructor === undefined) {
    const definition = protoLoader.loadSync(PROTO_PATH, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: false });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as { ray: { rpc: { autoscaler: { AutoscalerStateService: ServiceConstructor } } } };
    serviceConstructor = loaded.ray.rpc.autoscaler.AutoscalerStateService;
  }
  return serviceConstructor;
}

export class GcsClient {
  readonly address: string;
  private readonly client: ServiceClient;
  private readonly metadata: grpc.Metadata;
  private readonly service: grpc.ServiceDefinition;
  /** One per client: it reuses the node states unchanged since this client's last reply. */
  private readonly resourceState = new ClusterResourceStateDecoder();

  constructor(options: GcsClientOptions) {
    this.address = options.address;
    const Service = loadService();
    this.service = Service.service;
    this.client = new Service(options.address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      // HTTP/2's default 64 KB window made a 10,000-node reply (3.6 MB) wait on a window update every 64 KB.
      'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES,
      // Fail a call fast when the GCS is down instead of waiting out the deadline for a connection.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
    });
    // No ray_cluster_id: the GCS accepts calls without one and refuses a wrong one (UNAUTHENTICATED), as Ray 2.60 does.
    this.metadata = new grpc.Metadata();
    if (options.authToken !== undefined) this.metadata.set('authorization', `Bearer ${options.authToken}`);
  }

  /** Nodes and demand now. Always asks with version 0: a larger version than the GCS's aborts the GCS. */
  async getClusterResourceState(options: CallOptions = {}): Promise<ClusterResourceState> {
    // Read from the wire by our own decoder: proto-loader's generic one was most of a tick at 10,000 nodes. The states it
    // gives are shared with the replies before (see ClusterResourceStateDecoder): callers read them, never change them.
    return this.call<ClusterResourceState>('GetClusterResourceState', { last_seen_cluster_resource_state_version: '0' }, options, (bytes) => this.resourceState.decode(bytes));
  }

  /** The resource state with the autoscaling state last reported to the GCS (what `ray status` prints). */
  async getClusterStatus(options: CallOptions = {}): Promise<ClusterStatus> {
    const reply = await this.call<{ cluster_resource_state: RawClusterResourceState | null; autoscaling_state: RawAutoscalingState | null }>('GetClusterStatus', {}, options);
    return { resourceState: toClusterResourceState(reply.cluster_resource_state), autoscalingState: toAutoscalingState(reply.autoscaling_state) };
  }

  /**
   * Asks Ray to drain a node. IDLE_TERMINATION is refused by a node with work; once accepted, the raylet
   * exits and the node is DEAD within about a second, but its `ray start --block` process stays: stop it.
   * PREEMPTION is never refused: the node takes no new work and exits once its work is done.
   */
  async drainNode(nodeIdHex: string, reason: DrainReason, message: string, options: DrainOptions = {}): Promise<DrainResult> {
    if (!NODE_ID_HEX.test(nodeIdHex)) throw new RayfleetError('RAY_REQUEST_FAILED', `cannot drain "${nodeIdHex}": a Ray node id is 56 hex digits`);
    const reply = await this.call<{ is_accepted: boolean; rejection_reason_message: string }>(
      'DrainNode',
      {
        node_id: Buffer.from(nodeIdHex, 'hex'),
        reason: `DRAIN_NODE_REASON_${reason}`,
        reason_message: message,
        deadline_timestamp_ms: String(options.drainDeadline?.getTime() ?? 0),
      },
      options,
    );
    return { accepted: reply.is_accepted, rejectionReason: reply.rejection_reason_message };
  }

  /** Tells the GCS what the autoscaler is doing, so `ray status` shows pending and failed launches. */
  async reportAutoscalingState(state: AutoscalingStateReport, options: CallOptions = {}): Promise<void> {
    await this.call('ReportAutoscalingState', { autoscaling_state: fromAutoscalingState(state) }, options);
  }

  /** What `ray.autoscaler.sdk.request_resources()` does: replaces the cluster's one standing constraint; an empty list clears it. */
  async requestClusterResourceConstraint(shapes: ShapeCount[], options: CallOptions = {}): Promise<void> {
    await this.call(
      'RequestClusterResourceConstraint',
      { cluster_resource_constraint: { resource_requests: shapes.map(({ shape, count }) => ({ request: { resources_bundle: shape }, count: String(count) })) } },
      options,
    );
  }

  close(): void {
    this.client.close();
  }

  /** One unary call; `decode` reads the reply's bytes instead of proto-loader's decoding. */
  private call<T>(method: string, request: object, options: CallOptions, decode?: (bytes: Buffer) => T): Promise<T> {
    const { signal } = options;
    signal?.throwIfAborted();
    const definition = this.service[method];
    const generic = this.client[method];
    if (definition === undefined || generic === undefined) throw new RayfleetError('RAY_REQUEST_FAILED', `the GCS client has no method ${method}`);
    const unary: UnaryMethod =
      decode === undefined
        ? generic
        : (argument, metadata, callOptions, callback) =>
            this.client.makeUnaryRequest(definition.path, definition.requestSerialize, decode, argument, metadata, callOptions, callback as grpc.requestCallback<T>);
    return new Promise<T>((resolve, reject) => {
      const deadline = new Date(Date.now() + (options.deadlineMs ?? DEFAULT_DEADLINE_MS));
      let call: grpc.ClientUnaryCall;
      const cancel = (): void => call.cancel();
      try {
        call = unary.call(this.client, request, this.metadata, { deadline }, (error, reply) => {
          signal?.removeEventListener('abort', cancel);
          if (signal?.aborted === true) reject(signal.reason);
          else if (error !== null) reject(this.toError(method, error));
          else resolve(reply as T);
        });
      } catch (error) {
        // A closed client throws instead of calling back.
        reject(new RayfleetError('RAY_REQUEST_FAILED', `cannot call ${method} on Ray's GCS at ${this.address}: ${messageOf(error)}`, { cause: error }));
        return;
      }
      signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  private toError(method: string, error: grpc.ServiceError): RayfleetError {
    const detail = error.details || messageOf(error);
    switch (error.code) {
      case grpc.status.UNAVAILABLE:
      case grpc.status.DEADLINE_EXCEEDED:
        return new RayfleetError('RAY_UNREACHABLE', `cannot reach Ray's GCS at ${this.address} (${method}): ${detail}`, { cause: error });
      case grpc.status.UNAUTHENTICATED:
      case grpc.status.PERMISSION_DENIED:
        return new RayfleetError('RAY_REQUEST_FAILED', `Ray's GCS at ${this.address} refused ${method}: the auth token is missing or wrong (${detail})`, { cause: error });
      default:
        return new RayfleetError('RAY_REQUEST_FAILED', `Ray's GCS at ${this.address} failed ${method}: ${detail}`, { cause: error });
    }
  }
}

// AutoscalingState as @grpc/proto-loader decodes it (keepCase, int64 as strings, defaults filled).
interface RawAutoscalingState {
  last_seen_cluster_resource_state_version: string;
  autoscaler_state_version: string;
  pending_instance_requests: Array<{ instance_type_name: string; ray_node_type_name: string; count: number; request_ts: string }>;
  infeasible_resource_requests: Array<{ resources_bundle: Record<string, number> }>;
  pending_instances: Array<{ instance_type_name: string; ray_node_type_name: string; instance_id: string; ip_address: string; details: string }>;
  failed_instance_requests: Array<{ instance_type_name: string; ray_node_type_name: string; count: number; reason: string; start_ts: string; failed_ts: string }>;
}

function toAutoscalingState(raw: RawAutoscalingState | null): AutoscalingState {
  if (raw === null) return { lastSeenClusterResourceStateVersion: 0, autoscalerStateVersion: 0, pendingInstanceRequests: [], pendingInstances: [], failedInstanceRequests: [], infeasibleRequests: [] };
  return {
    lastSeenClusterResourceStateVersion: Number(raw.last_seen_cluster_resource_state_version),
    autoscalerStateVersion: Number(raw.autoscaler_state_version),
    pendingInstanceRequests: raw.pending_instance_requests.map((request) => ({
      nodeTypeName: request.ray_node_type_name,
      count: request.count,
      requestedAtSeconds: Number(request.request_ts),
    })),
    pendingInstances: raw.pending_instances.map((instance) => ({ nodeTypeName: instance.ray_node_type_name, instanceId: instance.instance_id, details: instance.details })),
    failedInstanceRequests: raw.failed_instance_requests.map((failure) => ({
      nodeTypeName: failure.ray_node_type_name,
      count: failure.count,
      reason: failure.reason,
      startedAtSeconds: Number(failure.start_ts),
      failedAtSeconds: Number(failure.failed_ts),
    })),
    infeasibleRequests: raw.infeasible_resource_requests.map((request) => ({ ...request.resources_bundle })),
  };
}

/** Our node types are Ray's node types and the instance types at once: rayfleet has no separate machine catalogue. */
function fromAutoscalingState(state: AutoscalingState): object {
  return {
    last_seen_cluster_resource_state_version: String(state.lastSeenClusterResourceStateVersion),
    autoscaler_state_version: String(state.autoscalerStateVersion),
    pending_instance_requests: state.pendingInstanceRequests.map((request) => ({
      instance_type_name: request.nodeTypeName,
      ray_node_type_name: request.nodeTypeName,
      count: request.count,
      request_ts: String(request.requestedAtSeconds),
    })),
    pending_instances: state.pendingInstances.map((instance) => ({
      instance_type_name: instance.nodeTypeName,
      ray_node_type_name: instance.nodeTypeName,
      instance_id: instance.instanceId,
      details: instance.details,
    })),
    failed_instance_requests: state.failedInstanceRequests.map((failure) => ({
      instance_type_name: failure.nodeTypeName,
      ray_node_type_name: failure.nodeTypeName,
      count: failure.count,
      reason: failure.reason,
      start_ts: String(failure.startedAtSeconds),
      failed_ts: String(failure.failedAtSeconds),
    })),
    infeasible_resource_requests: state.infeasibleRequests.map((shape) => ({ resources_bundle: shape })),
  };
}
