// The cluster spec: rayfleet.yaml's schema (zod), its defaults, the resolved types, and its JSON Schema for editors.
import { z } from 'zod';
import { isRayfleetError } from '../errors.js';
import { parseDuration } from './durations.js';
import { parseSize } from './sizes.js';

/** The one place the Ray version rayfleet installs is pinned. */
export const DEFAULT_RAY_VERSION = '2.60.0';

/** Ray refuses an object store smaller than this. */
const MIN_OBJECT_STORE_BYTES = 75 * 2 ** 20;

export interface NodeShape {
  cpus: number;
  gpus: number;
  memoryBytes?: number | undefined;
  objectStoreMemoryBytes?: number | undefined;
  resources: Record<string, number>;
}

export interface HeadSpec extends NodeShape {
  gcsPort: number;
  dashboardPort: number;
  clientPort: number;
}

export interface WorkerGroupSpec extends NodeShape {
  name: string;
  min: number;
  max: number;
}

export interface WatcherSpec {
  enabled: boolean;
  intervalMs: number;
  pendingThreshold: number;
  cooldownMs: number;
  idleTimeoutMs: number;
  maxWorkers: number;
  headAddress?: string | undefined;
  dashboardMetricApi?: string | undefined;
}

export type ProviderSpec =
  | { type: 'local'; stateDir?: string | undefined }
  | { type: 'docker'; image?: string | undefined; network?: string | undefined; portOffset: number }
  | { type: 'cai'; host?: string | undefined; projectId?: string | undefined; runtimeIdentifier?: string | undefined };

export interface ClusterSpec {
  name: string;
  ray: { version: string; python?: string | undefined };
  provider: ProviderSpec;
  head: HeadSpec;
  workerGroups: WorkerGroupSpec[];
  watcher: WatcherSpec;
}

// Defaults of transformed fields use .prefault(): zod 4 parses a prefault as input, while a .default() would skip the transform.

/** A value parsed by one of our parsers; its RayfleetError message becomes the zod issue. */
function parsedWith<T>(parse: (input: string | number) => T, description: string) {
  return z
    .union([z.number(), z.string()])
    .describe(description)
    .transform((input, context) => {
      try {
        return parse(input);
      } catch (error) {
        context.addIssue({ code: 'custom', message: isRayfleetError(error) ? error.message : String(error) });
        return z.NEVER;
      }
    });
}

const size = (description: string) => parsedWith(parseSize, `${description}: bytes, or e.g. 1GB, 512MB, 1GiB`);
const duration = (description: string) => parsedWith(parseDuration, `${description}: seconds, or e.g. 500ms, 30s, 5m`);
const port = (fallback: number, description: string) => z.number().int().min(1).max(65535).default(fallback).describe(description);
const name = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'must start with a letter and hold only a-z, 0-9 and -, at most 31 characters');

const nodeShapeFields = {
  cpus: z.number().min(0).default(1).describe('CPUs Ray schedules on this node'),
  gpus: z.number().min(0).default(0).describe('GPUs Ray schedules on this node'),
  memory: size("Ray's logical memory of the node").optional(),
  objectStoreMemory: size('object store of the node')
    .prefault('1GiB')
    .refine((bytes) => bytes >= MIN_OBJECT_STORE_BYTES, 'Ray needs an object store of at least 75MiB'),
  resources: z.record(z.string(), z.number().min(0)).default({}).describe('custom resources, e.g. { TPU: 4 }'),
};

function toShape(input: { cpus: number; gpus: number; memory?: number | undefined; objectStoreMemory: number; resources: Record<string, number> }): NodeShape {
  return { cpus: input.cpus, gpus: input.gpus, memoryBytes: input.memory, objectStoreMemoryBytes: input.objectStoreMemory, resources: input.resources };
}

const headSchema = z
  .strictObject({
    ...nodeShapeFields,
    gcsPort: port(6379, "the GCS port workers and drivers connect to (ray start --port)"),
    dashboardPort: port(8265, "Ray's dashboard and REST API"),
    clientPort: port(10001, 'the Ray client server (ray://)'),
  })
  .transform((input): HeadSpec => ({ ...toShape(input), gcsPort: input.gcsPort, dashboardPort: input.dashboardPort, clientPort: input.clientPort }));

const workerGroupSchema = z
  .strictObject({
    name: name.describe('the group; nodes are <cluster>-<group>-<n>'),
    ...nodeShapeFields,
    min: z.number().int().min(0).default(0).describe('workers kept at all times; `up` starts this many'),
    max: z.number().int().min(0).default(5).describe('workers the watcher may run at most'),
  })
  .refine((group) => group.min <= group.max, { message: 'min must not exceed max', path: ['min'] })
  .transform((input): WorkerGroupSpec => ({ name: input.name, ...toShape(input), min: input.min, max: input.max }));

const providerSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('local'), stateDir: z.string().optional().describe("where the cluster's state lives") }),
  z.strictObject({
    type: z.literal('docker'),
    image: z.string().optional(),
    network: z.string().optional(),
    portOffset: z.number().int().min(0).default(0),
  }),
  z.strictObject({
    type: z.literal('cai'),
    host: z.string().optional(),
    projectId: z.string().optional(),
    runtimeIdentifier: z.string().optional(),
  }),
]);

const watcherSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('run the watcher (autoscaler) with the cluster'),
    interval: duration('time between two looks at the cluster').prefault('1s'),
    pendingThreshold: z.number().int().min(0).default(0).describe('no scale-up while at most this many requests wait'),
    cooldown: duration('no new scale-up within this long of the last one').prefault('0s'),
    idleTimeout: duration('a worker idle this long is drained and stopped').prefault('60s'),
    maxWorkers: z.number().int().min(0).default(10).describe('workers of all groups together, at most'),
    headAddress: z.string().optional().describe('host:port of the head, where it is not this machine (RAY_HEAD_ADDRESS)'),
    dashboardMetricApi: z.string().optional().describe("base URL of the dashboard's API for the fallback view (RAY_DASHBOARD_METRIC_API)"),
  })
  .transform(
    (input): WatcherSpec => ({
      enabled: input.enabled,
      intervalMs: input.interval,
      pendingThreshold: input.pendingThreshold,
      cooldownMs: input.cooldown,
      idleTimeoutMs: input.idleTimeout,
      maxWorkers: input.maxWorkers,
      headAddress: input.headAddress,
      dashboardMetricApi: input.dashboardMetricApi,
    }),
  );

export const clusterSpecSchema = z
  .strictObject({
    name: name.default('ray').describe('the cluster; its nodes are <name>-head, <name>-worker-1, …'),
    ray: z
      .strictObject({
        version: z.string().default(DEFAULT_RAY_VERSION).describe('the Ray rayfleet installs in its venv'),
        python: z.string().optional().describe('an existing interpreter with Ray, instead of the managed venv'),
      })
      .prefault({}),
    provider: providerSchema.prefault({ type: 'local' }),
    head: headSchema.prefault({}),
    workerGroups: z
      .array(workerGroupSchema)
      .min(1, 'at least one worker group is needed')
      .prefault([{ name: 'worker', min: 2, max: 5 }]),
    watcher: watcherSchema.prefault({}),
  })
  .superRefine((spec, context) => {
    const seen = new Set<string>();
    spec.workerGroups.forEach((group, index) => {
      if (group.name === 'head') context.addIssue({ code: 'custom', message: '"head" is the head node\'s group, not a worker group name', path: ['workerGroups', index, 'name'] });
      if (seen.has(group.name)) context.addIssue({ code: 'custom', message: `group name ${group.name} is used twice`, path: ['workerGroups', index, 'name'] });
      seen.add(group.name);
    });
    const mins = spec.workerGroups.reduce((total, group) => total + group.min, 0);
    if (mins > spec.watcher.maxWorkers) {
      context.addIssue({ code: 'custom', message: `the groups' mins add up to ${mins}, more than maxWorkers ${spec.watcher.maxWorkers}`, path: ['watcher', 'maxWorkers'] });
    }
  })
  .transform((spec): ClusterSpec => spec);

/** The JSON Schema of rayfleet.yaml (draft 7, the input side: defaulted fields are optional), for editors. */
export function clusterSpecJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(clusterSpecSchema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as Record<string, unknown>;
}
