import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RayfleetError } from '../errors.js';
import { loadSpec, type LoadSpecOptions } from './load-spec.js';
import { clusterSpecJsonSchema } from './schema.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-spec-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function specIn(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(root, 'case-'));
  await writeFile(path.join(dir, 'rayfleet.yaml'), text);
  return dir;
}

async function failure(options: LoadSpecOptions): Promise<RayfleetError> {
  try {
    await loadSpec(options);
  } catch (error) {
    if (error instanceof RayfleetError) return error;
    throw error;
  }
  throw new Error('the spec loaded, but it should not have');
}

describe('loadSpec', () => {
  it('gives the defaults with no file: cluster ray, head + 2 workers', async () => {
    const { spec, path: found } = await loadSpec({ cwd: root, env: {} });
    expect(found).toBeUndefined();
    expect(spec.name).toBe('ray');
    expect(spec.ray.version).toBe('2.60.0');
    expect(spec.provider).toEqual({ type: 'local' });
    expect(spec.head).toMatchObject({ cpus: 1, gcsPort: 6379, dashboardPort: 8265, clientPort: 10001, objectStoreMemoryBytes: 2 ** 30 });
    expect(spec.workerGroups).toEqual([{ name: 'worker', cpus: 1, gpus: 0, memoryBytes: undefined, objectStoreMemoryBytes: 2 ** 30, resources: {}, min: 2, max: 5 }]);
    expect(spec.watcher).toMatchObject({ enabled: true, intervalMs: 1000, pendingThreshold: 0, cooldownMs: 0, idleTimeoutMs: 60_000, maxWorkers: 10 });
  });

  it('finds rayfleet.yaml in a parent directory', async () => {
    const dir = await specIn('name: parent\n');
    const nested = path.join(dir, 'a', 'b');
    await mkdir(nested, { recursive: true });
    const { spec, path: found } = await loadSpec({ cwd: nested, env: {} });
    expect(spec.name).toBe('parent');
    expect(found).toBe(path.join(dir, 'rayfleet.yaml'));
  });

  it('reads groups with sizes, custom resources and durations', async () => {
    const dir = await specIn(
      ['name: lab', 'workerGroups:', '  - { name: cpu, cpus: 2, memory: 4GiB, min: 1, max: 3 }', '  - { name: gpu, cpus: 4, gpus: 1, resources: { A100: 1 }, objectStoreMemory: 512MB, max: 2 }', 'watcher: { interval: 500ms, cooldown: 2m, idleTimeout: 90 }'].join('\n'),
    );
    const { spec } = await loadSpec({ cwd: dir, env: {} });
    expect(spec.workerGroups[0]).toMatchObject({ name: 'cpu', cpus: 2, memoryBytes: 4 * 2 ** 30, min: 1, max: 3 });
    expect(spec.workerGroups[1]).toMatchObject({ name: 'gpu', gpus: 1, resources: { A100: 1 }, objectStoreMemoryBytes: 512e6, min: 0 });
    expect(spec.watcher).toMatchObject({ intervalMs: 500, cooldownMs: 120_000, idleTimeoutMs: 90_000 });
  });

  it('takes an empty file as an empty spec', async () => {
    expect((await loadSpec({ cwd: await specIn(''), env: {} })).spec.name).toBe('ray');
  });

  it('names file:line:col and the field for a value of the wrong type', async () => {
    const dir = await specIn('name: ok\nworkerGroups:\n  - name: worker\n    cpus: many\n');
    const error = await failure({ cwd: dir, env: {} });
    expect(error.code).toBe('SPEC_INVALID');
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/rayfleet\.yaml:4:11 workerGroups\.0\.cpus: Invalid input: expected number/);
  });

  it('points at a misspelt key', async () => {
    const dir = await specIn('name: ok\nhead:\n  cpus: 1\n  dashbordPort: 9000\n');
    expect((await failure({ cwd: dir, env: {} })).message).toMatch(/rayfleet\.yaml:4:3 head: Unrecognized key: "dashbordPort"/);
  });

  it('refuses min above max, at the min', async () => {
    const dir = await specIn('workerGroups:\n  - { name: worker, min: 4, max: 2 }\n');
    expect((await failure({ cwd: dir, env: {} })).message).toMatch(/rayfleet\.yaml:2:\d+ workerGroups\.0\.min: min must not exceed max/);
  });

  it('reports a YAML syntax error with its position', async () => {
    const dir = await specIn('name: ok\nhead: { cpus: 1\n');
    expect((await failure({ cwd: dir, env: {} })).message).toMatch(/rayfleet\.yaml:\d+:\d+ /);
  });

  it('refuses bad names, duplicate groups and mins above maxWorkers', async () => {
    const dir = await specIn('name: Bad_Name\nworkerGroups:\n  - { name: w, min: 6, max: 6 }\n  - { name: w, min: 6, max: 6 }\n');
    const { message } = await failure({ cwd: dir, env: {} });
    expect(message).toMatch(/rayfleet\.yaml:1:7 name: must start with a letter/);
  });

  it('reports duplicate groups and mins above maxWorkers', async () => {
    const dir = await specIn('workerGroups:\n  - { name: w, min: 6, max: 6 }\n  - { name: w, min: 6, max: 6 }\n');
    const { message } = await failure({ cwd: dir, env: {} });
    expect(message).toMatch(/workerGroups\.1\.name: group name w is used twice/);
    expect(message).toMatch(/watcher\.maxWorkers: the groups' mins add up to 12, more than maxWorkers 10/);
  });

  it('fails with SPEC_NOT_FOUND (exit 3) for a --config that does not exist', async () => {
    const error = await failure({ cwd: root, configPath: 'nope.yaml', env: {} });
    expect(error.code).toBe('SPEC_NOT_FOUND');
    expect(error.exitCode).toBe(3);
  });

  it('applies flags over env over file over defaults', async () => {
    const dir = await specIn('watcher: { maxWorkers: 4, cooldown: 10s }\n');
    const fileOnly = (await loadSpec({ cwd: dir, env: {} })).spec.watcher;
    expect(fileOnly).toMatchObject({ maxWorkers: 4, cooldownMs: 10_000, intervalMs: 1000 });
    const withEnv = (await loadSpec({ cwd: dir, env: { WATCHER_MAX_WORKERS: '7', WATCHER_CHECK_INTERVAL: '120' } })).spec.watcher;
    expect(withEnv).toMatchObject({ maxWorkers: 7, intervalMs: 120_000, cooldownMs: 10_000 });
    const withFlags = (await loadSpec({ cwd: dir, env: { WATCHER_MAX_WORKERS: '7' }, overrides: { maxWorkers: 8, cooldown: '1m' } })).spec.watcher;
    expect(withFlags).toMatchObject({ maxWorkers: 8, cooldownMs: 60_000 });
  });

  it('reads every old environment variable', async () => {
    const { spec } = await loadSpec({
      cwd: root,
      env: {
        RAYFLEET_CLUSTER: 'envname',
        RAYFLEET_PYTHON: '/opt/py/bin/python',
        RAY_HEAD_ADDRESS: 'head.example:6379',
        RAY_DASHBOARD_METRIC_API: 'http://head:8265/api',
        WATCHER_CHECK_INTERVAL: '10',
        WATCHER_PENDING_THRESHOLD: '5',
        WATCHER_MAX_WORKERS: '8',
        WATCHER_COOLDOWN: '60',
        WATCHER_NUM_CPUS: '2',
        WATCHER_NUM_GPUS: '1',
        WATCHER_OBJECT_STORE_MEMORY: '1GB',
        UNRELATED: 'ignored',
      },
    });
    expect(spec.name).toBe('envname');
    expect(spec.ray.python).toBe('/opt/py/bin/python');
    expect(spec.watcher).toMatchObject({ headAddress: 'head.example:6379', dashboardMetricApi: 'http://head:8265/api', intervalMs: 10_000, pendingThreshold: 5, maxWorkers: 8, cooldownMs: 60_000 });
    expect(spec.workerGroups[0]).toMatchObject({ name: 'worker', cpus: 2, gpus: 1, objectStoreMemoryBytes: 1e9 });
    expect(spec.head.cpus).toBe(1);
  });

  it('applies the old per-node flags to the head and the default group', async () => {
    const dir = await specIn('workerGroups:\n  - { name: gpu, gpus: 1, max: 2 }\n  - { name: worker, max: 3 }\n');
    const { spec } = await loadSpec({ cwd: dir, env: {}, overrides: { numWorkers: 4, numCpus: 2, numGpus: 0, objectStoreMemory: '512MB', cluster: 'flagged', watcher: false } });
    expect(spec.name).toBe('flagged');
    expect(spec.head).toMatchObject({ cpus: 2, gpus: 0, objectStoreMemoryBytes: 512e6 });
    expect(spec.workerGroups[1]).toMatchObject({ name: 'worker', cpus: 2, min: 4, max: 4, objectStoreMemoryBytes: 512e6 });
    expect(spec.workerGroups[0]).toMatchObject({ name: 'gpu', cpus: 1, gpus: 1 });
    expect(spec.watcher.enabled).toBe(false);
  });

  it('raises maxWorkers to fit --num-workers', async () => {
    const { spec } = await loadSpec({ cwd: root, env: {}, overrides: { numWorkers: 12 } });
    expect(spec.workerGroups[0]).toMatchObject({ min: 12, max: 12 });
    expect(spec.watcher.maxWorkers).toBe(12);
  });

  it('names the variable or flag that holds a bad value', async () => {
    expect((await failure({ cwd: root, env: { WATCHER_MAX_WORKERS: 'ten' } })).message).toMatch(/env WATCHER_MAX_WORKERS watcher\.maxWorkers: Invalid input: expected number/);
    expect((await failure({ cwd: root, env: { WATCHER_COOLDOWN: 'later' } })).message).toMatch(/env WATCHER_COOLDOWN watcher\.cooldown: "later" is not a duration/);
    expect((await failure({ cwd: root, env: {}, overrides: { objectStoreMemory: 'huge' } })).message).toMatch(/flag --object-store-memory head\.objectStoreMemory: "huge" is not a size/);
  });
});

describe('clusterSpecJsonSchema', () => {
  it('describes the fields and requires none that have defaults', () => {
    const schema = clusterSpecJsonSchema() as { properties: Record<string, { description?: string }>; required?: string[]; $schema: string };
    expect(schema.$schema).toContain('draft-07');
    expect(Object.keys(schema.properties)).toEqual(['name', 'ray', 'provider', 'head', 'workerGroups', 'watcher']);
    expect(schema.required ?? []).toEqual([]);
    expect(schema.properties.name?.description).toMatch(/cluster/);
  });
});
