// The control plane's ClusterControl over each cluster's Fleet: the API's terms mapped onto the library, nothing decided here.
import { messageOf } from '../errors.js';
import { silentLogger, type Logger } from '../log/logger.js';
import type { ClusterStatus } from '../fleet/cluster-status.js';
import type { WatcherView } from '../fleet/fleet-watcher.js';
import { clustersUpHere } from '../fleet/state-dir.js';
import { defaultGroup } from '../spec/worker-groups.js';
import type { HistoryQuery, HistoryWindow } from '../watcher/observation-history.js';
import type { ChangedBy, ClusterControl, ClusterSnapshot, ClusterSummaryView, DemandAnswer, EventsSelection, GroupListView, JournalEventAnswer, WatcherAnswer, WatcherSettingsChange } from './cluster-control.js';
import { followJournal, selectJournalEvents } from './journal-lines.js';
import { OpenClusters, type OpenClustersOptions } from './open-clusters.js';

export class FleetClusterControl implements ClusterControl {
  private readonly clusters: OpenClusters;
  private readonly logger: Logger;

  constructor(options: OpenClustersOptions = {}) {
    this.clusters = new OpenClusters(options);
    this.logger = options.logger ?? silentLogger;
  }

  async listClusters(): Promise<ClusterSummaryView[]> {
    return Promise.all((await clustersUpHere()).map((name) => this.summary(name)));
  }

  private async summary(cluster: string): Promise<ClusterSummaryView> {
    const fleet = await this.clusters.fleet(cluster);
    const watcher = await fleet.watcher.view();
    const demand = watcher.current?.demand ?? { shapes: [], gangs: [] };
    const pendingDemand = demand.shapes.reduce((sum, entry) => sum + entry.count, 0) + demand.gangs.length;
    const known = { name: cluster, provider: fleet.spec.provider.type, pendingDemand, watcher: watcherSummary(watcher) };
    try {
      const status = await this.clusters.status(cluster);
      const alive = status.nodes.filter((node) => node.ray !== null && node.ray.status !== 'DEAD').length;
      return { ...known, nodes: { alive, total: status.nodes.length }, rayDashboardUrl: status.dashboardUrl === 'unknown' ? null : status.dashboardUrl, error: status.rayError ?? null };
    } catch (error) {
      return { ...known, nodes: { alive: 0, total: 0 }, rayDashboardUrl: null, error: messageOf(error) };
    }
  }

  async status(cluster: string): Promise<ClusterStatus> {
    return this.clusters.status(cluster);
  }

  async groups(cluster: string): Promise<GroupListView> {
    return this.groupsOf(cluster, await (await this.clusters.fleet(cluster)).watcher.view());
  }

  /** As the watcher counted them at its last tick while it is current, else as the provider and Ray say now. */
  private async groupsOf(cluster: string, watcher: WatcherView): Promise<GroupListView> {
    if (watcher.groups !== undefined) return { countedBy: 'watcher', groups: watcher.groups.map((group) => ({ ...group, backoffUntil: group.backoffUntil ?? null })) };
    return { countedBy: 'status', groups: (await this.clusters.status(cluster)).groups.map((group) => ({ ...group, backoffUntil: null })) };
  }

  async demand(cluster: string): Promise<DemandAnswer> {
    const status = (await (await this.clusters.fleet(cluster)).watcher.view()).current;
    if (status === undefined) return { observedAt: null, source: null, shapes: [], gangs: [], constraints: [], infeasible: [], withheld: [] };
    return { observedAt: status.lastTickAt, source: status.source, ...status.demand, infeasible: status.infeasible, withheld: status.withheld };
  }

  async history(cluster: string, query: Partial<HistoryQuery>): Promise<HistoryWindow> {
    return this.clusters.history(cluster, query);
  }

  async events(cluster: string, selection: EventsSelection): Promise<{ events: JournalEventAnswer[]; lastId: string }> {
    return selectJournalEvents((await this.clusters.fleet(cluster)).paths.journal, selection);
  }

  async *followEvents(cluster: string, afterId: string | undefined, signal: AbortSignal): AsyncIterable<JournalEventAnswer> {
    yield* followJournal((await this.clusters.fleet(cluster)).paths.journal, afterId, signal);
  }

  async snapshot(cluster: string): Promise<ClusterSnapshot> {
    const watcher = await this.watcher(cluster);
    try {
      return { status: await this.clusters.status(cluster), statusError: null, watcher };
    } catch (error) {
      return { status: null, statusError: messageOf(error), watcher };
    }
  }

  /** The names once the provider has the launches; the stream tells when Ray has the nodes. */
  async addWorkers(cluster: string, group: string | undefined, count: number, by: ChangedBy): Promise<string[]> {
    const fleet = await this.clusters.fleet(cluster);
    const reason = `${by}: add-worker --group ${group ?? defaultGroup(fleet.spec).name} --count ${count}`;
    const launched = await fleet.addWorkers({ group, count, reason, wait: 'launched' });
    this.clusters.changed(cluster);
    const names = launched.map((instance) => instance.name);
    // Answered now; the server sees them into Ray (journaling each registration, as `add-worker` does) and stops those
    // that do not join, which the journal tells too.
    fleet.waitForWorkers(names).catch((error: unknown) => this.logger.warn({ err: error, names }, 'added workers did not join Ray'));
    return names;
  }

  async removeWorker(cluster: string, node: string, force: boolean, by: ChangedBy): Promise<void> {
    const fleet = await this.clusters.fleet(cluster);
    await fleet.removeWorker(node, { force, reason: `${by}: remove-worker${force ? ' --force' : ''}` });
    this.clusters.changed(cluster);
  }

  async watcher(cluster: string): Promise<WatcherAnswer> {
    const fleet = await this.clusters.fleet(cluster);
    const watcher = await fleet.watcher.view();
    const { intervalMs, pendingThreshold, cooldownMs, idleTimeoutMs, maxWorkers } = watcher.current?.settings ?? fleet.spec.watcher;
    return {
      cluster,
      ...watcherSummary(watcher),
      settings: { intervalMs, pendingThreshold, cooldownMs, idleTimeoutMs, maxWorkers },
      groups: (await this.groupsOf(cluster, watcher)).groups,
      withheld: watcher.current?.withheld ?? [],
    };
  }

  /** Groups and limits are checked by the library (spec-changes), as for `up`. */
  async setWatcherSettings(cluster: string, change: WatcherSettingsChange, by: ChangedBy): Promise<WatcherAnswer> {
    const { groups, ...watcher } = change;
    await (await this.clusters.fleet(cluster)).applyLiveChanges({ watcher, ...(groups === undefined ? {} : { groups }) }, by);
    this.clusters.changed(cluster);
    return this.watcher(cluster);
  }

  close(): void {
    this.clusters.close();
  }
}

function watcherSummary(watcher: WatcherView): Omit<WatcherAnswer, 'cluster' | 'settings' | 'groups' | 'withheld'> {
  return {
    running: watcher.pid !== undefined,
    pid: watcher.pid ?? null,
    paused: watcher.paused,
    lastTickAt: watcher.lastTickAt ?? null,
    source: watcher.current?.source ?? null,
    problems: watcher.current?.problems ?? [],
  };
}
