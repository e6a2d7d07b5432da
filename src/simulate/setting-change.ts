// One `KEY=VALUE` of `--set` and `--compare`: a dotted path into the spec (its `simulation:` section included) and a YAML value.
import { parse as parseYaml } from 'yaml';
import { RayfleetError, messageOf } from '../errors.js';
import { DEFAULT_WORKER_GROUPS } from '../spec/schema.js';

export interface SettingChange {
  /** As given: `watcher.idleTimeout=30s`. */
  text: string;
  /** `['watcher', 'idleTimeout']`; a worker group is named by its name: `workerGroups.gpu.max`. */
  path: string[];
  value: unknown;
}

export function parseSettingChange(text: string): SettingChange {
  const equals = text.indexOf('=');
  const key = equals < 0 ? '' : text.slice(0, equals).trim();
  if (key === '' || key.split('.').some((part) => part === '')) {
    throw new RayfleetError('USAGE', `"${text}" is not KEY=VALUE (e.g. watcher.idleTimeout=30s, workerGroups.gpu.max=4, simulation.launchLatency=60s)`);
  }
  const valueText = text.slice(equals + 1);
  let value: unknown;
  try {
    // YAML reads 30s as text, 4 as a number, true as a boolean and {median: 30s, p95: 2m} as a mapping, as the file would.
    value = parseYaml(valueText);
  } catch (error) {
    throw new RayfleetError('USAGE', `the value of ${key} is not YAML: ${messageOf(error)}`);
  }
  return { text, path: key.split('.'), value };
}

/** `--compare 'a=1 b=2'` is one setting with two changes. */
export function parseSettingChanges(text: string): SettingChange[] {
  return text
    .trim()
    .split(/\s+(?=[A-Za-z][\w.]*=)/)
    .map(parseSettingChange);
}

/** Applies the change to the raw (not yet validated) document in place. */
export function applySettingChange(raw: Record<string, unknown>, change: SettingChange): void {
  let node: unknown = raw;
  for (const [depth, part] of change.path.entries()) {
    const last = depth === change.path.length - 1;
    const where = change.path.slice(0, depth).join('.') || '(top)';
    if (Array.isArray(node)) {
      const index = /^\d+$/.test(part) ? Number(part) : node.findIndex((entry: unknown) => isRecord(entry) && entry.name === part);
      if (index < 0 || index >= node.length) throw new RayfleetError('USAGE', `${change.text}: ${where} has no entry named ${part}`);
      if (last) node[index] = change.value;
      else node = node[index];
      continue;
    }
    if (!isRecord(node)) throw new RayfleetError('USAGE', `${change.text}: ${where} is not a mapping`);
    if (last) {
      node[part] = change.value;
      break;
    }
    // Groups left to the defaults are written out, so that `workerGroups.worker.max=8` has a group to change.
    if (node[part] === undefined) node[part] = depth === 0 && part === 'workerGroups' ? structuredClone(DEFAULT_WORKER_GROUPS) : {};
    node = node[part];
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
