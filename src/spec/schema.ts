// The cluster spec: rayfleet.yaml's schema (zod), its defaults, the resolved types, and its JSON Schema for editors.
import { z } from 'zod';
import { isRayfleetError } from '../errors.js';
import { formatDuration, parseDuration } from './durations.js';
import { simulationSettingsSchema, type SimulationSettings } from './simulation.js';
import { formatSize, parseSize } from './sizes.js';

/** The one place the Ray version rayfleet installs is pinned. */
export const DEFAULT_RAY_VERSION = '2.60.0';
/** A worker group's `max` when the file leaves it out. */
export const DEFAULT_GROUP_MAX = 5;
/** `watcher.maxWorkers` when the file leaves it out. */
export const DEFAULT_MAX_WORKERS = 10;
/** The worker groups of a spec that names none: the old toolkit's two workers. */
export const DEFAULT_WORKER_GROUPS = [{ name: 'worker', min: 2, max: DEFAULT_GROUP_MAX }];

/** Ray refuses an object store smaller than this. */
const MIN_OBJECT_STORE_BYTES = 75 * 2 ** 20;

export interface NodeShape {
  cpus: number;
  gpus: number;
  memoryBytes?: number;
  objectStoreMemoryBytes?: number;
  resources: Record<string, number>;
}

/** The head's ports on the machine that reaches it. */
export interface HeadPorts {
  gcsPort: number;
  dashboardPort: number;
  clientPort: number;
  servePort: number;
}

/** The old toolkit's ports: a port the spec leaves unset takes its default here when it is free at `up`, else a free one. */
export const DEFAULT_HEAD_PORTS: HeadPorts = { gcsPort: 6379, dashboardPort: 8265, clientPort: 10001, servePort: 8000 };

/** The head as declared: a port left out is chosen at `up` and kept in the cluster's record, not in the spec. */
export interface HeadSpec extends NodeShape, Partial<HeadPorts> {
  /** The GCS keeps its state in an embedded store in the cluster's state, and the watcher restarts a head that died. */
  faultTolerance?: boolean;
}

export interface WorkerGroupSpec extends NodeShape {
  name: string;
  min: number;
  max: number;
  /** On cai: this group's CML runtime, e.g. a CUDA one for a GPU group. */
  runtimeIdentifier?: string;
}

export interface WatcherSpec {
  enabled: boolean;
  intervalMs: number;
  pendingThreshold: number;
  cooldownMs: number;
  idleTimeoutMs: number;
  maxWorkers: number;
  /** A launch not alive in Ray after this long has failed; unset, the provider's own default. */
  launchTimeoutMs?: number;
  /** Observe only: the watcher journals what it would have done, and does nothing. */
  paused?: boolean;
  headAddress?: string;
  dashboardMetricApi?: string;
}

export type ProviderSpec =
  | { type: 'local'; stateDir?: string }
  | { type: 'docker'; image?: string; network?: string; portOffset?: number; workspace?: string; logsDir?: string }
  | { type: 'cai'; host?: string; projectId?: string; runtimeIdentifier?: string; venv?: string; frontDoor?: FrontDoorMode; /** Bytes. */ frontDoorBodyLimit?: number }
  | {
      type: 'ssh';
      hosts: SshHostSpec[];
      /** The login of every host that names none; else the current user or ~/.ssh/config's. */
      user?: string | undefined;
      identityFile?: string | undefined;
      /** An ssh_config of its own (ssh -F), instead of ~/.ssh/config. */
      sshConfig?: string | undefined;
      /** An interpreter with Ray on every host; unset, rayfleet installs its managed runtime on each. */
      python?: string | undefined;
      /** The address of the host the head runs on; unset, the first host's. */
      headHost?: string | undefined;
      /** Accept any host key and remember none: for throwaway test hosts only. */
      insecureHostKeys?: boolean | undefined;
    };

/**
 * How commands outside CML's network reach a Cloudera AI head: through its application with the API key (`api-key`), a
 * head application made public (`public`), whichever works (`auto`), or never (`off`: the pod address only).
 */
export const FRONT_DOOR_MODES = ['auto', 'api-key', 'public', 'off'] as const;
export type FrontDoorMode = (typeof FRONT_DOOR_MODES)[number];

/** One machine of an SSH pool. */
export interface SshHostSpec {
  /** A name or address this machine's `ssh` reaches, and the other hosts reach it by (Ray's nodes talk to each other). */
  address: string;
  user?: string | undefined;
  port?: number | undefined;
  /** What the host offers rayfleet's nodes; unset, asked of the host (nproc, MemTotal, nvidia-smi). */
  cpus?: number | undefined;
  gpus?: number | undefined;
  memoryBytes?: number | undefined;
}

/** Every backend a spec can name, for `--provider`'s choices and the check that no code outside providers/ branches on one. */
export const PROVIDER_TYPES = ['local', 'docker', 'cai', 'ssh'] as const satisfies readonly ProviderSpec['type'][];
/** A backend added to ProviderSpec and not to PROVIDER_TYPES does not compile. */
true satisfies ProviderSpec['type'] extends (typeof PROVIDER_TYPES)[number] ? true : false;

/** The machine's control plane (REST API and web page), which `up` starts when none runs. */
export interface DashboardSpec {
  enabled: boolean;
  port: number;
}

export interface ClusterSpec {
  name: string;
  ray: { version: string; python?: string };
  provider: ProviderSpec;
  head: HeadSpec;
  workerGroups: WorkerGroupSpec[];
  watcher: WatcherSpec;
  dashboard: DashboardSpec;
  /** How `rayfleet simulate` models this cluster's machines; present only when the file has the section. A real cluster ignores it. */
  simulation?: SimulationSettings;
}

// Defaults of transformed fields use .prefault(): zod 4 parses a prefault as input, while a .default() would skip the transform.

/** A number or text read by one of our parsers; the parser's RayfleetError message becomes the zod issue. */
function parsedWith(parse: (input: string | number) => number, description: string, example: string) {
  return z
    .union([z.number(), z.string()], { error: `expected ${example}` })
    .describe(`${description}: ${example}`)
    .transform((input, context) => {
      try {
        return parse(input);
      } catch (error) {
        context.addIssue({ code: 'custom', message: isRayfleetError(error) ? error.message : String(error) });
        return z.NEVER;
      }
    });
}

const size = (description: string) => parsedWith(parseSize, description, 'bytes, or a size such as 1GB, 512MiB, 1GiB');
/** Past a week a duration is a typo; it also keeps every wait far below what a timer can hold (2^31 ms, about 24.8 days). */
export const MAX_DURATION_MS = 7 * 24 * 3_600_000;
/** Faster than this the watcher busy-loops the GCS and the provider; slower than an hour it is not watching. */
export const WATCHER_INTERVAL_BOUNDS = { minMs: 100, maxMs: 3_600_000 } as const;

/** A duration in milliseconds, refused outside [minMs, maxMs]. */
function duration(description: string, { minMs = 0, maxMs = MAX_DURATION_MS }: { minMs?: number; maxMs?: number } = {}) {
  const range = minMs === 0 ? `at most ${formatDuration(maxMs)}` : `${formatDuration(minMs)} to ${formatDuration(maxMs)}`;
  return parsedWith(parseDuration, `${description}; ${range}`, 'seconds, or a duration such as 500ms, 30s, 5m, 1m30s').refine((ms) => ms >= minMs && ms <= maxMs, {
    error: (issue) => {
      const ms = Number(issue.input);
      return ms < minMs ? `${formatDuration(ms)} is shorter than ${formatDuration(minMs)}, the least it may be` : `${formatDuration(ms)} is longer than ${formatDuration(maxMs)}, the most it may be`;
    },
  });
}
const wholeNumber = (fallback: number, description: string) => z.number().int().min(0).default(fallback).describe(description);
const port = (fallback: number, description: string) =>
  z.number().int().min(1).max(65535).optional().describe(`${description} (default ${fallback} when free at \`up\`, else a free port)`);
const name = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'must start with a letter a-z and hold only a-z, 0-9 and -, at most 31 characters');

const nodeShapeFields = {
  cpus: z.number().min(0).default(1).describe('CPUs Ray schedules on this node'),
  gpus: z.number().min(0).default(0).describe('GPUs Ray schedules on this node'),
  memory: size("Ray's logical memory of the node (default: what Ray detects)").optional(),
  objectStoreMemory: size('object store of the node')
    .prefault('1GiB')
    .refine((bytes) => bytes >= MIN_OBJECT_STORE_BYTES, {
      error: (issue) => `${formatSize(Number(issue.input))} is below Ray's smallest object store, ${formatSize(MIN_OBJECT_STORE_BYTES)}`,
    }),
  resources: z.record(z.string(), z.number().min(0)).default({}).describe('custom resources, e.g. { TPU: 4 }'),
};

function toShape(input: { cpus: number; gpus: number; memory?: number | undefined; objectStoreMemory: number; resources: Record<string, number> }): NodeShape {
  return { cpus: input.cpus, gpus: input.gpus, memoryBytes: input.memory, objectStoreMemoryBytes: input.objectStoreMemory, resources: input.resources };
}

const headSchema = z
  .strictObject({
    ...nodeShapeFields,
    gcsPort: port(DEFAULT_HEAD_PORTS.gcsPort, 'the GCS port workers and drivers connect to (ray start --port)'),
    dashboardPort: port(DEFAULT_HEAD_PORTS.dashboardPort, "Ray's dashboard and REST API"),
    clientPort: port(DEFAULT_HEAD_PORTS.clientPort, 'the Ray client server (ray://)'),
    servePort: port(DEFAULT_HEAD_PORTS.servePort, "Ray Serve's HTTP proxy"),
    faultTolerance: z
      .boolean()
      .default(false)
      .describe("the GCS keeps its state in an embedded store (RAY_gcs_storage=rocksdb) in the cluster's state, workers ride out its restart, and the watcher restarts a head that died on the same ports"),
  })
  .transform((input): HeadSpec => {
    const ports = { gcsPort: input.gcsPort, dashboardPort: input.dashboardPort, clientPort: input.clientPort, servePort: input.servePort };
    // Only the ports the spec sets: an unset one is chosen at `up`, and a saved spec compares equal to the file that made it.
    return {
      ...toShape(input),
      ...Object.fromEntries(Object.entries(ports).filter(([, value]) => value !== undefined)),
      ...(input.faultTolerance ? { faultTolerance: true } : {}),
    };
  });

const workerGroupSchema = z
  .strictObject({
    name: name.describe('the group; its nodes are <cluster>-<group>-<n>, or <cluster>-worker-<n> for the group "worker"'),
    ...nodeShapeFields,
    // A group starts nothing unless asked: a GPU group written as { name: gpu, max: 2 } should not start GPUs on `up`.
    min: wholeNumber(0, 'workers kept at all times; `up` starts this many'),
    max: wholeNumber(DEFAULT_GROUP_MAX, 'workers the watcher may run at most'),
    runtimeIdentifier: z.string().min(1).optional().describe("on cai: this group's CML runtime (e.g. a CUDA one for GPUs), else the provider's"),
  })
  .superRefine((group, context) => {
    if (group.min > group.max) context.addIssue({ code: 'custom', message: `min ${group.min} is more than max ${group.max}`, path: ['min'] });
  })
  .transform(
    (input): WorkerGroupSpec => ({
      name: input.name,
      ...toShape(input),
      min: input.min,
      max: input.max,
      ...(input.runtimeIdentifier === undefined ? {} : { runtimeIdentifier: input.runtimeIdentifier }),
    }),
  );

const providerSchema = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('local').describe('processes on this machine'),
      stateDir: z.string().optional().describe("where the cluster's state lives (default: the user's state directory)"),
    }),
    z.strictObject({
      type: z.literal('docker').describe('one container per node, through the Docker Engine API'),
      image: z.string().min(1).optional().describe('the image every node runs, with `ray` on its PATH (RAY_IMAGE_VERSION; default rayproject/ray:<ray.version>)'),
      network: z.string().min(1).optional().describe('the Docker network the nodes share (default <name>-cluster: ray-cluster, as the old toolkit)'),
      portOffset: z
        .number()
        .int()
        .min(0)
        .optional()
        .describe("added to the head's published ports (default 0 when those are free at `up`, else an offset that makes them free)"),
      workspace: z.string().min(1).optional().describe('a host directory mounted at /workspace, the working directory of every node (the old -v $(pwd):/workspace)'),
      logsDir: z.string().min(1).optional().describe("a host directory that receives each node's Ray logs under <dir>/<node>/ (the old -v $(pwd)/logs:/tmp/ray)"),
    }),
    z.strictObject({
      type: z.literal('cai').describe('one Cloudera AI (CML) application per node'),
      host: z.string().optional().describe('the CML workspace URL'),
      projectId: z.string().optional().describe('the CML project the applications run in'),
      runtimeIdentifier: z.string().min(1).optional().describe('the CML runtime of the applications: an image_identifier from `rayfleet cai runtimes`'),
      venv: z.string().min(1).optional().describe("the venv with Ray that `rayfleet cai setup` builds in the project (default /home/cdsw/.venv)"),
      frontDoor: z
        .enum(FRONT_DOOR_MODES)
        .optional()
        .describe("how commands outside CML's network reach the head application: auto (default) | api-key | public | off"),
      frontDoorBodyLimit: size("the largest request the workspace's ingress takes (default 100MiB): a bigger package fails before upload").optional(),
    }),
    z
      .strictObject({
        type: z.literal('ssh').describe('machines reached over SSH, one `ray start` per node on a host with room for it'),
        hosts: z
          .array(
            z
              .strictObject({
                address: z.string().min(1).describe('a name or address ssh reaches, and the other hosts reach it by'),
                user: z.string().min(1).optional().describe('the login on this host'),
                port: z.number().int().min(1).max(65535).optional().describe("the host's SSH port"),
                cpus: z.number().min(0).optional().describe("CPUs rayfleet's nodes may take here (default: the host's nproc)"),
                gpus: z.number().int().min(0).optional().describe('GPUs rayfleet\'s nodes may take here (default: nvidia-smi -L)'),
                memory: size("memory rayfleet's nodes may take here (default: the host's MemTotal)").optional(),
              })
              .transform(({ memory, ...host }): SshHostSpec => ({ ...host, ...(memory === undefined ? {} : { memoryBytes: memory }) })),
          )
          .min(1, 'at least one host is needed')
          .describe('the machines of the pool; the head runs on the first unless headHost names another'),
        user: z.string().min(1).optional().describe('the login of every host that names none (default: as ssh decides)'),
        identityFile: z.string().min(1).optional().describe('a private key (default: the agent and ~/.ssh/config, as ssh does)'),
        sshConfig: z.string().min(1).optional().describe('an ssh_config file of its own (ssh -F), instead of ~/.ssh/config'),
        python: z.string().min(1).optional().describe("an interpreter with Ray on every host (default: rayfleet installs its runtime on each from wheels it sends)"),
        headHost: z.string().min(1).optional().describe("the address of the host the head runs on (default: the first host's)"),
        insecureHostKeys: z.boolean().optional().describe('accept any host key and remember none: for throwaway test hosts only'),
      })
      .superRefine((pool, context) => {
        const seen = new Set<string>();
        pool.hosts.forEach((host, index) => {
          if (seen.has(host.address)) context.addIssue({ code: 'custom', message: `host ${host.address} is listed twice`, path: ['hosts', index, 'address'] });
          seen.add(host.address);
        });
        if (pool.headHost !== undefined && !seen.has(pool.headHost)) context.addIssue({ code: 'custom', message: `${pool.headHost} is not one of the hosts`, path: ['headHost'] });
      }),
  ])
  .describe('where the nodes run: local | docker | cai | ssh');

/** The settings the provider of a type takes (`image` for one, not another): the schema says, so no caller names a backend. */
const PROVIDER_SETTINGS = new Map<string, ReadonlySet<string>>(providerSchema.options.map((option) => [option.shape.type.value, new Set(Object.keys(option.shape))]));

/** Whether a provider of this type has a setting of this name; false for a type that is none. */
export function providerTakesSetting(type: unknown, setting: string): boolean {
  return typeof type === 'string' && PROVIDER_SETTINGS.get(type)?.has(setting) === true;
}

const watcherSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('run the watcher (autoscaler) with the cluster'),
    interval: duration('time between two looks at the cluster (WATCHER_CHECK_INTERVAL)', WATCHER_INTERVAL_BOUNDS).prefault('1s'),
    pendingThreshold: wholeNumber(0, 'no scale-up while at most this many requests wait (WATCHER_PENDING_THRESHOLD)'),
    cooldown: duration('no new scale-up within this long of the last one (WATCHER_COOLDOWN)').prefault('0s'),
    idleTimeout: duration('a worker idle this long is drained and stopped').prefault('60s'),
    maxWorkers: wholeNumber(DEFAULT_MAX_WORKERS, 'workers of all groups together, at most (WATCHER_MAX_WORKERS)'),
    launchTimeout: duration("a launch not alive in Ray after this long has failed (default by provider: local 2m, docker 3m, cai 15m)").optional(),
    paused: z.boolean().default(false).describe('observe only: journal what the watcher would do, and do nothing'),
    headAddress: z.string().optional().describe('the Ray client address (host:port) of a head started elsewhere, for `env` where no cluster is up here (RAY_HEAD_ADDRESS)'),
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
      ...(input.launchTimeout === undefined ? {} : { launchTimeoutMs: input.launchTimeout }),
      paused: input.paused,
      headAddress: input.headAddress,
      dashboardMetricApi: input.dashboardMetricApi,
    }),
  );

/** rayfleet.yaml: validates the input and resolves it to a ClusterSpec. */
export const clusterSpecSchema = z
  .strictObject({
    name: name.default('ray').describe('the cluster (RAYFLEET_CLUSTER); its nodes are <name>-head, <name>-worker-1, …'),
    ray: z
      .strictObject({
        version: z.string().default(DEFAULT_RAY_VERSION).describe('the Ray rayfleet installs in its venv'),
        python: z.string().optional().describe('an existing interpreter with Ray, instead of the managed venv (RAYFLEET_PYTHON)'),
      })
      .prefault({})
      .describe('the Ray the nodes run'),
    provider: providerSchema.prefault({ type: 'local' }),
    head: headSchema.prefault({}).describe('the head node: its shape and ports'),
    workerGroups: z
      .array(workerGroupSchema)
      .min(1, 'at least one worker group is needed')
      .prefault(DEFAULT_WORKER_GROUPS)
      .describe('the shapes of workers, each with its own min and max'),
    watcher: watcherSchema.prefault({}).describe('the autoscaler: when it adds and removes workers'),
    dashboard: z
      .strictObject({
        enabled: z.boolean().default(true).describe('`up` starts the dashboard in the background when none runs on this machine'),
        port: z.number().int().min(1).max(65535).default(8266).describe("the dashboard's port on 127.0.0.1 (a free one when taken)"),
      })
      .prefault({})
      .describe("rayfleet's dashboard and REST API, one per machine for all its clusters"),
    simulation: simulationSettingsSchema
      .optional()
      .describe('for `rayfleet simulate` only: launch and stop latency as distributions, launch failures, quotas and prices of these machines'),
  })
  .superRefine((spec, context) => {
    const seen = new Set<string>();
    spec.workerGroups.forEach((group, index) => {
      if (group.name === 'head') context.addIssue({ code: 'custom', message: '"head" names the head node, not a worker group', path: ['workerGroups', index, 'name'] });
      if (seen.has(group.name)) context.addIssue({ code: 'custom', message: `group name ${group.name} is used twice`, path: ['workerGroups', index, 'name'] });
      seen.add(group.name);
    });
    const mins = spec.workerGroups.reduce((total, group) => total + group.min, 0);
    if (mins > spec.watcher.maxWorkers) {
      context.addIssue({ code: 'custom', message: `the groups' mins add up to ${mins}, more than maxWorkers ${spec.watcher.maxWorkers}`, path: ['watcher', 'maxWorkers'] });
    }
  })
  // Ends on the declared type, so a schema that drifts from ClusterSpec does not compile.
  .transform((spec): ClusterSpec => spec);

/** The JSON Schema of rayfleet.yaml (draft 7, the input side: fields with defaults are optional), for editors. */
export function clusterSpecJsonSchema(): object {
  return z.toJSONSchema(clusterSpecSchema, { io: 'input', target: 'draft-7' });
}
