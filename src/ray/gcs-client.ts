// A client of Ray's GCS AutoscalerStateService over gRPC: the cluster's nodes and demand, and draining a node.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { RayfleetError, messageOf } from '../errors.js';
import { toClusterResourceState, type ClusterResourceState, type RawClusterResourceState } from './cluster-resource-state.js';

export type { ClusterResourceState, RayNodeState, RayNodeStatus, PendingRequest, GangRequest, ResourceShape } from './cluster-resource-state.js';

export interface GcsClientOptions {
  /** host:port of the GCS. */
  address: string;
  /** Ray's auth token, sent as `authorization: Bearer …` on every call. */
  authToken?: string | undefined;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  deadlineMs?: number | undefined;
}

export type DrainReason = 'IDLE_TERMINATION' | 'PREEMPTION';

export interface DrainResult {
  accepted: boolean;
  rejectionReason: string;
}

/** The autoscaler state rayfleet reports so `ray status` can show pending and failed launches. */
export interface AutoscalingStateReport {
  lastSeenClusterResourceStateVersion: number;
  autoscalerStateVersion: number;
  pendingInstanceRequests: Array<{ nodeTypeName: string; count: number; requestedAtSeconds: number }>;
  pendingInstances: Array<{ nodeTypeName: string; instanceId: string; details: string }>;
  failedInstanceRequests: Array<{ nodeTypeName: string; count: number; reason: string; startedAtSeconds: number; failedAtSeconds: number }>;
  infeasibleRequests: Array<Record<string, number>>;
}

const PROTO_PATH = fileURLToPath(new URL('../../proto/autoscaler.proto', import.meta.url));
const DEFAULT_DEADLINE_MS = 5_000;
/** Dead nodes accumulate in the GCS's replies; Ray itself allows messages this large. */
const MAX_MESSAGE_BYTES = 512 * 1024 * 1024;

type UnaryMethod = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, reply: unknown) => void) => grpc.ClientUnaryCall;
type ServiceClient = grpc.Client & Record<string, UnaryMethod>;
type ServiceConstructor = new (address: string, credentials: grpc.ChannelCredentials, options: grpc.ClientOptions) => ServiceClient;

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

  constructor(options: GcsClientOptions) {
    this.address = options.address;
    const Service = loadService();
    this.client = new Service(options.address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      // Fail a call fast when the GCS is down instead of waiting out the deadline for a connection.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
    });
    this.metadata = new grpc.Metadata();
    if (options.authToken !== undefined) this.metadata.set('authorization', `Bearer ${options.authToken}`);
  }

  /** Nodes and demand now. Always asks with version 0: a larger version than the GCS's aborts the GCS. */
  async getClusterResourceState(options: CallOptions = {}): Promise<ClusterResourceState> {
    const reply = await this.call<{ cluster_resource_state: RawClusterResourceState | null }>('GetClusterResourceState', { last_seen_cluster_resource_state_version: '0' }, options);
    return toClusterResourceState(reply.cluster_resource_state);
  }

  /** The resource state with the autoscaling state last reported to the GCS (what `ray status` prints). */
  async getClusterStatus(options: CallOptions = {}): Promise<{ resourceState: ClusterResourceState; autoscalingState: unknown }> {
    const reply = await this.call<{ cluster_resource_state: RawClusterResourceState | null; autoscaling_state: unknown }>('GetClusterStatus', {}, options);
    return { resourceState: toClusterResourceState(reply.cluster_resource_state), autoscalingState: reply.autoscaling_state };
  }

  /** Asks Ray to drain a node. IDLE_TERMINATION is refused by a busy node; PREEMPTION never is. */
  async drainNode(nodeIdHex: string, reason: DrainReason, message: string, options: CallOptions & { drainDeadlineMs?: number } = {}): Promise<DrainResult> {
    const reply = await this.call<{ is_accepted: boolean; rejection_reason_message: string }>(
      'DrainNode',
      {
        node_id: Buffer.from(nodeIdHex, 'hex'),
        reason: `DRAIN_NODE_REASON_${reason}`,
        reason_message: message,
        deadline_timestamp_ms: String(options.drainDeadlineMs ?? 0),
      },
      options,
    );
    return { accepted: reply.is_accepted, rejectionReason: reply.rejection_reason_message };
  }

  async reportAutoscalingState(report: AutoscalingStateReport, options: CallOptions = {}): Promise<void> {
    await this.call('ReportAutoscalingState', {
      autoscaling_state: {
        last_seen_cluster_resource_state_version: String(report.lastSeenClusterResourceStateVersion),
        autoscaler_state_version: String(report.autoscalerStateVersion),
        pending_instance_requests: report.pendingInstanceRequests.map((request) => ({
          instance_type_name: request.nodeTypeName,
          ray_node_type_name: request.nodeTypeName,
          count: request.count,
          request_ts: String(request.requestedAtSeconds),
        })),
        pending_instances: report.pendingInstances.map((instance) => ({
          instance_type_name: instance.nodeTypeName,
          ray_node_type_name: instance.nodeTypeName,
          instance_id: instance.instanceId,
          details: instance.details,
        })),
        failed_instance_requests: report.failedInstanceRequests.map((failure) => ({
          instance_type_name: failure.nodeTypeName,
          ray_node_type_name: failure.nodeTypeName,
          count: failure.count,
          reason: failure.reason,
          start_ts: String(failure.startedAtSeconds),
          failed_ts: String(failure.failedAtSeconds),
        })),
        infeasible_resource_requests: report.infeasibleRequests.map((shape) => ({ resources_bundle: shape })),
      },
    }, options);
  }

  /** What `ray.autoscaler.sdk.request_resources()` does: replaces the cluster's one standing constraint. */
  async requestClusterResourceConstraint(shapes: Array<{ shape: Record<string, number>; count: number }>, options: CallOptions = {}): Promise<void> {
    await this.call('RequestClusterResourceConstraint', {
      cluster_resource_constraint: { resource_requests: shapes.map(({ shape, count }) => ({ request: { resources_bundle: shape }, count: String(count) })) },
    }, options);
  }

  close(): void {
    this.client.close();
  }

  private call<T>(method: string, request: object, options: CallOptions): Promise<T> {
    options.signal?.throwIfAborted();
    const unary = this.client[method];
    if (unary === undefined) throw new RayfleetError('RAY_REQUEST_FAILED', `the GCS client has no method ${method}`);
    return new Promise<T>((resolve, reject) => {
      const deadline = new Date(Date.now() + (options.deadlineMs ?? DEFAULT_DEADLINE_MS));
      const call = unary.call(this.client, request, this.metadata, { deadline }, (error, reply) => {
        options.signal?.removeEventListener('abort', cancel);
        if (error === null) resolve(reply as T);
        else reject(this.toError(method, error));
      });
      const cancel = (): void => call.cancel();
      options.signal?.addEventListener('abort', cancel, { once: true });
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
