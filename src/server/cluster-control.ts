// What the control plane asks of the clusters on this machine, in the API's own terms: the seam between HTTP and the library.
import type { z } from '@hono/zod-openapi';
import type { ClusterStatus } from '../fleet/cluster-status.js';
import type { HistoryQuery, HistoryWindow } from '../watcher/observation-history.js';
import type { ClusterSummary, DemandView, GroupList, JournalEventView, WatcherView } from './api-schemas.js';

export type ClusterSummaryView = z.infer<typeof ClusterSummary>;
export type GroupListView = z.infer<typeof GroupList>;
export type DemandAnswer = z.infer<typeof DemandView>;
export type WatcherAnswer = z.infer<typeof WatcherView>;
export type JournalEventAnswer = z.infer<typeof JournalEventView>;

/** Who changed a live setting, for the journal's `spec-changed`. */
export type ChangedBy = 'api' | 'cli';

/** Live changes to a running cluster's watcher; each is saved in the cluster's spec. */
export interface WatcherSettingsChange {
  paused?: boolean;
  groups?: Array<{ name: string; min?: number; max?: number }>;
  idleTimeoutMs?: number;
  maxWorkers?: number;
}

export interface EventsSelection {
  since?: Date;
  types?: string[];
  limit?: number;
}

/** What a stream sends on every change: the nodes, the watcher and the groups together. */
export interface ClusterSnapshot {
  status: ClusterStatus | null;
  statusError: string | null;
  watcher: WatcherAnswer;
}

export interface ClusterControl {
  /** Every cluster that is up under RAYFLEET_HOME. */
  listClusters(): Promise<ClusterSummaryView[]>;
  status(cluster: string): Promise<ClusterStatus>;
  groups(cluster: string): Promise<GroupListView>;
  demand(cluster: string): Promise<DemandAnswer>;
  history(cluster: string, query: Partial<HistoryQuery>): Promise<HistoryWindow>;
  events(cluster: string, selection: EventsSelection): Promise<{ events: JournalEventAnswer[]; lastId: string }>;
  /** Journal events after an id, as they are appended, until the signal aborts. */
  followEvents(cluster: string, afterId: string | undefined, signal: AbortSignal): AsyncIterable<JournalEventAnswer>;
  snapshot(cluster: string): Promise<ClusterSnapshot>;
  /** Starts workers and answers with their names once the provider has them, without waiting for Ray. */
  addWorkers(cluster: string, group: string | undefined, count: number, by: ChangedBy): Promise<string[]>;
  /** Drains, then stops; a busy worker fails with NODE_BUSY unless forced. */
  removeWorker(cluster: string, node: string, force: boolean, by: ChangedBy): Promise<void>;
  watcher(cluster: string): Promise<WatcherAnswer>;
  /** Saves the change into the cluster's spec, journals `spec-changed` with who made it, and answers with the new state. */
  setWatcherSettings(cluster: string, change: WatcherSettingsChange, by: ChangedBy): Promise<WatcherAnswer>;
  close(): void;
}
