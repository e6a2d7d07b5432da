// Flags and environment variables over the file: the old toolkit's names, applied to the raw spec before validation.

/** Flags that change the spec; flags win over the environment, which wins over the file. */
export interface SpecOverrides {
  cluster?: string | undefined;
  numWorkers?: number | undefined;
  numCpus?: number | undefined;
  numGpus?: number | undefined;
  objectStoreMemory?: string | undefined;
  checkInterval?: string | undefined;
  pendingThreshold?: number | undefined;
  maxWorkers?: number | undefined;
  cooldown?: string | undefined;
  python?: string | undefined;
  watcher?: boolean | undefined;
}

type RawSpec = Record<string, unknown>;
/** Where a value came from, by its dotted path in the spec: `env WATCHER_MAX_WORKERS`, `flag --num-workers`. */
export type Origins = Map<string, string>;

type Target = 'name' | 'python' | 'headAddress' | 'dashboardMetricApi' | 'interval' | 'pendingThreshold' | 'maxWorkers' | 'cooldown' | 'workerCpus' | 'workerGpus' | 'workerObjectStore';

/** The environment variables read, and nothing else: the old toolkit's and rayfleet's own. */
const ENV_TARGETS: ReadonlyArray<[string, Target, 'string' | 'number']> = [
  ['RAYFLEET_CLUSTER', 'name', 'string'],
  ['RAYFLEET_PYTHON', 'python', 'string'],
  ['RAY_HEAD_ADDRESS', 'headAddress', 'string'],
  ['RAY_DASHBOARD_METRIC_API', 'dashboardMetricApi', 'string'],
  ['WATCHER_CHECK_INTERVAL', 'interval', 'string'],
  ['WATCHER_PENDING_THRESHOLD', 'pendingThreshold', 'number'],
  ['WATCHER_MAX_WORKERS', 'maxWorkers', 'number'],
  ['WATCHER_COOLDOWN', 'cooldown', 'string'],
  ['WATCHER_NUM_CPUS', 'workerCpus', 'number'],
  ['WATCHER_NUM_GPUS', 'workerGpus', 'number'],
  ['WATCHER_OBJECT_STORE_MEMORY', 'workerObjectStore', 'string'],
];

export const SPEC_ENV_VARS = ENV_TARGETS.map(([variable]) => variable);

/** Applies env then flags to the raw spec in place, and says where each overridden value came from. */
export function applyOverrides(raw: RawSpec, env: Record<string, string | undefined>, flags: SpecOverrides): Origins {
  const origins: Origins = new Map();
  for (const [variable, target, kind] of ENV_TARGETS) {
    const text = env[variable];
    if (text === undefined || text === '') continue;
    // A number that does not parse stays text, so validation reports it against the variable.
    const value = kind === 'number' && text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
    setTarget(raw, target, value, `env ${variable}`, origins);
  }
  const flag = (value: unknown, target: Target, label: string): void => {
    if (value !== undefined) setTarget(raw, target, value, `flag ${label}`, origins);
  };
  flag(flags.cluster, 'name', '--cluster');
  flag(flags.python, 'python', '--python');
  flag(flags.checkInterval, 'interval', '--check-interval');
  flag(flags.pendingThreshold, 'pendingThreshold', '--pending-threshold');
  flag(flags.maxWorkers, 'maxWorkers', '--max-workers');
  flag(flags.cooldown, 'cooldown', '--cooldown');
  if (flags.watcher !== undefined) set(raw, ['watcher', 'enabled'], flags.watcher, 'flag --no-watcher', origins);
  // The old flags were "per Ray node": they size the head and the default workers alike.
  for (const [value, field, label] of [
    [flags.numCpus, 'cpus', '--num-cpus'],
    [flags.numGpus, 'gpus', '--num-gpus'],
    [flags.objectStoreMemory, 'objectStoreMemory', '--object-store-memory'],
  ] as const) {
    if (value === undefined) continue;
    set(raw, ['head', field], value, `flag ${label}`, origins);
    set(raw, ['workerGroups', defaultGroupIndex(raw), field], value, `flag ${label}`, origins);
  }
  if (flags.numWorkers !== undefined) setWorkerCount(raw, flags.numWorkers, origins);
  return origins;
}

function setTarget(raw: RawSpec, target: Target, value: unknown, origin: string, origins: Origins): void {
  const paths: Record<Target, () => Array<string | number>> = {
    name: () => ['name'],
    python: () => ['ray', 'python'],
    headAddress: () => ['watcher', 'headAddress'],
    dashboardMetricApi: () => ['watcher', 'dashboardMetricApi'],
    interval: () => ['watcher', 'interval'],
    pendingThreshold: () => ['watcher', 'pendingThreshold'],
    maxWorkers: () => ['watcher', 'maxWorkers'],
    cooldown: () => ['watcher', 'cooldown'],
    workerCpus: () => ['workerGroups', defaultGroupIndex(raw), 'cpus'],
    workerGpus: () => ['workerGroups', defaultGroupIndex(raw), 'gpus'],
    workerObjectStore: () => ['workerGroups', defaultGroupIndex(raw), 'objectStoreMemory'],
  };
  set(raw, paths[target](), value, origin, origins);
}

/** `--num-workers N` is the default group's min; its max and the global max grow to fit when needed. */
function setWorkerCount(raw: RawSpec, count: number, origins: Origins): void {
  const index = defaultGroupIndex(raw);
  const groups = raw.workerGroups as Array<Record<string, unknown>>;
  const group = groups[index] ?? {};
  set(raw, ['workerGroups', index, 'min'], count, 'flag --num-workers', origins);
  if (typeof group.max !== 'number' || group.max < count) set(raw, ['workerGroups', index, 'max'], Math.max(count, typeof group.max === 'number' ? group.max : 5), 'flag --num-workers', origins);
  const mins = groups.reduce((total, candidate) => total + (typeof candidate.min === 'number' ? candidate.min : 0), 0);
  const watcher = (raw.watcher ?? {}) as Record<string, unknown>;
  if (mins > (typeof watcher.maxWorkers === 'number' ? watcher.maxWorkers : 10)) set(raw, ['watcher', 'maxWorkers'], mins, 'flag --num-workers', origins);
}

/** The group named `worker`, else the first; a spec without groups gets the default group written out so it can be changed. */
function defaultGroupIndex(raw: RawSpec): number {
  if (!Array.isArray(raw.workerGroups)) raw.workerGroups = [{ name: 'worker', min: 2, max: 5 }];
  const groups = raw.workerGroups as Array<Record<string, unknown>>;
  const index = groups.findIndex((group) => group.name === 'worker');
  return index === -1 ? 0 : index;
}

function set(raw: RawSpec, path: Array<string | number>, value: unknown, origin: string, origins: Origins): void {
  let node: Record<string | number, unknown> = raw;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string | number, unknown>;
  }
  node[path.at(-1) as string | number] = value;
  origins.set(path.join('.'), origin);
}
