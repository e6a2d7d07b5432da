// The one table of rayfleet.yaml's fields that are set from outside the file or shown apart from it: each field's path,
// its flag, its environment variable, its key in the resolved spec and how its value displays. Overrides
// (spec/overrides.ts), live patches from flags (`watch`, `watcher start`) and the labels of a spec diff (fleet/spec-changes.ts)
// are read from it.
import type { EnvironmentVariable } from '../environment.js';
import type { SpecOverrides } from './overrides.js';

/** In a path, the worker group a flag or variable sets (`worker`, else the first); in a diff, any group. */
export const WORKER_GROUP = 'workerGroups[]';

export interface SpecField {
  /** Where the field sits in rayfleet.yaml, dotted: `watcher.interval`, `workerGroups[].cpus`. */
  path: string;
  /** Its key in the resolved ClusterSpec where the file's unit is resolved away: `intervalMs` for `interval`. */
  resolvedKey?: string;
  /** How a resolved value displays: a duration (`1m30s`), a size (`1GiB`); anything else as it is. */
  display?: 'duration' | 'size';
  /** The variable that sets it over the file; `numeric`: its text is read as a number when it is one. */
  env?: { name: EnvironmentVariable; numeric?: true };
  /** The flag that sets it over the environment, by commander's key: `checkInterval` is `--check-interval`. */
  flag?: keyof SpecOverrides;
}

/** A type other than the file's replaces the file's provider, whose settings belong to the other backend. */
export const PROVIDER_TYPE: SpecField = { path: 'provider.type', env: { name: 'RAYFLEET_PROVIDER' }, flag: 'provider' };
/** The old toolkit's RAY_IMAGE_VERSION held a whole image reference; it means something only to a provider with an image (Docker). */
export const PROVIDER_IMAGE: SpecField = { path: 'provider.image', env: { name: 'RAY_IMAGE_VERSION' }, flag: 'image' };
/** `--num-workers` also grows the group's max and maxWorkers to fit. */
export const WORKER_GROUP_MIN: SpecField = { path: `${WORKER_GROUP}.min`, flag: 'numWorkers' };

/**
 * Every such field. The three above have rules of their own in overrides.ts beyond what a row says.
 */
export const SPEC_FIELDS: readonly SpecField[] = [
  { path: 'name', env: { name: 'RAYFLEET_CLUSTER' }, flag: 'cluster' },
  { path: 'ray.python', env: { name: 'RAYFLEET_PYTHON' }, flag: 'python' },
  PROVIDER_TYPE,
  PROVIDER_IMAGE,
  // The old flags were "per Ray node": they size the head and the default workers alike.
  { path: 'head.cpus', flag: 'numCpus' },
  { path: 'head.gpus', flag: 'numGpus' },
  { path: 'head.memory', resolvedKey: 'memoryBytes', display: 'size' },
  { path: 'head.objectStoreMemory', resolvedKey: 'objectStoreMemoryBytes', display: 'size', flag: 'objectStoreMemory' },
  // "Per new worker" in the old watcher: its variables size the default group, not the head.
  { path: `${WORKER_GROUP}.cpus`, env: { name: 'WATCHER_NUM_CPUS', numeric: true }, flag: 'numCpus' },
  { path: `${WORKER_GROUP}.gpus`, env: { name: 'WATCHER_NUM_GPUS', numeric: true }, flag: 'numGpus' },
  { path: `${WORKER_GROUP}.memory`, resolvedKey: 'memoryBytes', display: 'size' },
  { path: `${WORKER_GROUP}.objectStoreMemory`, resolvedKey: 'objectStoreMemoryBytes', display: 'size', env: { name: 'WATCHER_OBJECT_STORE_MEMORY' }, flag: 'objectStoreMemory' },
  WORKER_GROUP_MIN,
  { path: 'watcher.enabled', flag: 'watcher' },
  { path: 'watcher.interval', resolvedKey: 'intervalMs', display: 'duration', env: { name: 'WATCHER_CHECK_INTERVAL' }, flag: 'checkInterval' },
  { path: 'watcher.pendingThreshold', env: { name: 'WATCHER_PENDING_THRESHOLD', numeric: true }, flag: 'pendingThreshold' },
  { path: 'watcher.maxWorkers', env: { name: 'WATCHER_MAX_WORKERS', numeric: true }, flag: 'maxWorkers' },
  { path: 'watcher.cooldown', resolvedKey: 'cooldownMs', display: 'duration', env: { name: 'WATCHER_COOLDOWN' }, flag: 'cooldown' },
  { path: 'watcher.idleTimeout', resolvedKey: 'idleTimeoutMs', display: 'duration' },
  { path: 'watcher.launchTimeout', resolvedKey: 'launchTimeoutMs', display: 'duration' },
  { path: 'watcher.headAddress', env: { name: 'RAY_HEAD_ADDRESS' } },
  { path: 'watcher.dashboardMetricApi', env: { name: 'RAY_DASHBOARD_METRIC_API' } },
  { path: 'simulation.horizon', resolvedKey: 'horizonMs', display: 'duration' },
  { path: 'provider.insecureHostKeys', flag: 'insecureHostKeys' },
];

/** The flag as typed: commander's key in kebab case, `--no-watcher` for an explicit false. */
export function flagLabel(key: keyof SpecOverrides, value: unknown): string {
  return `--${value === false ? 'no-' : ''}${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/** The field at a path into the resolved spec, a group's by its name or not (`workerGroups[gpu].objectStoreMemoryBytes`). */
export function fieldAtResolvedPath(resolvedPath: string): SpecField | undefined {
  const generic = resolvedPath.replace(/^workerGroups\[[^\]]*\]/, WORKER_GROUP);
  return SPEC_FIELDS.find((field) => withLastKey(field.path, resolvedKeyOf(field)) === generic);
}

/** The field's key in the resolved spec: `intervalMs` for `watcher.interval`, `maxWorkers` for `watcher.maxWorkers`. */
export function resolvedKeyOf(field: SpecField): string {
  return field.resolvedKey ?? lastKeyOf(field.path);
}

/** The last key of a dotted path: `interval` of `watcher.interval`. */
export function lastKeyOf(path: string): string {
  return path.slice(path.lastIndexOf('.') + 1);
}

/** The dotted path with its last key replaced: `watcher.intervalMs` as `watcher.interval`, and back. */
export function withLastKey(path: string, key: string): string {
  return `${path.slice(0, path.lastIndexOf('.') + 1)}${key}`;
}
