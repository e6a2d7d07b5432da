// A client of Ray's GCS AutoscalerStateService over gRPC: the cluster's nodes and demand, and draining a node.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { RayfleetError, messageOf } from '../errors.js';
import { packageFile, shippedFile } from '../package-files.js';
import type { ClusterResourceState, ResourceShape } from './cluster-resource-state.js';
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
    const detail = readableDetail(error.details || messageOf(error));
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

/**
 * grpc-js's words for a connection that failed, without what says nothing to a user: it ends them with an empty
 * "Resolution note: " and names the cause "Error: connect ECONNREFUSED …" inside its own "Last error: ".
 */
function readableDetail(detail: string): string {
  return detail.replace(/\s*Resolution note:\s*$/, '').replace(/Last error: Error: /g, 'Last error: ');
}
