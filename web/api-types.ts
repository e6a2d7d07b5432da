// The API's answers as the page reads them: inferred from the server's zod schemas, imported as types only, so no zod is bundled.
import type { z } from '@hono/zod-openapi';
import type {
  AddWorkersAnswer,
  ClusterList,
  ClusterStatus,
  EventList,
  HistoryView,
  JournalEventView,
  StreamSnapshot,
  WatcherView,
} from '../src/server/api-schemas.js';

export type ClusterListAnswer = z.infer<typeof ClusterList>;
export type ClusterSummaryAnswer = ClusterListAnswer['clusters'][number];
export type ClusterStatusAnswer = z.infer<typeof ClusterStatus>;
export type NodeStatusAnswer = ClusterStatusAnswer['nodes'][number];
export type WatcherAnswer = z.infer<typeof WatcherView>;
export type GroupAnswer = WatcherAnswer['groups'][number];
export type SnapshotAnswer = z.infer<typeof StreamSnapshot>;
export type JournalEventAnswer = z.infer<typeof JournalEventView>;
export type EventListAnswer = z.infer<typeof EventList>;
export type HistoryAnswer = z.infer<typeof HistoryView>;
export type AddWorkersResult = z.infer<typeof AddWorkersAnswer>;
