// A fleet's cluster as the watcher sees it: the narrow WatcherCluster over the fleet's own launcher, drain and journal.
import { writeJsonAtomic } from '../fs/write-json-atomic.js';
import type { WatcherCluster } from '../watcher/watcher-cluster.js';
import { watcherPaths } from '../watcher/watcher-status.js';
import type { ClusterHandle } from './cluster-handle.js';
import { drainThenStop } from './drain-and-stop.js';

export function watcherClusterOf(cluster: ClusterHandle): WatcherCluster {
  const record = cluster.record.bind(cluster);
  const provider = cluster.provider.bind(cluster);
  return {
    name: cluster.name,
    stateDir: cluster.paths.root,
    currentSpec: async () => (await cluster.reload())?.spec,
    provider,
    gcs: () => cluster.connection.gcs(),
    dashboard: () => cluster.connection.dashboard(cluster.spec.watcher.dashboardMetricApi?.replace(/\/api\/?$/, '')),
    launchWorkers: (group, count, reason, signal) => cluster.launcher.launchWorkers(group, count, reason, { upToLimits: true, signal }),
    drainThenStop: (target, reason, numbers, signal) => drainThenStop({ provider, record, gcs: () => cluster.connection.gcs() }, target, { reason, numbers, signal }),
    terminate: (name, reason, signal) => cluster.stop(name, reason, signal),
    record,
    journal: async () => (await cluster.journal.read()).events,
    writeStatus: (status) => writeJsonAtomic(watcherPaths(cluster.paths.root).status, status),
  };
}
