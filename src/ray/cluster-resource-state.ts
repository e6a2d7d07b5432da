// What Ray's GCS says about the cluster, in rayfleet's terms, converted from the decoded protobuf messages.

export type RayNodeStatus = 'RUNNING' | 'IDLE' | 'DRAINING' | 'DEAD' | 'UNSPECIFIED';

/** A map of resource names to amounts: `{ CPU: 1, GPU: 0.5, memory: 1e9 }`. */
export type ResourceShape = Record<string, number>;

export interface RayNodeState {
  /** Hex of the 28-byte node id. */
  nodeId: string;
  /** RAY_CLOUD_INSTANCE_ID of the node: its rayfleet name. */
  instanceId: string;
  /** RAY_NODE_TYPE_NAME of the node: its group. */
  nodeTypeName: string;
  status: RayNodeStatus;
  idleMs: number;
  totalResources: ResourceShape;
  availableResources: ResourceShape;
  ipAddress: string;
  /** Why the node is not idle, in Ray's words. */
  activity: string[];
  labels: Record<string, string>;
}

export interface PlacementConstraint {
  antiAffinity?: { label: string; value: string };
  affinity?: { label: string; value: string };
}

export interface ResourceRequest {
  shape: ResourceShape;
  constraints: PlacementConstraint[];
}

export interface PendingRequest extends ResourceRequest {
  count: number;
}

/** A placement group's unplaced bundles, which must be placed together. */
export interface GangRequest {
  details: string;
  bundles: ResourceRequest[];
}

export interface ClusterResourceState {
  version: number;
  sessionName: string;
  nodeStates: RayNodeState[];
  pendingRequests: PendingRequest[];
  pendingGangs: GangRequest[];
  /** `request_resources()` constraints: each a set of shapes the cluster must be able to hold at once. */
  constraints: PendingRequest[][];
}

// The decoded messages, as @grpc/proto-loader gives them with keepCase, longs as strings, enums as strings and defaults.
export interface RawLabelPair {
  label_name: string;
  label_value: string;
}
export interface RawPlacementConstraint {
  anti_affinity?: RawLabelPair | null;
  affinity?: RawLabelPair | null;
}
export interface RawResourceRequest {
  resources_bundle: Record<string, number>;
  placement_constraints: RawPlacementConstraint[];
}
export interface RawResourceRequestByCount {
  request: RawResourceRequest | null;
  count: string;
}
export interface RawGangResourceRequest {
  requests: RawResourceRequest[];
  details: string;
  bundle_selectors: Array<{ resource_requests: RawResourceRequest[] }>;
}
export interface RawNodeState {
  node_id: Buffer;
  instance_id: string;
  ray_node_type_name: string;
  available_resources: Record<string, number>;
  total_resources: Record<string, number>;
  status: string;
  idle_duration_ms: string;
  node_ip_address: string;
  node_activity: string[];
  labels: Record<string, string>;
}
export interface RawClusterResourceState {
  cluster_resource_state_version: string;
  node_states: RawNodeState[];
  pending_resource_requests: RawResourceRequestByCount[];
  pending_gang_resource_requests: RawGangResourceRequest[];
  cluster_resource_constraints: Array<{ resource_requests: RawResourceRequestByCount[] }>;
  cluster_session_name: string;
}

const STATUSES: ReadonlySet<string> = new Set(['RUNNING', 'IDLE', 'DRAINING', 'DEAD']);

export function toClusterResourceState(raw: RawClusterResourceState | null | undefined): ClusterResourceState {
  if (raw === null || raw === undefined) return { version: 0, sessionName: '', nodeStates: [], pendingRequests: [], pendingGangs: [], constraints: [] };
  return {
    version: Number(raw.cluster_resource_state_version),
    sessionName: raw.cluster_session_name,
    nodeStates: raw.node_states.map(toNodeState),
    pendingRequests: raw.pending_resource_requests.map(toPendingRequest),
    // Ray appends a gang entry before it checks the group's state: an entry without bundles is no demand.
    pendingGangs: raw.pending_gang_resource_requests.map(toGang).filter((gang) => gang.bundles.length > 0),
    constraints: raw.cluster_resource_constraints.map((constraint) => constraint.resource_requests.map(toPendingRequest)),
  };
}

export function toNodeState(raw: RawNodeState): RayNodeState {
  return {
    nodeId: Buffer.from(raw.node_id).toString('hex'),
    instanceId: raw.instance_id,
    nodeTypeName: raw.ray_node_type_name,
    status: STATUSES.has(raw.status) ? (raw.status as RayNodeStatus) : 'UNSPECIFIED',
    idleMs: Number(raw.idle_duration_ms),
    totalResources: { ...raw.total_resources },
    availableResources: { ...raw.available_resources },
    ipAddress: raw.node_ip_address,
    activity: [...raw.node_activity],
    labels: { ...raw.labels },
  };
}

function toRequest(raw: RawResourceRequest | null): ResourceRequest {
  return {
    shape: { ...(raw?.resources_bundle ?? {}) },
    constraints: (raw?.placement_constraints ?? []).map((constraint) => {
      const view: PlacementConstraint = {};
      if (constraint.anti_affinity) view.antiAffinity = { label: constraint.anti_affinity.label_name, value: constraint.anti_affinity.label_value };
      if (constraint.affinity) view.affinity = { label: constraint.affinity.label_name, value: constraint.affinity.label_value };
      return view;
    }),
  };
}

function toPendingRequest(raw: RawResourceRequestByCount): PendingRequest {
  return { ...toRequest(raw.request), count: Number(raw.count) };
}

function toGang(raw: RawGangResourceRequest): GangRequest {
  // Newer Ray fills bundle_selectors and keeps the deprecated requests; prefer the selector when present.
  const selected = raw.bundle_selectors[0]?.resource_requests;
  const requests = selected !== undefined && selected.length > 0 ? selected : raw.requests;
  return { details: raw.details, bundles: requests.map(toRequest) };
}
