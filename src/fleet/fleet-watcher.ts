// A cluster's watcher as the fleet runs it: in the background beside the cluster, in the foreground, or inside the head.
import type { Logger } from '../log/logger.js';
import { Watcher } from '../watcher/watcher.js';
import type { WatcherMetrics } from '../watcher/watcher-metrics.js';
import { runningWatcherPid, startWatcherService, stopWatcherService } from '../watcher/watcher-service.js';
import type { GroupCount } from '../watcher/group-counts.js';
import { readWatcherStatus, watcherPaths, type WatcherStatus } from '../watcher/watcher-status.js';
import type { ClusterHandle } from './cluster-handle.js';
import { STATUS_REFRESH_MS, watcherClusterOf } from './watcher-cluster-of.js';

export type WatcherPlace =
  | { runs: 'here'; pid: number }
  | { runs: 'in-head' }
  | { runs: 'nowhere' };

/** The watcher as this machine sees it. */
export interface WatcherView {
  /** The background watcher's pid, while one runs here. */
  pid: number | undefined;
  /** Observing only: as the running watcher has it, else as the saved spec says the next one will. */
  paused: boolean;
  /** The tick of the last status written, current or not. */
  lastTickAt: string | undefined;
  /** The last status, while it is the watcher's current view. */
  current: WatcherStatus | undefined;
  /** Each group of the saved spec, counted at the watcher's last tick; undefined while there is no current status. */
  groups: WatcherGroup[] | undefined;
}

/** A group as the watcher counted it, and until when its launches back off after failures. */
export interface WatcherGroup extends GroupCount {
  backoffUntil: string | undefined;
}

/** A status older than this many ticks past its refresh time is not the watcher's current view: it stopped or hangs. */
const STALE_TICKS = 5;

/** An unchanged status is rewritten every STATUS_REFRESH_MS, so only a tick later than that and a few intervals is late. */
function isCurrent(status: WatcherStatus, nowMs: number): boolean {
  return nowMs - Date.parse(status.lastTickAt) <= STATUS_REFRESH_MS + STALE_TICKS * status.settings.intervalMs;
}

export interface BackgroundWatcherOptions {
  /** Serve Prometheus metrics on this port of 127.0.0.1. */
  metricsPort?: number | undefined;
}

export interface ForegroundWatcherOptions {
  logger?: Logger;
  metrics?: WatcherMetrics;
}

export class FleetWatcher {
  /** Asked each time: `up` replaces the cluster's handle once it has chosen the ports. */
  constructor(private readonly clusterOf: () => ClusterHandle) {}

  private get cluster(): ClusterHandle {
    return this.clusterOf();
  }

  /** The pid of the background watcher on this machine, if one runs. */
  async pid(): Promise<number | undefined> {
    return runningWatcherPid(this.cluster.paths.root);
  }

  /** Where the watcher runs now: here (with its pid), inside the head (cai), or nowhere. */
  async place(): Promise<WatcherPlace> {
    if ((await this.cluster.provider()).watcherRunsOnHead === true) return { runs: 'in-head' };
    const pid = await this.pid();
    return pid === undefined ? { runs: 'nowhere' } : { runs: 'here', pid };
  }

  /** The last status the watcher wrote, current or not (`view` says whether it is). */
  async status(): Promise<WatcherStatus | undefined> {
    return readWatcherStatus(this.cluster.paths.root);
  }

  /** The watcher's state in one look: its process, and its last status only while that is its current view. */
  async view(): Promise<WatcherView> {
    const [pid, written] = await Promise.all([this.pid(), this.status()]);
    const current = written !== undefined && pid !== undefined && isCurrent(written, Date.now()) ? written : undefined;
    const spec = this.cluster.spec;
    return {
      pid,
      // The running watcher's settings say whether it is paused; the saved spec says what the next one will be.
      paused: current?.paused ?? current?.settings.paused ?? spec.watcher.paused ?? false,
      lastTickAt: written?.lastTickAt,
      current,
      // Counted at the watcher's tick, under the bounds the saved spec gives the groups now (a live change shows at once).
      groups:
        current === undefined
          ? undefined
          : spec.workerGroups.map((group) => {
              const seen = current.groups.find((candidate) => candidate.name === group.name);
              return { registered: 0, launching: 0, draining: 0, backoffUntil: undefined, ...seen, dead: seen?.dead ?? 0, unknown: seen?.unknown ?? 0, name: group.name, min: group.min, max: group.max };
            }),
    };
  }

  get logPath(): string {
    return watcherPaths(this.cluster.paths.root).log;
  }

  /**
   * Starts the background watcher unless one runs; where the provider runs it inside the head (cai), that one is the
   * watcher, and nothing starts here. It reads the cluster's saved spec, so it follows every live change.
   */
  async start(options: BackgroundWatcherOptions = {}): Promise<WatcherPlace> {
    if ((await this.cluster.provider()).watcherRunsOnHead === true) return { runs: 'in-head' };
    const running = await this.pid();
    if (running !== undefined) return { runs: 'here', pid: running };
    const args = ['--state-dir', this.cluster.paths.root, '-c', this.cluster.name];
    if (options.metricsPort !== undefined) args.push('--metrics-port', String(options.metricsPort));
    return { runs: 'here', pid: await startWatcherService(this.cluster.paths.root, args) };
  }

  /** Stops the background watcher; false when none ran. */
  async stop(): Promise<boolean> {
    return stopWatcherService(this.cluster.paths.root);
  }

  /** Runs the watcher in this process until the signal aborts or the cluster goes down. */
  async run(signal: AbortSignal, options: ForegroundWatcherOptions = {}): Promise<void> {
    await new Watcher({ cluster: watcherClusterOf(this.cluster), logger: options.logger ?? this.cluster.logger, metrics: options.metrics }).run(signal);
  }
}
