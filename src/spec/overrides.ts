// Flags and environment variables over the file: the old toolkit's names, applied to the raw spec before validation.
import type { EnvironmentVariable } from '../environment.js';
import { DEFAULT_GROUP_MAX, DEFAULT_MAX_WORKERS, DEFAULT_WORKER_GROUPS } from './schema.js';

/** Flags that change the spec; flags win over the environment, which wins over the file. */
export interface SpecOverrides {
  cluster?: string;
  numWorkers?: number;
  numCpus?: number;
  numGpus?: number;
  objectStoreMemory?: string;
  checkInterval?: string;
  pendingThreshold?: number;
  maxWorkers?: number;
  cooldown?: string;
  python?: string;
  watcher?: boolean;
  provider?: string;
  image?: string;
}

/** The spec as YAML gave it, before validation. */
export type RawSpec = Record<string, unknown>;

/** Where each overridden value came from, by its dotted path in the spec: `env WATCHER_MAX_WORKERS`, `flag --num-workers`. */
export type Origins = Map<string, string>;

/** Stands in a path for the default worker group: the group named `worker`, else the first. */
const DEFAULT_GROUP = Symbol('default worker group');
type Path = ReadonlyArray<string | typeof DEFAULT_GROUP>;

/** The environment variables read, and nothing else: the old toolkit's and rayfleet's own. */
const ENV_VARS: ReadonlyArray<{ variable: EnvironmentVariable; path: Path; numeric?: true }> = [
  { variable: 'RAYFLEET_CLUSTER', path: ['name'] },
  { variable: 'RAYFLEET_PYTHON', path: ['ray', 'python'] },
  { variable: 'RAY_HEAD_ADDRESS', path: ['watcher', 'headAddress'] },
  { variable: 'RAY_DASHBOARD_METRIC_API', path: ['watcher', 'dashboardMetricApi'] },
  { variable: 'WATCHER_CHECK_INTERVAL', path: ['watcher', 'interval'] },
  { variable: 'WATCHER_PENDING_THRESHOLD', path: ['watcher', 'pendingThreshold'], numeric: true },
  { variable: 'WATCHER_MAX_WORKERS', path: ['watcher', 'maxWorkers'], numeric: true },
  { variable: 'WATCHER_COOLDOWN', path: ['watcher', 'cooldown'] },
  // "Per new worker" in the old watcher: the default group's shape, not the head's.
  { variable: 'WATCHER_NUM_CPUS', path: [DEFAULT_GROUP, 'cpus'], numeric: true },
  { variable: 'WATCHER_NUM_GPUS', path: [DEFAULT_GROUP, 'gpus'], numeric: true },
  { variable: 'WATCHER_OBJECT_STORE_MEMORY', path: [DEFAULT_GROUP, 'objectStoreMemory'] },
];

/** Applies env, then flags, to the raw spec in place, and says where each value it set came from. */
export function applyOverrides(raw: RawSpec, env: Record<string, string | undefined>, flags: SpecOverrides): Origins {
  const origins: Origins = new Map();
  const set = (path: Path, value: unknown, origin: string): void => {
    const resolved = path.flatMap((key) => (key === DEFAULT_GROUP ? ['workerGroups', defaultGroupIndex(raw)] : [key]));
    if (setIn(raw, resolved, value)) origins.set(resolved.join('.'), origin);
  };

  // The backend first: a type other than the file's replaces the file's provider, whose settings belong to the other backend.
  const setProviderType = (type: string | undefined, origin: string): void => {
    if (type === undefined || type.trim() === '') return;
    if (asRecord(raw.provider).type !== type) raw.provider = { type };
    origins.set('provider.type', origin);
  };
  /** The old toolkit's RAY_IMAGE_VERSION held a whole image reference; it means something only to a Docker cluster. */
  const setImage = (image: string | undefined, origin: string): void => {
    if (image === undefined || image.trim() === '' || asRecord(raw.provider).type !== 'docker') return;
    set(['provider', 'image'], image, origin);
  };
  setProviderType(env.RAYFLEET_PROVIDER, 'env RAYFLEET_PROVIDER');
  setImage(env.RAY_IMAGE_VERSION, 'env RAY_IMAGE_VERSION');
  setProviderType(flags.provider, 'flag --provider');
  setImage(flags.image, 'flag --image');

  for (const { variable, path, numeric } of ENV_VARS) {
    const text = env[variable];
    if (text === undefined || text.trim() === '') continue;
    // Text that is not a number stays text, so validation reports it against the variable.
    set(path, numeric && Number.isFinite(Number(text)) ? Number(text) : text, `env ${variable}`);
  }

  const flag = (value: unknown, label: string, ...paths: Path[]): void => {
    if (value !== undefined) for (const path of paths) set(path, value, `flag ${label}`);
  };
  flag(flags.cluster, '--cluster', ['name']);
  flag(flags.python, '--python', ['ray', 'python']);
  flag(flags.watcher, flags.watcher === false ? '--no-watcher' : '--watcher', ['watcher', 'enabled']);
  flag(flags.checkInterval, '--check-interval', ['watcher', 'interval']);
  flag(flags.pendingThreshold, '--pending-threshold', ['watcher', 'pendingThreshold']);
  flag(flags.maxWorkers, '--max-workers', ['watcher', 'maxWorkers']);
  flag(flags.cooldown, '--cooldown', ['watcher', 'cooldown']);
  // The old flags were "per Ray node": they size the head and the default workers alike.
  flag(flags.numCpus, '--num-cpus', ['head', 'cpus'], [DEFAULT_GROUP, 'cpus']);
  flag(flags.numGpus, '--num-gpus', ['head', 'gpus'], [DEFAULT_GROUP, 'gpus']);
  flag(flags.objectStoreMemory, '--object-store-memory', ['head', 'objectStoreMemory'], [DEFAULT_GROUP, 'objectStoreMemory']);

  if (flags.numWorkers !== undefined) {
    // --num-workers N is the default group's min; its max and maxWorkers grow to fit, but not past an explicit --max-workers: that conflict is reported.
    flag(flags.numWorkers, '--num-workers', [DEFAULT_GROUP, 'min']);
    const groups = Array.isArray(raw.workerGroups) ? raw.workerGroups.map(asRecord) : [];
    const group = groups[defaultGroupIndex(raw)] ?? {};
    if (flags.numWorkers > numberOr(group.max, DEFAULT_GROUP_MAX)) flag(flags.numWorkers, '--num-workers', [DEFAULT_GROUP, 'max']);
    const mins = groups.reduce((total, candidate) => total + numberOr(candidate.min, 0), 0);
    if (flags.maxWorkers === undefined && mins > numberOr(asRecord(raw.watcher).maxWorkers, DEFAULT_MAX_WORKERS)) flag(mins, '--num-workers', ['watcher', 'maxWorkers']);
  }
  return origins;
}

/** The index of the default worker group; a spec without groups gets the default ones written out, so they can be changed. */
function defaultGroupIndex(raw: RawSpec): number {
  if (raw.workerGroups === undefined) raw.workerGroups = structuredClone(DEFAULT_WORKER_GROUPS);
  const groups = Array.isArray(raw.workerGroups) ? raw.workerGroups.map(asRecord) : [];
  const index = groups.findIndex((group) => group.name === 'worker');
  return index === -1 ? 0 : index;
}

/**
 * Sets a value, creating missing mappings on the way. A file value of the wrong shape, or a missing list item,
 * is left alone for validation to report against the file.
 */
function setIn(raw: RawSpec, path: ReadonlyArray<string | number>, value: unknown): boolean {
  let node: Record<string | number, unknown> = raw;
  for (const key of path.slice(0, -1)) {
    if (node[key] === undefined && !Array.isArray(node)) node[key] = {};
    const next = node[key];
    if (typeof next !== 'object' || next === null) return false;
    node = next as Record<string | number, unknown>;
  }
  const last = path.at(-1);
  if (last === undefined) return false;
  node[last] = value;
  return true;
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}
