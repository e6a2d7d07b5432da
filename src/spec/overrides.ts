// Flags and environment variables over the file: the old toolkit's names, applied to the raw spec before validation.
import { flagLabel, PROVIDER_IMAGE, PROVIDER_TYPE, SPEC_FIELDS, WORKER_GROUP, WORKER_GROUP_MIN, type SpecField } from './field-table.js';
import { DEFAULT_GROUP_MAX, DEFAULT_MAX_WORKERS, DEFAULT_WORKER_GROUPS, providerTakesSetting } from './schema.js';

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
  insecureHostKeys?: boolean;
}

/** The spec as YAML gave it, before validation. */
export type RawSpec = Record<string, unknown>;

/** Where each overridden value came from, by its dotted path in the spec: `env WATCHER_MAX_WORKERS`, `flag --num-workers`. */
export type Origins = Map<string, string>;

/** The overrides among a command's parsed options: those the field table names a flag of. */
export function overridesIn(options: object): SpecOverrides {
  const given = options as Record<string, unknown>;
  return Object.fromEntries(SPEC_FIELDS.flatMap((field) => (field.flag === undefined || given[field.flag] === undefined ? [] : [[field.flag, given[field.flag]]])));
}

/** Fields whose flag or variable has a rule of its own below, beyond setting the value. */
const OWN_RULES: ReadonlySet<SpecField> = new Set([PROVIDER_TYPE, PROVIDER_IMAGE, WORKER_GROUP_MIN]);

/** Applies env, then flags, to the raw spec in place, as the field table says, and says where each value it set came from. */
export function applyOverrides(raw: RawSpec, env: Record<string, string | undefined>, flags: SpecOverrides): Origins {
  const origins: Origins = new Map();
  const set = (path: string, value: unknown, origin: string): void => {
    const resolved = path.split('.').flatMap((key) => (key === WORKER_GROUP ? ['workerGroups', defaultGroupIndex(raw)] : [key]));
    if (setIn(raw, resolved, value)) origins.set(resolved.join('.'), origin);
  };
  const fromEnv = (field: SpecField): void => {
    const text = field.env === undefined ? undefined : env[field.env.name];
    if (field.env === undefined || text === undefined || text.trim() === '') return;
    // Text that is not a number stays text, so validation reports it against the variable.
    set(field.path, field.env.numeric === true && Number.isFinite(Number(text)) ? Number(text) : text, `env ${field.env.name}`);
  };
  const fromFlag = (field: SpecField): void => {
    // A provider's own setting means something only to a provider whose schema takes it (--insecure-host-keys: SSH).
    if (field.path.startsWith('provider.') && !providerTakesSetting(asRecord(raw.provider).type, field.path.slice('provider.'.length))) return;
    const value = field.flag === undefined ? undefined : flags[field.flag];
    if (field.flag !== undefined && value !== undefined) set(field.path, value, `flag ${flagLabel(field.flag, value)}`);
  };
  // The backend first: its type decides what the image means, and which of the file's provider settings stay.
  const setProviderType = (type: string | undefined, origin: string): void => {
    if (type === undefined || type.trim() === '') return;
    if (asRecord(raw.provider).type !== type) raw.provider = { type };
    origins.set(PROVIDER_TYPE.path, origin);
  };
  const setImage = (image: string | undefined, origin: string): void => {
    if (image === undefined || image.trim() === '' || !providerTakesSetting(asRecord(raw.provider).type, 'image')) return;
    set(PROVIDER_IMAGE.path, image, origin);
  };
  const applyEnv = (field: SpecField, apply: (text: string | undefined, origin: string) => void): void => {
    if (field.env !== undefined) apply(env[field.env.name], `env ${field.env.name}`);
  };
  const applyFlag = (field: SpecField, apply: (text: string | undefined, origin: string) => void): void => {
    if (field.flag !== undefined) apply(flags[field.flag] as string | undefined, `flag ${flagLabel(field.flag, true)}`);
  };
  applyEnv(PROVIDER_TYPE, setProviderType);
  applyEnv(PROVIDER_IMAGE, setImage);
  applyFlag(PROVIDER_TYPE, setProviderType);
  applyFlag(PROVIDER_IMAGE, setImage);

  for (const field of SPEC_FIELDS) if (!OWN_RULES.has(field)) fromEnv(field);
  for (const field of SPEC_FIELDS) if (!OWN_RULES.has(field)) fromFlag(field);

  if (flags.numWorkers !== undefined) {
    // --num-workers N is the default group's min; its max and maxWorkers grow to fit, but not past an explicit --max-workers: that conflict is reported.
    fromFlag(WORKER_GROUP_MIN);
    const origin = `flag ${flagLabel('numWorkers', flags.numWorkers)}`;
    const groups = Array.isArray(raw.workerGroups) ? raw.workerGroups.map(asRecord) : [];
    const group = groups[defaultGroupIndex(raw)] ?? {};
    if (flags.numWorkers > numberOr(group.max, DEFAULT_GROUP_MAX)) set(`${WORKER_GROUP}.max`, flags.numWorkers, origin);
    const mins = groups.reduce((total, candidate) => total + numberOr(candidate.min, 0), 0);
    if (flags.maxWorkers === undefined && mins > numberOr(asRecord(raw.watcher).maxWorkers, DEFAULT_MAX_WORKERS)) set('watcher.maxWorkers', mins, origin);
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
