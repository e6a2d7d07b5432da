// What changes between a running cluster's saved spec and a new one, which of it can be applied live, and applying it.
import { isDeepStrictEqual } from 'node:util';
import { RayfleetError } from '../errors.js';
import { formatDuration } from '../spec/durations.js';
import { fieldAtResolvedPath, lastKeyOf, withLastKey } from '../spec/field-table.js';
import { formatSize } from '../spec/sizes.js';
import type { ClusterSpec, WatcherSpec, WorkerGroupSpec } from '../spec/schema.js';
import { groupNamed } from '../spec/worker-groups.js';

export interface SpecChange {
  /** The field as rayfleet.yaml names it: `workerGroups[gpu].max`, `watcher.idleTimeout`. */
  field: string;
  saved: string;
  declared: string;
  /** Whether a running cluster takes it without a restart. */
  live: boolean;
}

/** Live changes another caller brings (the dashboard, `watcher start` flags): watcher settings and groups' bounds. */
export interface LiveSpecPatch {
  watcher?: Partial<Omit<WatcherSpec, 'enabled'>> & { enabled?: boolean };
  groups?: Array<{ name: string; min?: number; max?: number }>;
}

const LIVE_GROUP_FIELDS = new Set(['min', 'max']);

/** Every field whose value differs, compared as declared (ports chosen at `up` are not part of the spec). */
export function diffSpecs(saved: ClusterSpec, declared: ClusterSpec): SpecChange[] {
  const changes: SpecChange[] = [];
  const compare = (field: string, a: unknown, b: unknown, live: boolean): void => {
    if (isPlainObject(a) && isPlainObject(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) compare(`${field}.${key}`, a[key], b[key], live);
      return;
    }
    if (!isDeepStrictEqual(a, b)) changes.push({ field: displayName(field), saved: displayValue(field, a), declared: displayValue(field, b), live });
  };
  for (const key of ['name', 'ray', 'provider', 'head'] as const) compare(key, saved[key], declared[key], false);
  compare('watcher', saved.watcher, declared.watcher, true);
  // One dashboard serves the machine: `up` starts it when it is wanted and none runs.
  compare('dashboard', saved.dashboard, declared.dashboard, true);
  // Read only by `rayfleet simulate`: nothing running depends on it.
  compare('simulation', saved.simulation, declared.simulation, true);
  const savedGroups = new Map(saved.workerGroups.map((group) => [group.name, group]));
  const declaredGroups = new Map(declared.workerGroups.map((group) => [group.name, group]));
  for (const [name, group] of savedGroups) {
    const next = declaredGroups.get(name);
    // A group taken away still has nodes: only a restart removes them.
    if (next === undefined) changes.push({ field: `workerGroups[${name}]`, saved: describeGroup(group), declared: '(none)', live: false });
    else for (const key of new Set([...Object.keys(group), ...Object.keys(next)])) compareGroupField(name, key, group, next, compare);
  }
  for (const [name, group] of declaredGroups) {
    if (!savedGroups.has(name)) changes.push({ field: `workerGroups[${name}]`, saved: '(none)', declared: describeGroup(group), live: true });
  }
  return changes;
}

/** The saved spec with every live change applied; refuses with USAGE and the diff when any change needs a restart. */
export function applyDeclaredSpec(saved: ClusterSpec, declared: ClusterSpec): { spec: ClusterSpec; changes: SpecChange[] } {
  const changes = diffSpecs(saved, declared);
  const refused = changes.filter((change) => !change.live);
  if (refused.length > 0) {
    throw new RayfleetError('USAGE', `cluster ${saved.name} is up, and ${refused.length === 1 ? 'this change needs' : 'these changes need'} a restart`, {
      details: `${formatChanges(refused)}\nrun \`rayfleet restart\` to apply`,
    });
  }
  const workerGroups = [
    ...saved.workerGroups.map((group) => {
      const next = declared.workerGroups.find((candidate) => candidate.name === group.name);
      return next === undefined ? group : { ...group, min: next.min, max: next.max };
    }),
    ...declared.workerGroups.filter((group) => !saved.workerGroups.some((candidate) => candidate.name === group.name)),
  ];
  const { simulation: _savedSimulation, ...kept } = saved;
  const simulation = declared.simulation === undefined ? {} : { simulation: declared.simulation };
  return { spec: { ...kept, watcher: declared.watcher, dashboard: declared.dashboard, workerGroups, ...simulation }, changes };
}

/** The saved spec with a patch's settings; GROUP_NOT_FOUND for a group it does not have, SPEC_INVALID naming the field when the result would not hold. */
export function applyLivePatch(saved: ClusterSpec, patch: LiveSpecPatch): { spec: ClusterSpec; changes: SpecChange[] } {
  for (const change of patch.groups ?? []) groupNamed(saved, change.name);
  const spec: ClusterSpec = {
    ...saved,
    watcher: { ...saved.watcher, ...definedFields(patch.watcher ?? {}) },
    workerGroups: saved.workerGroups.map((group) => {
      const change = patch.groups?.find((candidate) => candidate.name === group.name);
      return change === undefined ? group : { ...group, ...definedFields({ min: change.min, max: change.max }) };
    }),
  };
  checkLiveInvariants(spec);
  return { spec, changes: diffSpecs(saved, spec) };
}

/** One change a line: `watcher.idleTimeout: 60s → 30s`. */
export function formatChanges(changes: SpecChange[]): string {
  return changes.map((change) => `  ${change.field}: ${change.saved} → ${change.declared}${change.live ? '' : '  (needs a restart)'}`).join('\n');
}

/** What the schema checks across fields, for a spec changed after it was validated. */
function checkLiveInvariants(spec: ClusterSpec): void {
  const problems: string[] = [];
  for (const group of spec.workerGroups) {
    if (!Number.isInteger(group.min) || group.min < 0) problems.push(`workerGroups[${group.name}].min: must be a whole number >= 0`);
    if (!Number.isInteger(group.max) || group.max < 0) problems.push(`workerGroups[${group.name}].max: must be a whole number >= 0`);
    if (group.min > group.max) problems.push(`workerGroups[${group.name}].min: ${group.min} is more than max ${group.max}`);
  }
  const mins = spec.workerGroups.reduce((total, group) => total + group.min, 0);
  if (mins > spec.watcher.maxWorkers) problems.push(`watcher.maxWorkers: the groups' mins add up to ${mins}, more than maxWorkers ${spec.watcher.maxWorkers}`);
  if (problems.length > 0) throw new RayfleetError('SPEC_INVALID', 'the change would make the spec invalid', { details: problems.join('\n') });
}

function compareGroupField(name: string, key: string, saved: WorkerGroupSpec, declared: WorkerGroupSpec, compare: (field: string, a: unknown, b: unknown, live: boolean) => void): void {
  const read = (group: WorkerGroupSpec): unknown => (group as unknown as Record<string, unknown>)[key];
  compare(`workerGroups[${name}].${key}`, read(saved), read(declared), LIVE_GROUP_FIELDS.has(key));
}

function describeGroup(group: WorkerGroupSpec): string {
  return `${group.cpus} CPU, ${group.gpus} GPU, min ${group.min}, max ${group.max}`;
}

/** A field as rayfleet.yaml names it: the resolved spec's `watcher.intervalMs` is the file's `watcher.interval`. */
function displayName(field: string): string {
  const known = fieldAtResolvedPath(field);
  return known === undefined ? field : withLastKey(field, lastKeyOf(known.path));
}

function displayValue(field: string, value: unknown): string {
  if (value === undefined) return '(unset)';
  const display = fieldAtResolvedPath(field)?.display;
  if (typeof value === 'number' && display === 'duration') return formatDuration(value);
  if (typeof value === 'number' && display === 'size') return formatSize(value);
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function definedFields<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}
