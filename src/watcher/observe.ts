// One look at the cluster: the provider's list joined with Ray's nodes and demand, from the GCS or, failing that, the dashboard.
import { messageOf } from '../errors.js';
import type { ClusterResourceState, GangRequest, RayNodeState, ResourceShape } from '../ray/cluster-resource-state.js';
import type { DashboardClient } from '../ray/dashboard-client.js';
import type { GcsClient } from '../ray/gcs-client.js';
import type { Instance, NodeProvider } from '../providers/node-provider.js';
import { nodeResourcesOf } from '../providers/node-resources.js';
import { listAccountingForAll } from '../providers/partial-list-error.js';
import type { WorkerGroupSpec } from '../spec/schema.js';
import type { Demand, DemandSource, GangDemand, Observation, WorkerPhase, WorkerView } from './observation.js';
import { groupCapacity } from './resource-shapes.js';

export interface ObserveDeps {
  provider: NodeProvider;
  gcs: Pick<GcsClient, 'getClusterResourceState'>;
  dashboard: Pick<DashboardClient, 'clusterStatus'>;
  headName: string;
  /** The group the CPU heuristic asks one more node of. */
  defaultGroup: WorkerGroupSpec;
  /** The groups whose room on the provider's machines is asked, where the provider says it. */
  groups?: readonly WorkerGroupSpec[];
  now?: () => number;
}

/** The old watcher's rule, kept as the last resort: CPUs this busy mean one more worker. */
const CPU_BUSY_RATIO = 0.9;

export async function observeCluster(deps: ObserveDeps, signal?: AbortSignal): Promise<Observation> {
  const problems: string[] = [];
  let instances: Instance[] = [];
  let providerOk = true;
  try {
    const listed = await listAccountingForAll(() => deps.provider.list(signal));
    instances = listed.instances;
    // Nodes it could not read but accounts for (an SSH host that does not answer): the tick goes on around them.
    if (listed.partial !== undefined) problems.push(`provider: ${listed.partial.unreadable.map((node) => `${node.name}: ${node.reason}`).join('; ')}`);
  } catch (error) {
    providerOk = false;
    problems.push(`provider: ${messageOf(error)}`);
  }
  let state: ClusterResourceState | undefined;
  try {
    state = await deps.gcs.getClusterResourceState({ signal });
  } catch (error) {
    problems.push(`GCS: ${messageOf(error)}`);
  }
  let source: DemandSource = 'gcs';
  let demand: Demand = { shapes: [], gangs: [], constraints: [] };
  if (state !== undefined) {
    demand = demandFromGcs(state);
  } else {
    const fallback = await demandFromDashboard(deps, signal);
    source = fallback.source;
    demand = fallback.demand;
    if (fallback.problem !== undefined) problems.push(fallback.problem);
  }
  const head = state?.nodeStates.find((node) => node.instanceId === deps.headName && node.status !== 'DEAD');
  const providerRoom = providerOk ? await roomOnProvider(deps, problems, signal) : undefined;
  return {
    atMs: (deps.now ?? Date.now)(),
    source,
    workers: joinWorkers(instances, state?.nodeStates),
    headAvailable: head?.availableResources ?? {},
    headTotal: head?.totalResources ?? {},
    headState: instances.find((instance) => instance.role === 'head')?.state,
    demand,
    providerOk,
    rayOk: state !== undefined,
    problems,
    ...(providerRoom === undefined ? {} : { providerRoom }),
  };
}

/** Each group's room on a provider whose machines are few and fixed; undefined for a provider that does not say. */
async function roomOnProvider(deps: ObserveDeps, problems: string[], signal: AbortSignal | undefined): Promise<Record<string, number> | undefined> {
  const { provider, groups } = deps;
  if (provider.roomFor === undefined || groups === undefined) return undefined;
  try {
    const room: Record<string, number> = {};
    for (const group of groups) room[group.name] = await provider.roomFor(nodeResourcesOf(group), group.max, signal);
    return room;
  } catch (error) {
    problems.push(`provider's room: ${messageOf(error)}`);
    return undefined;
  }
}

/** The workers as the provider lists them, each joined with Ray's view of it (`undefined` when Ray could not be asked). */
export function joinWorkers(instances: readonly Instance[], rayNodes: readonly RayNodeState[] | undefined): WorkerView[] {
  const known = rayNodes ?? [];
  // One lookup per instance: a cluster of 10,000 nodes would make searching the list for each a tick's whole cost.
  const alive = new Map<string, RayNodeState>();
  for (const node of known) if (node.status !== 'DEAD' && !alive.has(node.instanceId)) alive.set(node.instanceId, node);
  const deadIds = new Set(known.filter((node) => node.status === 'DEAD').map((node) => node.instanceId));
  return instances.filter((instance) => instance.role === 'worker').map((instance) => joinWorker(instance, alive, rayNodes !== undefined, deadIds));
}

/**
 * A worker as the provider and Ray see it together. Ray's word that a node is alive wins over the provider's that
 * it ended (on local, a leader process that died leaves its raylet running): such a node is still registered, marked
 * `providerEnded`, and leaves through a drain; only a node Ray does not show alive is dead.
 */
function joinWorker(instance: Instance, alive: Map<string, RayNodeState>, rayKnown: boolean, deadIds: Set<string>): WorkerView {
  const ended = instance.state === 'stopped' || instance.state === 'failed' ? instance.state : undefined;
  const node = alive.get(instance.name);
  let phase: WorkerPhase = 'launching';
  let leftRay: boolean | undefined;
  let ray: WorkerView['ray'];
  if (node === undefined) {
    if (ended !== undefined) phase = 'dead';
    else if (instance.state === 'unknown') phase = 'unknown';
    // Without Ray's view a running node may well be registered; calling it launching keeps it counted, never cleaned.
    else if (!rayKnown) phase = 'registered';
    else if (deadIds.has(instance.name)) leftRay = true;
  } else {
    phase = node.status === 'DRAINING' ? 'draining' : 'registered';
    ray = { nodeId: node.nodeId, idle: node.status === 'IDLE', idleMs: node.idleMs, total: node.totalResources, available: node.availableResources, labels: node.labels };
  }
  // Every view has every field, in one order: one object shape for the 10,000 the planner and the watcher read each tick.
  return {
    name: instance.name,
    group: instance.group,
    index: instance.index,
    phase,
    createdAtMs: instance.createdAt.getTime(),
    registeredAtMs: undefined,
    providerEnded: node === undefined ? undefined : ended,
    leftRay,
    ray,
  };
}

export function demandFromGcs(state: ClusterResourceState): Demand {
  return {
    shapes: state.pendingRequests.map((request) => ({ shape: request.shape, count: request.count })),
    gangs: state.pendingGangs.map(toGang),
    constraints: state.constraints.flat().map((request) => ({ shape: request.shape, count: request.count })),
  };
}

function toGang(gang: GangRequest): GangDemand {
  const constraints = gang.bundles.flatMap((bundle) => bundle.constraints);
  const spread = constraints.find((constraint) => constraint.antiAffinity !== undefined)?.antiAffinity;
  const pack = constraints.find((constraint) => constraint.affinity !== undefined)?.affinity;
  return {
    id: spread?.label ?? pack?.label ?? gang.details,
    strategy: spread !== undefined ? 'STRICT_SPREAD' : pack !== undefined ? 'STRICT_PACK' : 'ANY',
    bundles: gang.bundles.map((bundle) => bundle.shape),
  };
}

interface DashboardLoad {
  data?: { clusterStatus?: { loadMetricsReport?: { resourceDemand?: Array<[ResourceShape, number]>; usage?: Record<string, [number, number]> } } | null };
}

/** The dashboard's last autoscaler report: its demand by shape if it has one, else the old CPU-utilisation rule. */
async function demandFromDashboard(deps: ObserveDeps, signal: AbortSignal | undefined): Promise<{ source: DemandSource; demand: Demand; problem?: string }> {
  const none: Demand = { shapes: [], gangs: [], constraints: [] };
  let report: DashboardLoad;
  try {
    report = (await deps.dashboard.clusterStatus(signal)) as DashboardLoad;
  } catch (error) {
    return { source: 'cpu-heuristic', demand: none, problem: `dashboard: ${messageOf(error)}` };
  }
  const load = report.data?.clusterStatus?.loadMetricsReport;
  if (load?.resourceDemand !== undefined && load.resourceDemand.length > 0) {
    return { source: 'dashboard', demand: { ...none, shapes: load.resourceDemand.map(([shape, count]) => ({ shape, count })) } };
  }
  const [used, total] = load?.usage?.CPU ?? [0, 0];
  if (total > 0 && used / total >= CPU_BUSY_RATIO) {
    const { CPU, GPU } = groupCapacity(deps.defaultGroup);
    return { source: 'cpu-heuristic', demand: { ...none, shapes: [{ shape: GPU === undefined ? { CPU: CPU ?? 1 } : { CPU: CPU ?? 1, GPU }, count: 1 }] } };
  }
  return { source: load === undefined ? 'cpu-heuristic' : 'dashboard', demand: none };
}
