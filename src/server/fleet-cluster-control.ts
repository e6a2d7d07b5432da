// The control plane's view of this machine's clusters: each one's Fleet, watcher files, journal and history under RAYFLEET_HOME.
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { RayfleetError, messageOf } from '../errors.js';
import type { ClusterStatus } from '../fleet/cluster-status.js';
import { readClusterRecord } from '../fleet/cluster-record.js';
import { Fleet } from '../fleet/fleet.js';
import { clusterPaths, clustersUpHere, rayfleetHome } from '../fleet/state-dir.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { defaultGroup } from '../spec/worker-groups.js';
import { pollUntil } from '../wait/poll-until.js';
import { ObservationHistoryReader, historyFile, type HistoryQuery, type HistoryWindow } from '../watcher/observation-history.js';
import { runningWatcherPid } from '../watcher/watcher-service.js';
import { readWatcherStatus, type WatcherStatus } from '../watcher/watcher-status.js';
import type {
  ChangedBy,
  ClusterControl,
  ClusterSnapshot,
  ClusterSummaryView,
  DemandAnswer,
  EventsSelection,
  GroupListView,
  JournalEventAnswer,
  WatcherAnswer,
  WatcherSettingsChange,
} from './cluster-control.js';
import { followJournal, readJournalFrom } from './journal-lines.js';

/** Status asked within this long is answered again from memory: several streams and the overview share one look. */
const STATUS_REUSE_MS = 500;
/** A watcher status older than this many ticks (and at least 10 s) is not the watcher's current view. */
const STALE_TICKS = 5;
const DEFAULT_EVENT_LIMIT = 500;
const DEFAULT_HISTORY_MS = 3_600_000;

interface OpenFleet {
  fleet: Fleet;
  recordMtimeMs: number;
}

/** How long POST /workers waits for the provider to take the launches (not for Ray): a container may need its image first. */
const LAUNCH_ACCEPT_TIMEOUT_MS = 120_000;

export class FleetClusterControl implements ClusterControl {
  private readonly fleets = new Map<string, OpenFleet>();
  private readonly histories = new Map<string, ObservationHistoryReader>();
  private readonly statuses = new Map<string, { atMs: number; status: Promise<ClusterStatus> }>();
  private readonly logger: Logger;

  constructor(options: { logger?: Logger } = {}) {
    this.logger = options.logger ?? silentLogger;
  }

  private clustersDir(): string {
    return path.join(rayfleetHome(), 'clusters');
  }

  private stateDir(cluster: string): string {
    return path.join(this.clustersDir(), cluster);
  }

  /** The cluster's Fleet, opened again when `up` rewrote its record; CLUSTER_NOT_FOUND once it is down. */
  async fleet(cluster: string): Promise<Fleet> {
    const file = clusterPaths(this.stateDir(cluster)).clusterFile;
    const info = await stat(file).catch(() => undefined);
    const open = this.fleets.get(cluster);
    if (info === undefined) {
      open?.fleet.close();
      this.fleets.delete(cluster);
      throw new RayfleetError('CLUSTER_NOT_FOUND', `no cluster named ${cluster} is up on this machine`, { details: `The clusters are under ${this.clustersDir()}.` });
    }
    if (open !== undefined && open.recordMtimeMs === info.mtimeMs) return open.fleet;
    open?.fleet.close();
    const record = await readClusterRecord(file);
    if (record === undefined) throw new RayfleetError('CLUSTER_NOT_FOUND', `no cluster named ${cluster} is up on this machine`);
    const fleet = await Fleet.open({ spec: record.spec, stateDir: this.stateDir(cluster), logger: this.logger });
    this.fleets.set(cluster, { fleet, recordMtimeMs: info.mtimeMs });
    return fleet;
  }

  async listClusters(): Promise<ClusterSummaryView[]> {
    return Promise.all((await clustersUpHere()).map((name) => this.summary(name)));
  }

  private async summary(cluster: string): Promise<ClusterSummaryView> {
    const fleet = await this.fleet(cluster);
    const watcher = await this.watcherSummary(cluster, fleet);
    const pendingDemand = watcher.status === undefined ? 0 : pendingOf(watcher.status);
    try {
      const status = await this.status(cluster);
      return {
        name: cluster,
        provider: fleet.spec.provider.type,
        nodes: { alive: status.nodes.filter((node) => node.ray !== null && node.ray.status !== 'DEAD').length, total: status.nodes.length },
        pendingDemand,
        watcher: watcher.summary,
        rayDashboardUrl: status.dashboardUrl === 'unknown' ? null : status.dashboardUrl,
        error: status.rayError ?? null,
      };
    } catch (error) {
      return { name: cluster, provider: fleet.spec.provider.type, nodes: { alive: 0, total: 0 }, pendingDemand, watcher: watcher.summary, rayDashboardUrl: null, error: messageOf(error) };
    }
  }

  async status(cluster: string): Promise<ClusterStatus> {
    const fleet = await this.fleet(cluster);
    const cached = this.statuses.get(cluster);
    if (cached !== undefined && Date.now() - cached.atMs < STATUS_REUSE_MS) return cached.status;
    const status = fleet.status();
    this.statuses.set(cluster, { atMs: Date.now(), status });
    // A failed look is not kept: the next ask tries again.
    status.catch(() => this.statuses.delete(cluster));
    return status;
  }

  async groups(cluster: string): Promise<GroupListView> {
    const fleet = await this.fleet(cluster);
    const { status } = await this.watcherSummary(cluster, fleet);
    if (status !== undefined) {
      return {
        countedBy: 'watcher',
        groups: fleet.spec.workerGroups.map((group) => {
          const seen = status.groups.find((candidate) => candidate.name === group.name);
          return {
            name: group.name,
            min: group.min,
            max: group.max,
            registered: seen?.registered ?? 0,
            launching: seen?.launching ?? 0,
            draining: seen?.draining ?? 0,
            dead: 0,
            backoffUntil: seen?.backoffUntil ?? null,
          };
        }),
      };
    }
    const nodes = (await this.status(cluster)).nodes;
    return {
      countedBy: 'status',
      groups: fleet.spec.workerGroups.map((group) => {
        const members = nodes.filter((node) => node.role === 'worker' && node.group === group.name);
        const dead = members.filter((node) => node.state === 'stopped' || node.state === 'failed' || node.ray?.status === 'DEAD');
        const alive = members.filter((node) => !dead.includes(node));
        return {
          name: group.name,
          min: group.min,
          max: group.max,
          registered: alive.filter((node) => node.ray !== null && node.ray.status !== 'DRAINING').length,
          launching: alive.filter((node) => node.ray === null).length,
          draining: alive.filter((node) => node.ray?.status === 'DRAINING').length,
          dead: dead.length,
          backoffUntil: null,
        };
      }),
    };
  }

  async demand(cluster: string): Promise<DemandAnswer> {
    const fleet = await this.fleet(cluster);
    const { status } = await this.watcherSummary(cluster, fleet);
    if (status === undefined) return { observedAt: null, source: null, shapes: [], gangs: [], constraints: [], infeasible: [], withheld: [] };
    return {
      observedAt: status.lastTickAt,
      source: status.source,
      shapes: status.demand.shapes,
      gangs: status.demand.gangs,
      constraints: status.demand.constraints,
      infeasible: status.infeasible,
      withheld: status.withheld,
    };
  }

  async history(cluster: string, query: Partial<HistoryQuery>): Promise<HistoryWindow> {
    await this.fleet(cluster);
    let reader = this.histories.get(cluster);
    if (reader === undefined) {
      reader = new ObservationHistoryReader(historyFile(this.stateDir(cluster)));
      this.histories.set(cluster, reader);
    }
    const untilMs = query.untilMs ?? Date.now();
    const sinceMs = Math.min(query.sinceMs ?? untilMs - DEFAULT_HISTORY_MS, untilMs);
    return reader.query({ sinceMs, untilMs, stepMs: query.stepMs });
  }

  async events(cluster: string, selection: EventsSelection): Promise<{ events: JournalEventAnswer[]; lastId: string }> {
    const fleet = await this.fleet(cluster);
    const { events, end } = await readJournalFrom(fleet.paths.journal, 0);
    const since = selection.since?.getTime();
    const types = selection.types === undefined ? undefined : new Set(selection.types);
    const selected = events.filter((event) => (since === undefined || Date.parse(event.time) >= since) && (types === undefined || types.has(event.type)));
    return { events: selected.slice(-(selection.limit ?? DEFAULT_EVENT_LIMIT)), lastId: String(end) };
  }

  async *followEvents(cluster: string, afterId: string | undefined, signal: AbortSignal): AsyncIterable<JournalEventAnswer> {
    const fleet = await this.fleet(cluster);
    const parsed = afterId === undefined ? Number.NaN : Number.parseInt(afterId, 10);
    // No resume point: from now on (a page reads what came before with GET /events, which says where it ended).
    const offset = Number.isSafeInteger(parsed) && parsed >= 0 ? parsed : (await readJournalFrom(fleet.paths.journal, Number.MAX_SAFE_INTEGER)).end;
    yield* followJournal(fleet.paths.journal, offset, signal);
  }

  async snapshot(cluster: string): Promise<ClusterSnapshot> {
    const watcher = await this.watcher(cluster);
    try {
      return { status: await this.status(cluster), statusError: null, watcher };
    } catch (error) {
      return { status: null, statusError: messageOf(error), watcher };
    }
  }

  /**
   * Fleet.addWorkers launches under the launch lock, then waits for Ray; the answer comes once the provider has the
   * launches (their `launch` events, found by this request's own reason), and Ray's side goes on in the background.
   */
  async addWorkers(cluster: string, groupName: string | undefined, count: number, by: ChangedBy): Promise<string[]> {
    const fleet = await this.fleet(cluster);
    const spec = fleet.spec;
    const group = groupName === undefined ? defaultGroup(spec) : spec.workerGroups.find((candidate) => candidate.name === groupName);
    if (group === undefined) {
      throw new RayfleetError('USAGE', `no worker group named ${groupName ?? ''}`, { details: `The groups of ${cluster} are ${spec.workerGroups.map((candidate) => candidate.name).join(', ')}.` });
    }
    const workers = (await this.status(cluster)).nodes.filter((node) => node.role === 'worker' && node.state !== 'stopped');
    const inGroup = workers.filter((node) => node.group === group.name).length;
    if (inGroup + count > group.max || workers.length + count > spec.watcher.maxWorkers) {
      throw new RayfleetError('GROUP_AT_MAX', `group ${group.name} has ${inGroup} of at most ${group.max} workers (${workers.length} of maxWorkers ${spec.watcher.maxWorkers} in all); adding ${count} would pass its limit`, {
        details: "Raise the group's max (PATCH /watcher with groups: [{ name, max }]) or maxWorkers first.",
      });
    }
    const reason = `${by}: add-worker --group ${group.name} --count ${count} (request ${randomBytes(4).toString('hex')})`;
    const from = (await readJournalFrom(fleet.paths.journal, Number.MAX_SAFE_INTEGER)).end;
    let failed: unknown;
    let joined: string[] | undefined;
    fleet.addWorkers({ group: group.name, count, reason }).then(
      (instances) => {
        joined = instances.map((instance) => instance.name);
      },
      (error: unknown) => {
        failed = error;
        this.logger.warn({ err: error, cluster }, 'adding workers failed');
      },
    );
    const names = await pollUntil(
      async () => {
        if (joined !== undefined) return joined;
        if (failed !== undefined) throw failed;
        const launched = (await readJournalFrom(fleet.paths.journal, from)).events.filter((event) => event.type === 'launch' && event.reason === reason);
        return launched.length >= count ? launched.map((event) => String(event.node)) : undefined;
      },
      { timeoutMs: LAUNCH_ACCEPT_TIMEOUT_MS, intervalMs: 100, describe: () => `the provider to take ${count} launch(es) in ${group.name}`, isFatal: () => true },
    );
    this.statuses.delete(cluster);
    return names;
  }

  async removeWorker(cluster: string, node: string, force: boolean, by: ChangedBy): Promise<void> {
    const fleet = await this.fleet(cluster);
    await fleet.removeWorker(node, { force, reason: `${by}: remove-worker${force ? ' --force' : ''}` });
    this.statuses.delete(cluster);
  }

  async watcher(cluster: string): Promise<WatcherAnswer> {
    const fleet = await this.fleet(cluster);
    const { summary, status } = await this.watcherSummary(cluster, fleet);
    const settings = status?.settings ?? fleet.spec.watcher;
    return {
      cluster,
      ...summary,
      settings: {
        intervalMs: settings.intervalMs,
        pendingThreshold: settings.pendingThreshold,
        cooldownMs: settings.cooldownMs,
        idleTimeoutMs: settings.idleTimeoutMs,
        maxWorkers: settings.maxWorkers,
      },
      groups: (await this.groups(cluster)).groups,
      withheld: status?.withheld ?? [],
    };
  }

  async setWatcherSettings(cluster: string, change: WatcherSettingsChange, by: ChangedBy): Promise<WatcherAnswer> {
    const fleet = await this.fleet(cluster);
    for (const [index, entry] of (change.groups ?? []).entries()) {
      const group = fleet.spec.workerGroups.find((candidate) => candidate.name === entry.name);
      if (group === undefined) {
        throw new RayfleetError('USAGE', `groups[${index}].name: no worker group named ${entry.name}`, { details: `The groups of ${cluster} are ${fleet.spec.workerGroups.map((candidate) => candidate.name).join(', ')}.` });
      }
      const min = entry.min ?? group.min;
      const max = entry.max ?? group.max;
      if (min > max) throw new RayfleetError('USAGE', `groups[${index}]: min ${min} is more than max ${max}`);
    }
    const watcher = { paused: change.paused, idleTimeoutMs: change.idleTimeoutMs, maxWorkers: change.maxWorkers };
    await fleet.applyLiveChanges(
      { watcher: Object.fromEntries(Object.entries(watcher).filter(([, value]) => value !== undefined)), ...(change.groups === undefined ? {} : { groups: change.groups }) },
      by,
    );
    this.statuses.delete(cluster);
    return this.watcher(cluster);
  }

  /** The watcher as its lock and status file show it; its status counts only while it is fresh. */
  private async watcherSummary(cluster: string, fleet: Fleet): Promise<{ summary: Omit<WatcherAnswer, 'cluster' | 'settings' | 'groups' | 'withheld'>; status: WatcherStatus | undefined }> {
    const dir = this.stateDir(cluster);
    const [pid, written] = await Promise.all([runningWatcherPid(dir), readWatcherStatus(dir)]);
    const fresh =
      written !== undefined && pid !== undefined && Date.now() - Date.parse(written.lastTickAt) <= Math.max(10_000, STALE_TICKS * written.settings.intervalMs);
    const status = fresh ? written : undefined;
    // The running watcher's settings say whether it is paused; the saved spec says what the next one will be.
    const paused = status?.paused ?? status?.settings.paused ?? fleet.spec.watcher.paused ?? false;
    return {
      status,
      summary: {
        running: pid !== undefined,
        pid: pid ?? null,
        paused,
        lastTickAt: written?.lastTickAt ?? null,
        source: status?.source ?? null,
        problems: status?.problems ?? [],
      },
    };
  }

  close(): void {
    for (const { fleet } of this.fleets.values()) fleet.close();
    this.fleets.clear();
  }
}

function pendingOf(status: WatcherStatus): number {
  return status.demand.shapes.reduce((sum, entry) => sum + entry.count, 0) + status.demand.gangs.length;
}
