// The REST API's bodies and answers as zod schemas: the handlers validate with them and the OpenAPI document is made from them.
import { z } from '@hono/zod-openapi';

const resources = z.record(z.string(), z.number()).openapi({ description: 'resource name → amount, as Ray counts them', example: { CPU: 2, memory: 1e9 } });

export const clusterName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/)
  .openapi({ param: { name: 'name', in: 'path' }, description: 'the cluster', example: 'ray' });

export const nodeName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,80}$/)
  .openapi({ param: { name: 'node', in: 'path' }, description: 'the node', example: 'ray-worker-3' });

export const ErrorBody = z
  .object({
    code: z.string().openapi({ description: "rayfleet's stable error code", example: 'CLUSTER_NOT_FOUND' }),
    message: z.string(),
    details: z.string().nullable().openapi({ description: 'what a person needs to act: a hint, a reason' }),
    issues: z
      .array(z.object({ path: z.string().openapi({ example: 'body.count' }), message: z.string() }))
      .optional()
      .openapi({ description: 'for a request that failed validation: each field and what is wrong with it' }),
  })
  .openapi('Error');

const RayView = z
  .object({
    nodeId: z.string(),
    status: z.enum(['RUNNING', 'IDLE', 'DRAINING', 'DEAD', 'UNSPECIFIED']),
    idleMs: z.number(),
    resources,
    available: resources,
  })
  .openapi('RayView');

const NodeStatus = z
  .object({
    name: z.string(),
    role: z.enum(['head', 'worker']),
    group: z.string(),
    index: z.number().int(),
    state: z.enum(['starting', 'running', 'stopping', 'stopped', 'failed', 'unknown']).openapi({ description: "the provider's state of the node (unknown: its host does not answer)" }),
    providerId: z.string(),
    address: z.string().optional(),
    createdAt: z.string(),
    ray: RayView.nullable().openapi({ description: 'what Ray says of the node; null while Ray does not know it' }),
  })
  .openapi('NodeStatus');

const GroupCount = z
  .object({
    name: z.string(),
    min: z.number().int(),
    max: z.number().int(),
    registered: z.number().int().openapi({ description: 'alive in Ray (Ray\'s word wins over a provider that says the node ended)' }),
    launching: z.number().int().openapi({ description: 'launched, not alive in Ray yet' }),
    draining: z.number().int(),
    dead: z.number().int().openapi({ description: 'ended, and not alive in Ray' }),
    unknown: z.number().int().openapi({ description: 'its host does not answer and Ray does not show it alive: it keeps its name, and is not replaced under it' }),
  })
  .openapi('GroupCount', { description: "a worker group's workers by phase, counted by the same rule everywhere" });

export const ClusterStatus = z
  .object({
    cluster: z.string(),
    provider: z.string(),
    address: z.string(),
    dashboardUrl: z.string().openapi({ description: "Ray's own dashboard" }),
    rayError: z.string().optional().openapi({ description: "why Ray's view is missing, when it is" }),
    providerError: z.string().optional().openapi({ description: 'which nodes the provider cannot read now and why (an SSH host that does not answer): they are listed unknown' }),
    nodes: z.array(NodeStatus),
    unmanaged: z.array(RayView),
    orphans: z
      .array(z.object({ providerId: z.string(), name: z.string().optional(), pids: z.array(z.number().int()) }))
      .optional()
      .openapi({ description: "processes carrying this cluster's id that no node record accounts for: the watcher and down stop them" }),
    totals: z.object({ nodes: z.number().int(), alive: z.number().int(), resources, available: resources }),
    groups: z.array(GroupCount),
  })
  .openapi('ClusterStatus', { description: 'the same object as `rayfleet status --json`' });

export const WatcherSummary = z
  .object({
    running: z.boolean(),
    pid: z.number().int().nullable(),
    paused: z.boolean().openapi({ description: 'observing only: it journals what it would have done as withheld' }),
    lastTickAt: z.string().nullable(),
    source: z.string().nullable().openapi({ description: 'where the demand numbers come from: gcs, dashboard or cpu-heuristic' }),
    problems: z.array(z.string()),
  })
  .openapi('WatcherSummary');

export const ClusterSummary = z
  .object({
    name: z.string(),
    provider: z.string(),
    nodes: z.object({ alive: z.number().int(), total: z.number().int() }),
    pendingDemand: z.number().int().openapi({ description: 'requests waiting for resources, as the watcher last saw them' }),
    watcher: WatcherSummary,
    rayDashboardUrl: z.string().nullable(),
    error: z.string().nullable().openapi({ description: 'why the numbers are missing, when they are' }),
  })
  .openapi('ClusterSummary');

export const ClusterList = z.object({ clusters: z.array(ClusterSummary) }).openapi('ClusterList');

export const GroupView = GroupCount.extend({
  backoffUntil: z.string().nullable().openapi({ description: 'launches of this group wait until then after failures' }),
}).openapi('GroupView');

export const GroupList = z
  .object({ groups: z.array(GroupView), countedBy: z.enum(['watcher', 'status']).openapi({ description: "the watcher's last tick, or the provider and Ray asked now" }) })
  .openapi('GroupList');

const ShapeCount = z.object({ shape: resources, count: z.number().int() });

export const DemandView = z
  .object({
    observedAt: z.string().nullable().openapi({ description: "the watcher's last tick; null when no watcher has looked" }),
    source: z.string().nullable(),
    shapes: z.array(ShapeCount).openapi({ description: 'tasks and actors waiting, by shape' }),
    gangs: z.array(z.object({ id: z.string(), strategy: z.string(), bundles: z.array(resources) })).openapi({ description: 'placement groups waiting' }),
    constraints: z.array(ShapeCount).openapi({ description: 'request_resources() bundles' }),
    infeasible: z.array(resources).openapi({ description: 'shapes no group can hold' }),
    withheld: z.array(z.string()).openapi({ description: 'why the watcher did not scale up further on its last tick' }),
  })
  .openapi('Demand');

export const HistoryQuery = z.object({
  since: z.iso.datetime({ offset: true }).optional().openapi({ description: 'start of the window (default: an hour ago)', example: '2026-12-01T20:00:00Z' }),
  until: z.iso.datetime({ offset: true }).optional().openapi({ description: 'end of the window (default: now)' }),
  step: z.coerce.number().int().min(1).max(86_400).optional().openapi({ description: 'bucket width in seconds (default: about 600 buckets over the window)', example: 5 }),
});

export const HistoryView = z
  .object({
    stepMs: z.number().int(),
    times: z.array(z.number()).openapi({ description: 'start of each bucket, ms since the epoch' }),
    series: z
      .record(z.string(), z.array(z.number().nullable()))
      .openapi({ description: 'nodes/<group>/<phase> and demand/<shape> → one value per bucket (its highest), null where nothing was observed' }),
  })
  .openapi('History');

export const EventsQuery = z.object({
  since: z.iso.datetime({ offset: true }).optional().openapi({ description: 'only events at or after this time' }),
  type: z.string().regex(/^[a-z-]+(,[a-z-]+)*$/).optional().openapi({ description: 'only these types, comma-separated', example: 'scale-up,launch' }),
  limit: z.coerce.number().int().min(1).max(10_000).optional().openapi({ description: 'the newest N (default 500)' }),
});

export const JournalEventView = z
  .looseObject({
    id: z.string().openapi({ description: 'where the event ends in the journal; the stream resumes after it (Last-Event-ID)' }),
    type: z.string(),
    time: z.string(),
    node: z.string().optional(),
    group: z.string().optional(),
    reason: z.string().optional(),
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi('JournalEvent');

export const EventList = z
  .object({ events: z.array(JournalEventView), lastId: z.string().openapi({ description: 'the end of the journal when read: give it to the stream as Last-Event-ID' }) })
  .openapi('EventList');

export const AddWorkersBody = z
  .strictObject({
    group: z.string().min(1).optional().openapi({ description: 'the worker group (default: worker, else the first)' }),
    count: z.number().int().min(1).max(100).default(1),
  })
  .openapi('AddWorkers');

export const AddWorkersAnswer = z
  .object({ launching: z.array(z.string()).openapi({ description: 'the names being started; the stream tells when they join Ray' }) })
  .openapi('WorkersLaunching');

export const RemoveWorkerQuery = z.object({
  force: z.enum(['true', 'false']).optional().openapi({ description: 'stop the node even when Ray says it is busy' }),
});

export const RemovedAnswer = z.object({ removed: z.string() }).openapi('WorkerRemoved');

export const WatcherView = z
  .object({
    cluster: z.string(),
    running: z.boolean(),
    pid: z.number().int().nullable(),
    paused: z.boolean(),
    settings: z.object({
      intervalMs: z.number(),
      pendingThreshold: z.number(),
      cooldownMs: z.number(),
      idleTimeoutMs: z.number(),
      maxWorkers: z.number(),
    }),
    groups: z.array(GroupView),
    lastTickAt: z.string().nullable(),
    source: z.string().nullable(),
    problems: z.array(z.string()),
    withheld: z.array(z.string()),
  })
  .openapi('Watcher');

/** What the stream's `event: snapshot` carries: the nodes and the watcher together (the page's contract). */
export const StreamSnapshot = z.object({
  status: ClusterStatus.nullable(),
  statusError: z.string().nullable().openapi({ description: 'why status is null: the provider or Ray could not be asked' }),
  watcher: WatcherView,
});

export const WatcherPatch = z
  .strictObject({
    paused: z.boolean().optional().openapi({ description: 'observe only: journal what would be done, as withheld: paused' }),
    groups: z
      .array(z.strictObject({ name: z.string().min(1), min: z.number().int().min(0).optional(), max: z.number().int().min(0).optional() }))
      .optional(),
    idleTimeoutMs: z.number().int().min(0).optional(),
    maxWorkers: z.number().int().min(0).optional(),
  })
  .openapi('WatcherPatch');
