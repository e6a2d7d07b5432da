// A ClusterControl with one made-up cluster and no Ray: the page's data for browser tests and screenshots of its views.
import type { ClusterStatus, NodeStatus } from '../../src/fleet/cluster-status.js';
import type { ClusterControl, ClusterSnapshot, JournalEventAnswer, WatcherAnswer, WatcherSettingsChange } from '../../src/server/cluster-control.js';
import { resample, type HistoryPoint, type HistoryQuery, type HistoryWindow } from '../../src/watcher/observation-history.js';

const MINUTE_MS = 60_000;
/** How long ago this cluster came up; an earlier cluster of the same name ran hours before it, as a reused name leaves. */
export const UP_AGO_MS = 4 * MINUTE_MS;
const EARLIER_CLUSTER_AGO_MS = 3 * 60 * MINUTE_MS;
const EARLIER_CLUSTER_RAN_MS = 20 * MINUTE_MS;
const POINT_EVERY_MS = 5000;
/** The cluster's groups with their workers by phase, as status and the watcher count them. */
const GROUPS = [
  { name: 'worker', min: 1, max: 5, registered: 2, launching: 0, draining: 0, dead: 0, unknown: 0 },
  { name: 'gpu', min: 0, max: 2, registered: 0, launching: 0, draining: 0, dead: 0, unknown: 0 },
];

function worker(name: string, index: number, idleMs: number, cpuUsed: number, createdAt: string): NodeStatus {
  return {
    name,
    role: 'worker',
    group: 'worker',
    index,
    state: 'running',
    providerId: `pid-${index}`,
    address: `127.0.0.1`,
    createdAt,
    ray: { nodeId: `node-${index}`, status: idleMs > 0 ? 'IDLE' : 'RUNNING', idleMs, resources: { CPU: 1, memory: 2 ** 31 }, available: { CPU: 1 - cpuUsed, memory: 2 ** 30 } },
  };
}

/** The history: the earlier cluster's one `big` group for 20 minutes, then this cluster's workers rising with demand. */
function historyPoints(nowMs: number): HistoryPoint[] {
  const points: HistoryPoint[] = [];
  const earlierStart = nowMs - EARLIER_CLUSTER_AGO_MS;
  for (let at = earlierStart; at < earlierStart + EARLIER_CLUSTER_RAN_MS; at += POINT_EVERY_MS) {
    points.push({ atMs: at, values: { 'nodes/big/registered': 4, 'demand/CPU:4': at < earlierStart + 2 * MINUTE_MS ? 4 : 0 } });
  }
  const upAt = nowMs - UP_AGO_MS;
  for (let at = upAt; at <= nowMs; at += POINT_EVERY_MS) {
    const sinceUp = at - upAt;
    const launching = sinceUp > MINUTE_MS && sinceUp < 2 * MINUTE_MS ? 1 : 0;
    const registered = sinceUp < MINUTE_MS ? 1 : sinceUp < 2 * MINUTE_MS ? 1 : 2;
    points.push({ atMs: at, values: { 'nodes/worker/registered': registered, 'nodes/worker/launching': launching, 'nodes/gpu/registered': 0, 'demand/CPU:1': sinceUp > 50_000 && sinceUp < 2.5 * MINUTE_MS ? 3 : 0 } });
  }
  return points;
}

export class StandInClusterControl implements ClusterControl {
  readonly name = 'ray';
  /** Every history window the page asked for, in order. */
  readonly historyQueries: Array<Partial<HistoryQuery>> = [];
  /** Every live change the page sent. */
  readonly settingsChanges: WatcherSettingsChange[] = [];
  private readonly startedMs = Date.now();
  private readonly points = historyPoints(this.startedMs);
  private readonly upAt = new Date(this.startedMs - UP_AGO_MS).toISOString();

  async listClusters() {
    return [
      {
        name: this.name,
        provider: 'local',
        nodes: { alive: 3, total: 3 },
        pendingDemand: 0,
        watcher: { running: true, pid: 4242, paused: false, lastTickAt: new Date().toISOString(), source: 'gcs', problems: [] },
        rayDashboardUrl: 'http://127.0.0.1:8265',
        error: null,
      },
    ];
  }

  async status(): Promise<ClusterStatus> {
    const head: NodeStatus = {
      name: 'ray-head',
      role: 'head',
      group: 'head',
      index: 0,
      state: 'running',
      providerId: 'pid-0',
      address: '127.0.0.1',
      createdAt: this.upAt,
      ray: { nodeId: 'node-0', status: 'RUNNING', idleMs: 0, resources: { CPU: 1, memory: 2 ** 31 }, available: { CPU: 1, memory: 2 ** 31 } },
    };
    return {
      cluster: this.name,
      provider: 'local',
      address: '127.0.0.1:6379',
      dashboardUrl: 'http://127.0.0.1:8265',
      serveUrl: 'http://127.0.0.1:8000',
      ports: { gcsPort: 6379, dashboardPort: 8265, clientPort: 10001, servePort: 8000, portOffset: 0 },
      rayError: undefined,
      nodes: [head, worker('ray-worker-1', 1, 0, 1, this.upAt), worker('ray-worker-2', 2, 95_000, 0, this.upAt)],
      unmanaged: [],
      groups: GROUPS,
      totals: { nodes: 3, alive: 3, resources: { CPU: 3 }, available: { CPU: 2 } },
    };
  }

  async groups() {
    return { groups: (await this.watcher()).groups, countedBy: 'watcher' as const };
  }

  async demand() {
    return { observedAt: new Date().toISOString(), source: 'gcs', shapes: [], gangs: [], constraints: [], infeasible: [], withheld: [] };
  }

  async history(_cluster: string, query: Partial<HistoryQuery>): Promise<HistoryWindow> {
    this.historyQueries.push(query);
    const untilMs = query.untilMs ?? Date.now();
    return resample(this.points, { sinceMs: query.sinceMs ?? untilMs - 60 * MINUTE_MS, untilMs, stepMs: query.stepMs });
  }

  async events() {
    const at = (agoMs: number): string => new Date(this.startedMs - agoMs).toISOString();
    const events: JournalEventAnswer[] = [
      { id: '1', type: 'cluster-up', time: at(EARLIER_CLUSTER_AGO_MS), reason: 'ray up with 4 new worker(s)' },
      { id: '2', type: 'cluster-up', time: at(UP_AGO_MS), reason: 'ray up with 1 new worker(s)' },
      { id: '3', type: 'scale-up', time: at(UP_AGO_MS - 60_000), group: 'worker', reason: '3 requests wait for CPU:1', numbers: { pending: 3 } },
      { id: '4', type: 'launch', time: at(UP_AGO_MS - 61_000), node: 'ray-worker-2', group: 'worker', reason: 'scale-up' },
      { id: '5', type: 'registered', time: at(UP_AGO_MS - 115_000), node: 'ray-worker-2', group: 'worker', reason: 'joined Ray', waitedMs: 54_000 },
    ];
    return { events, lastId: '5' };
  }

  async *followEvents(_cluster: string, _afterId: string | undefined, signal: AbortSignal): AsyncIterable<JournalEventAnswer> {
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  }

  async snapshot(): Promise<ClusterSnapshot> {
    return { status: await this.status(), statusError: null, watcher: await this.watcher() };
  }

  async addWorkers(): Promise<string[]> {
    return ['ray-worker-3'];
  }

  async removeWorker(): Promise<void> {}

  async watcher(): Promise<WatcherAnswer> {
    return {
      cluster: this.name,
      running: true,
      pid: 4242,
      paused: false,
      settings: { intervalMs: 1000, pendingThreshold: 0, cooldownMs: 0, idleTimeoutMs: 60_000, maxWorkers: 10 },
      groups: GROUPS.map((group) => ({ ...group, backoffUntil: null })),
      lastTickAt: new Date().toISOString(),
      source: 'gcs',
      problems: [],
      withheld: [],
    };
  }

  async setWatcherSettings(_cluster: string, change: WatcherSettingsChange): Promise<WatcherAnswer> {
    this.settingsChanges.push(change);
    return this.watcher();
  }

  close(): void {}
}
