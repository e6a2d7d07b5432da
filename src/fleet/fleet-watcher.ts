// A cluster's watcher as the fleet runs it: in the background beside the cluster, in the foreground, or inside the head.
import type { Logger } from '../log/logger.js';
import { Watcher } from '../watcher/watcher.js';
import type { WatcherMetrics } from '../watcher/watcher-metrics.js';
import { runningWatcherPid, startWatcherService, stopWatcherService } from '../watcher/watcher-service.js';
import { readWatcherStatus, watcherPaths, type WatcherStatus } from '../watcher/watcher-status.js';
import type { ClusterHandle } from './cluster-handle.js';
import { watcherClusterOf } from './watcher-cluster-of.js';

export type WatcherPlace =
  | { runs: 'here'; pid: number }
  | { runs: 'in-head' }
  | { runs: 'nowhere' };

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

  async status(): Promise<WatcherStatus | undefined> {
    return readWatcherStatus(this.cluster.paths.root);
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
