import { describe, expect, it } from 'vitest';
import { applyOverrides, type RawSpec, type SpecOverrides } from './overrides.js';
import { clusterSpecSchema, type ClusterSpec, type WorkerGroupSpec } from './schema.js';

type Env = Record<string, string>;

/** The spec a file's content, env and flags resolve to. */
function resolve(file: RawSpec, env: Env = {}, flags: SpecOverrides = {}): ClusterSpec {
  const raw = structuredClone(file);
  applyOverrides(raw, env, flags);
  return clusterSpecSchema.parse(raw);
}

function defaultGroup(spec: ClusterSpec): WorkerGroupSpec | undefined {
  return spec.workerGroups.find((group) => group.name === 'worker');
}

interface Setting {
  setting: string;
  read: (spec: ClusterSpec) => unknown;
  byDefault: unknown;
  file: RawSpec;
  fromFile: unknown;
  env?: Env;
  fromEnv?: unknown;
  flags?: SpecOverrides;
  fromFlags?: unknown;
}

const workers = (fields: RawSpec): RawSpec => ({ workerGroups: [{ name: 'worker', ...fields }] });

// Each old flag and env var, at each level: defaults < file < env < flags.
const settings: Setting[] = [
  { setting: 'name', read: (spec) => spec.name, byDefault: 'ray', file: { name: 'file' }, fromFile: 'file', env: { RAYFLEET_CLUSTER: 'env' }, fromEnv: 'env', flags: { cluster: 'flag' }, fromFlags: 'flag' },
  { setting: 'ray.python', read: (spec) => spec.ray.python, byDefault: undefined, file: { ray: { python: '/file/python' } }, fromFile: '/file/python', env: { RAYFLEET_PYTHON: '/env/python' }, fromEnv: '/env/python', flags: { python: '/flag/python' }, fromFlags: '/flag/python' },
  { setting: 'watcher.headAddress', read: (spec) => spec.watcher.headAddress, byDefault: undefined, file: { watcher: { headAddress: 'file:10001' } }, fromFile: 'file:10001', env: { RAY_HEAD_ADDRESS: 'env:10001' }, fromEnv: 'env:10001' },
  { setting: 'watcher.dashboardMetricApi', read: (spec) => spec.watcher.dashboardMetricApi, byDefault: undefined, file: { watcher: { dashboardMetricApi: 'http://file/api' } }, fromFile: 'http://file/api', env: { RAY_DASHBOARD_METRIC_API: 'http://env/api' }, fromEnv: 'http://env/api' },
  { setting: 'watcher.enabled', read: (spec) => spec.watcher.enabled, byDefault: true, file: { watcher: { enabled: false } }, fromFile: false, flags: { watcher: true }, fromFlags: true },
  { setting: 'watcher.interval', read: (spec) => spec.watcher.intervalMs, byDefault: 1000, file: { watcher: { interval: '5s' } }, fromFile: 5000, env: { WATCHER_CHECK_INTERVAL: '120' }, fromEnv: 120_000, flags: { checkInterval: '30s' }, fromFlags: 30_000 },
  { setting: 'watcher.pendingThreshold', read: (spec) => spec.watcher.pendingThreshold, byDefault: 0, file: { watcher: { pendingThreshold: 1 } }, fromFile: 1, env: { WATCHER_PENDING_THRESHOLD: '2' }, fromEnv: 2, flags: { pendingThreshold: 3 }, fromFlags: 3 },
  { setting: 'watcher.maxWorkers', read: (spec) => spec.watcher.maxWorkers, byDefault: 10, file: { watcher: { maxWorkers: 6 } }, fromFile: 6, env: { WATCHER_MAX_WORKERS: '7' }, fromEnv: 7, flags: { maxWorkers: 8 }, fromFlags: 8 },
  { setting: 'watcher.cooldown', read: (spec) => spec.watcher.cooldownMs, byDefault: 0, file: { watcher: { cooldown: '10s' } }, fromFile: 10_000, env: { WATCHER_COOLDOWN: '60' }, fromEnv: 60_000, flags: { cooldown: '2m' }, fromFlags: 120_000 },
  { setting: 'worker cpus', read: (spec) => defaultGroup(spec)?.cpus, byDefault: 1, file: workers({ cpus: 3 }), fromFile: 3, env: { WATCHER_NUM_CPUS: '2' }, fromEnv: 2, flags: { numCpus: 4 }, fromFlags: 4 },
  { setting: 'worker gpus', read: (spec) => defaultGroup(spec)?.gpus, byDefault: 0, file: workers({ gpus: 3 }), fromFile: 3, env: { WATCHER_NUM_GPUS: '2' }, fromEnv: 2, flags: { numGpus: 4 }, fromFlags: 4 },
  { setting: 'worker objectStoreMemory', read: (spec) => defaultGroup(spec)?.objectStoreMemoryBytes, byDefault: 2 ** 30, file: workers({ objectStoreMemory: '2GiB' }), fromFile: 2 ** 31, env: { WATCHER_OBJECT_STORE_MEMORY: '1GB' }, fromEnv: 1e9, flags: { objectStoreMemory: '512MiB' }, fromFlags: 2 ** 29 },
  { setting: 'head cpus', read: (spec) => spec.head.cpus, byDefault: 1, file: { head: { cpus: 3 } }, fromFile: 3, flags: { numCpus: 4 }, fromFlags: 4 },
  { setting: 'head gpus', read: (spec) => spec.head.gpus, byDefault: 0, file: { head: { gpus: 3 } }, fromFile: 3, flags: { numGpus: 4 }, fromFlags: 4 },
  { setting: 'head objectStoreMemory', read: (spec) => spec.head.objectStoreMemoryBytes, byDefault: 2 ** 30, file: { head: { objectStoreMemory: '2GiB' } }, fromFile: 2 ** 31, flags: { objectStoreMemory: '512MiB' }, fromFlags: 2 ** 29 },
  { setting: 'worker min', read: (spec) => defaultGroup(spec)?.min, byDefault: 2, file: workers({ min: 1 }), fromFile: 1, flags: { numWorkers: 3 }, fromFlags: 3 },
];

describe('applyOverrides', () => {
  it.each(settings)('$setting comes from the defaults, then the file', ({ read, byDefault, file, fromFile }) => {
    expect(read(resolve({}))).toEqual(byDefault);
    expect(read(resolve(file))).toEqual(fromFile);
  });

  it.each(settings.flatMap((row) => (row.env === undefined ? [] : [{ ...row, env: row.env }])))('$setting takes the env over the file', ({ read, file, env, fromEnv }) => {
    expect(read(resolve(file, env))).toEqual(fromEnv);
    expect(read(resolve({}, env))).toEqual(fromEnv);
  });

  it.each(settings.flatMap((row) => (row.flags === undefined ? [] : [{ ...row, flags: row.flags }])))('$setting takes the flags over the env and the file', ({ read, file, env, flags, fromFlags }) => {
    expect(read(resolve(file, env, flags))).toEqual(fromFlags);
    expect(read(resolve({}, {}, flags))).toEqual(fromFlags);
  });

  it('gives the worker env vars to the default group alone, as the old watcher sized new workers', () => {
    const spec = resolve({ workerGroups: [{ name: 'gpu', gpus: 1 }, { name: 'worker' }] }, { WATCHER_NUM_CPUS: '2', WATCHER_NUM_GPUS: '1', WATCHER_OBJECT_STORE_MEMORY: '2GiB' });
    expect(spec.workerGroups.map((group) => [group.name, group.cpus, group.gpus, group.objectStoreMemoryBytes])).toEqual([
      ['gpu', 1, 1, 2 ** 30],
      ['worker', 2, 1, 2 ** 31],
    ]);
    expect(spec.head).toMatchObject({ cpus: 1, gpus: 0, objectStoreMemoryBytes: 2 ** 30 });
  });

  it('takes the first group as the default one when none is named worker', () => {
    const spec = resolve({ workerGroups: [{ name: 'cpu' }, { name: 'gpu' }] }, {}, { numWorkers: 1, numCpus: 2 });
    expect(spec.workerGroups.map((group) => [group.name, group.min, group.cpus])).toEqual([
      ['cpu', 1, 2],
      ['gpu', 0, 1],
    ]);
  });

  it('raises the group max and maxWorkers to fit --num-workers', () => {
    const spec = resolve({ workerGroups: [{ name: 'worker', max: 3 }, { name: 'gpu', min: 1 }] }, { WATCHER_MAX_WORKERS: '4' }, { numWorkers: 6 });
    expect(spec.workerGroups[0]).toMatchObject({ min: 6, max: 6 });
    expect(spec.watcher.maxWorkers).toBe(7);
  });

  it('keeps a larger max and maxWorkers as they are', () => {
    const spec = resolve(workers({ max: 8 }), {}, { numWorkers: 3 });
    expect(spec.workerGroups[0]).toMatchObject({ min: 3, max: 8 });
    expect(spec.watcher.maxWorkers).toBe(10);
  });

  it('does not raise maxWorkers over an explicit --max-workers, and says where each value came from', () => {
    const raw: RawSpec = {};
    const origins = applyOverrides(raw, { WATCHER_NUM_CPUS: '2' }, { numWorkers: 6, maxWorkers: 4, watcher: false });
    expect(raw).toEqual({ workerGroups: [{ name: 'worker', min: 6, max: 6, cpus: 2 }], watcher: { maxWorkers: 4, enabled: false } });
    expect(Object.fromEntries(origins)).toEqual({
      'workerGroups.0.cpus': 'env WATCHER_NUM_CPUS',
      'workerGroups.0.min': 'flag --num-workers',
      'workerGroups.0.max': 'flag --num-workers',
      'watcher.maxWorkers': 'flag --max-workers',
      'watcher.enabled': 'flag --no-watcher',
    });
  });

  it('reads only its allow-listed variables, and skips empty ones', () => {
    const raw: RawSpec = {};
    applyOverrides(raw, { WATCHER_IDLE_TIMEOUT: '5', RAYFLEET_NAME: 'x', HOME: '/root', WATCHER_MAX_WORKERS: '', RAYFLEET_CLUSTER: ' ' }, {});
    expect(raw).toEqual({});
  });

  it('leaves a number variable that is not a number as text, for validation to refuse', () => {
    const raw: RawSpec = {};
    applyOverrides(raw, { WATCHER_MAX_WORKERS: 'ten', WATCHER_PENDING_THRESHOLD: ' 3 ' }, {});
    expect(raw).toEqual({ watcher: { maxWorkers: 'ten', pendingThreshold: 3 } });
  });

  it('leaves a file value of the wrong shape for validation to report', () => {
    const raw: RawSpec = { workerGroups: [], head: 'big' };
    const origins = applyOverrides(raw, { WATCHER_NUM_CPUS: '2' }, { numCpus: 2 });
    expect(raw).toEqual({ workerGroups: [], head: 'big' });
    expect(origins.size).toBe(0);
  });

  it('switches the backend from env or flag, dropping the file provider settings of another type', () => {
    const file: RawSpec = { provider: { type: 'local', stateDir: '/state' } };
    expect(resolve(file, { RAYFLEET_PROVIDER: 'docker' }).provider).toEqual({ type: 'docker' });
    expect(resolve(file, { RAYFLEET_PROVIDER: 'docker' }, { provider: 'local' }).provider).toEqual({ type: 'local' });
    expect(resolve({ provider: { type: 'docker', portOffset: 100 } }, {}, { provider: 'docker' }).provider).toEqual({ type: 'docker', portOffset: 100 });
  });

  it('reads RAY_IMAGE_VERSION as the image of a Docker cluster only, under --image', () => {
    const docker: RawSpec = { provider: { type: 'docker', image: 'file/ray:1' } };
    expect(resolve(docker, { RAY_IMAGE_VERSION: 'rayproject/ray:2.47.1-py39-cpu' }).provider).toMatchObject({ image: 'rayproject/ray:2.47.1-py39-cpu' });
    expect(resolve(docker, { RAY_IMAGE_VERSION: 'env/ray:2' }, { image: 'flag/ray:3' }).provider).toMatchObject({ image: 'flag/ray:3' });
    expect(resolve({}, { RAY_IMAGE_VERSION: 'env/ray:2' }).provider).toEqual({ type: 'local' });
    expect(resolve({}, { RAY_IMAGE_VERSION: 'env/ray:2' }, { provider: 'docker' }).provider).toEqual({ type: 'docker' });
    const raw: RawSpec = {};
    expect(Object.fromEntries(applyOverrides(raw, { RAYFLEET_PROVIDER: 'docker', RAY_IMAGE_VERSION: 'env/ray:2' }, {}))).toEqual({
      'provider.type': 'env RAYFLEET_PROVIDER',
      'provider.image': 'env RAY_IMAGE_VERSION',
    });
  });

  it('takes --insecure-host-keys for an SSH pool only', () => {
    const pool: RawSpec = { provider: { type: 'ssh', hosts: [{ address: 'h1' }] } };
    expect(resolve(pool, {}, { insecureHostKeys: true }).provider).toMatchObject({ type: 'ssh', insecureHostKeys: true });
    expect(resolve({}, {}, { insecureHostKeys: true }).provider).toEqual({ type: 'local' });
  });
});
