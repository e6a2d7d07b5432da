// The clusters the control plane has open: each one's Fleet (opened again when `up` rewrote its record), last status and history reader.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { RayfleetError } from '../errors.js';
import type { FleetBackend } from '../fleet/cluster-handle.js';
import { readClusterRecord } from '../fleet/cluster-record.js';
import type { ClusterStatus } from '../fleet/cluster-status.js';
import { Fleet } from '../fleet/fleet.js';
import { clusterPaths, rayfleetHome } from '../fleet/state-dir.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { ObservationHistoryReader, historyFile, type HistoryQuery, type HistoryWindow } from '../watcher/observation-history.js';

/** Status asked within this long is answered again from memory: several streams and the overview share one look. */
const STATUS_REUSE_MS = 500;
const DEFAULT_HISTORY_MS = 3_600_000;

export interface OpenClustersOptions {
  logger?: Logger | undefined;
  /** Every cluster's nodes and GCS given whole, instead of made from its spec: the memory provider in tests. */
  backend?: FleetBackend | undefined;
}

interface OpenCluster {
  fleet: Fleet;
  recordMtimeMs: number;
  status?: { atMs: number; status: Promise<ClusterStatus> };
  history?: ObservationHistoryReader;
}

export class OpenClusters {
  private readonly open = new Map<string, OpenCluster>();

  constructor(private readonly options: OpenClustersOptions = {}) {}

  private clustersDir(): string {
    return path.join(rayfleetHome(), 'clusters');
  }

  /** The cluster's Fleet, opened again when `up` rewrote its record; CLUSTER_NOT_FOUND once it is down. */
  async fleet(cluster: string): Promise<Fleet> {
    return (await this.cluster(cluster)).fleet;
  }

  /** The cluster's status, one look shared by the callers within STATUS_REUSE_MS; a failed look is not kept. */
  async status(cluster: string): Promise<ClusterStatus> {
    const open = await this.cluster(cluster);
    if (open.status !== undefined && Date.now() - open.status.atMs < STATUS_REUSE_MS) return open.status.status;
    const status = open.fleet.status();
    const entry = { atMs: Date.now(), status };
    open.status = entry;
    status.catch(() => {
      if (open.status === entry) delete open.status;
    });
    return status;
  }

  /** The next status is looked at anew: a change was made. */
  changed(cluster: string): void {
    const open = this.open.get(cluster);
    if (open !== undefined) delete open.status;
  }

  /** The cluster's history over a window: the last hour by default. */
  async history(cluster: string, query: Partial<HistoryQuery>): Promise<HistoryWindow> {
    const open = await this.cluster(cluster);
    open.history ??= new ObservationHistoryReader(historyFile(open.fleet.paths.root));
    const untilMs = query.untilMs ?? Date.now();
    const sinceMs = Math.min(query.sinceMs ?? untilMs - DEFAULT_HISTORY_MS, untilMs);
    return open.history.query({ sinceMs, untilMs, stepMs: query.stepMs });
  }

  close(): void {
    for (const { fleet } of this.open.values()) fleet.close();
    this.open.clear();
  }

  private async cluster(cluster: string): Promise<OpenCluster> {
    const stateDir = path.join(this.clustersDir(), cluster);
    const file = clusterPaths(stateDir).clusterFile;
    const info = await stat(file).catch(() => undefined);
    const open = this.open.get(cluster);
    if (info !== undefined && open?.recordMtimeMs === info.mtimeMs) return open;
    open?.fleet.close();
    this.open.delete(cluster);
    const record = info === undefined ? undefined : await readClusterRecord(file);
    if (info === undefined || record === undefined) {
      throw new RayfleetError('CLUSTER_NOT_FOUND', `no cluster named ${cluster} is up on this machine`, { details: `The clusters are under ${this.clustersDir()}.` });
    }
    const fleet = await Fleet.open({ spec: record.spec, stateDir, logger: this.options.logger ?? silentLogger, backend: this.options.backend });
    const opened: OpenCluster = { fleet, recordMtimeMs: info.mtimeMs };
    this.open.set(cluster, opened);
    return opened;
  }
}
