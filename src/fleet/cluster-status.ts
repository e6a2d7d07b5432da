// A cluster's state at one instant: each node as its provider sees it, joined with what Ray's GCS says of it.
import type { RayNodeState } from '../ray/gcs-client.js';
import type { Instance, InstanceState, NodeRole } from '../providers/node-provider.js';
import { messageOf } from '../errors.js';
import { countGroups, type GroupCount } from '../watcher/group-counts.js';
import { joinWorkers } from '../watcher/observe.js';
import type { ClusterHandle } from './cluster-handle.js';
import type { ClusterPorts } from './cluster-record.js';
import type { ClusterSpec } from '../spec/schema.js';
import { listAccountingForAll } from '../providers/partial-list-error.js';
import type { OrphanProcess } from '../providers/orphan-process.js';
import { findOrphans } from './orphan-sweep.js';

export interface RayView {
  nodeId: string;
  status: RayNodeState['status'];
  idleMs: number;
  /** Total resources of the node. */
  resources: Record<string, number>;
  available: Record<string, number>;
}

export interface NodeStatus {
  name: string;
  role: NodeRole;
  group: string;
  index: number;
  state: InstanceState;
  providerId: string;
  address: string | undefined;
  createdAt: string;
  /** Null when Ray does not know the node (not registered yet, or Ray could not be asked). */
  ray: RayView | null;
}

export interface ClusterTotals {
  nodes: number;
  /** Nodes alive in Ray. */
  alive: number;
  resources: Record<string, number>;
  available: Record<string, number>;
}

export interface ClusterStatus {
  cluster: string;
  provider: string;
  /** The GCS address drivers and workers use. */
  address: string;
  dashboardUrl: string;
  /** Ray Serve's HTTP proxy. */
  serveUrl: string;
  /** The head's ports as chosen at `up`, and a Docker head's published offset. */
  ports: ClusterPorts;
  /** Why Ray's view is missing, when it is. */
  rayError: string | undefined;
  /** Which nodes the provider could not read now and why (an SSH host that does not answer): they are listed `unknown`. */
  providerError?: string | undefined;
  nodes: NodeStatus[];
  /** Nodes alive in Ray that no instance of this cluster accounts for. */
  unmanaged: RayView[];
  /** Processes carrying this cluster's id that no node record accounts for: the watcher and `down` stop them. */
  orphans?: OrphanProcess[] | undefined;
  /** An outage, said plainly: the head's Ray is gone (its node stopped or failed) and the GCS does not answer. */
  headDown?: string | undefined;
  totals: ClusterTotals;
  /** Each worker group's workers by phase, counted as the watcher counts them. */
  groups: GroupCount[];
}

/**
 * Joins instances and Ray nodes by the instance id rayfleet set on each node (never by IP).
 * A name can appear twice in Ray after a worker was replaced; the live node wins over the dead one.
 */
export function joinNodes(instances: Instance[], rayNodes: RayNodeState[] | undefined): Pick<ClusterStatus, 'nodes' | 'unmanaged' | 'totals'> {
  const known = rayNodes ?? [];
  const byInstance = new Map<string, RayNodeState>();
  for (const node of known) {
    const previous = byInstance.get(node.instanceId);
    if (previous === undefined || (previous.status === 'DEAD' && node.status !== 'DEAD')) byInstance.set(node.instanceId, node);
  }
  const names = new Set(instances.map((instance) => instance.name));
  const nodes = instances.map((instance): NodeStatus => {
    const rayNode = byInstance.get(instance.name);
    return {
      name: instance.name,
      role: instance.role,
      group: instance.group,
      index: instance.index,
      state: instance.state,
      providerId: instance.providerId,
      address: instance.address,
      createdAt: instance.createdAt.toISOString(),
      ray: rayNode === undefined ? null : toRayView(rayNode),
    };
  });
  const alive = known.filter((node) => node.status !== 'DEAD');
  return {
    nodes,
    unmanaged: alive.filter((node) => !names.has(node.instanceId)).map(toRayView),
    totals: {
      nodes: instances.length,
      alive: alive.length,
      resources: sumResources(alive.map((node) => node.totalResources)),
      available: sumResources(alive.map((node) => node.availableResources)),
    },
  };
}

function toRayView(node: RayNodeState): RayView {
  return { nodeId: node.nodeId, status: node.status, idleMs: node.idleMs, resources: node.totalResources, available: node.availableResources };
}

function sumResources(maps: Array<Record<string, number>>): Record<string, number> {
  const total: Record<string, number> = {};
  for (const map of maps) {
    for (const [name, amount] of Object.entries(map)) {
      // Per-node and placement-group resources (node:<ip>, CPU_group_<id>) say nothing about cluster capacity.
      if (name.startsWith('node:') || name.includes('_group_')) continue;
      total[name] = (total[name] ?? 0) + amount;
    }
  }
  return total;
}

/** Each node as the provider sees it beside what Ray's GCS says of it; Ray's silence is reported, not fatal. */
export async function readClusterStatus(cluster: ClusterHandle, signal?: AbortSignal): Promise<ClusterStatus> {
  const provider = await cluster.provider();
  // Nodes it could not read but accounts for are shown `unknown`, with why; a list that lost nodes it cannot name fails.
  const { instances, partial } = await listAccountingForAll(() => provider.list(signal));
  let rayNodes: RayNodeState[] | undefined;
  let rayError: string | undefined;
  try {
    rayNodes = await cluster.connection.rayNodes(signal);
  } catch (error) {
    rayError = messageOf(error);
  }
  const endpoints = await cluster.connection.endpoints(signal).catch(() => undefined);
  return {
    cluster: cluster.name,
    provider: cluster.spec.provider.type,
    address: endpoints?.gcsAddress ?? 'unknown',
    dashboardUrl: endpoints?.dashboardUrl ?? 'unknown',
    serveUrl: endpoints?.serveUrl ?? 'unknown',
    ports: cluster.savedRecord.ports,
    rayError,
    ...(partial === undefined ? {} : { providerError: partial.unreadable.map((node) => `${node.name}: ${node.reason}`).join('; ') }),
    ...joinNodes(instances, rayNodes),
    groups: countGroups(cluster.spec.workerGroups, joinWorkers(instances, rayNodes)),
    orphans: await findOrphans({ provider: () => cluster.provider(), clusterId: cluster.savedRecord.clusterId }, signal),
    ...headDownOf(cluster.spec, instances, rayError),
  };
}

/** The head is down when the provider has its node stopped or failed and Ray cannot be asked; what happens next depends on the spec. */
export function headDownOf(spec: ClusterSpec, instances: Instance[], rayError: string | undefined): Pick<ClusterStatus, 'headDown'> {
  const head = instances.find((instance) => instance.role === 'head');
  if (rayError === undefined || head === undefined || (head.state !== 'stopped' && head.state !== 'failed')) return {};
  const next = spec.head.faultTolerance === true ? 'a running watcher starts it again on its address and ports, as does `rayfleet up` (head.faultTolerance)' : '`rayfleet up` starts a new head (head.faultTolerance is off: workers and state are lost)';
  return { headDown: `the head ${head.name} is ${head.state}: its Ray is gone; ${next}` };
}
