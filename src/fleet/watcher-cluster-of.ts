// A fleet's cluster as the watcher sees it: the narrow WatcherCluster over the fleet's own launcher, drain and journal.
import { writeJsonAtomic } from '../fs/write-json-atomic.js';
import { ObservationHistory, historyPointOf } from '../watcher/observation-history.js';
import type { WatcherCluster } from '../watcher/watcher-cluster.js';
import { watcherPaths } from '../watcher/watcher-status.js';
import type { ClusterHandle } from './cluster-handle.js';
import { drainThenStopAll } from './drain-and-stop.js';
import { sweepOrphans } from './orphan-sweep.js';

/** How stale `watcher status`'s "as of the tick at" may be on a cluster where nothing changes. */
export const STATUS_REFRESH_MS = 10_000;

export function watcherClusterOf(cluster: ClusterHandle): WatcherCluster {
  const record = cluster.record.bind(cluster);
  const provider = cluster.provider.bind(cluster);
  let history: Promise<ObservationHistory> | undefined;
  let lastStatus = { body: '', atMs: -Infinity };
  return {
    name: cluster.name,
    stateDir: cluster.paths.root,
    currentSpec: async () => (await cluster.reload())?.spec,
    provider,
    gcs: () => cluster.connection.gcs(),
    dashboard: () => cluster.connection.dashboard(cluster.spec.watcher.dashboardMetricApi?.replace(/\/api\/?$/, '')),
    launchWorkers: (group, count, reason, signal) => cluster.launcher.launchWorkers(group, count, reason, { upToLimits: true, signal }),
    drainThenStop: (requests, numbers, signal) => drainThenStopAll({ provider, record, gcs: () => cluster.connection.gcs() }, requests, { numbers, signal }),
    sweepOrphans: async (signal) =>
      (await sweepOrphans({ provider, clusterId: cluster.savedRecord.clusterId, record, gcs: () => cluster.connection.gcs() }, 'the watcher: no node record accounts for it', signal)).length,
    restartHead: async (signal) => {
      const nodes = await provider();
      if (nodes.restartHead === undefined) return false;
      return (await nodes.restartHead(await cluster.launcher.headRequest(), signal)) !== undefined;
    },
    terminate: (name, reason, signal) => cluster.stop(name, reason, signal),
    record,
    journal: async () => (await cluster.journal.read()).events,
    writeStatus: async (status) => {
      // An idle tick rewrites nothing: the status is written when it says something new, else every few seconds.
      const { lastTickAt, tickSeconds, ...body } = status;
      const text = JSON.stringify(body);
      const atMs = Date.parse(lastTickAt);
      if (text === lastStatus.body && atMs - lastStatus.atMs < STATUS_REFRESH_MS) return;
      await writeJsonAtomic(watcherPaths(cluster.paths.root).status, { ...status, tickSeconds });
      lastStatus = { body: text, atMs };
    },
    recordObservation: async (observation) => {
      history ??= ObservationHistory.open(cluster.paths.root, observation.atMs);
      await (await history).append(historyPointOf(observation));
    },
  };
}
