import { describe, expect, it } from 'vitest';
import { clusterSpecJsonSchema, clusterSpecSchema, type ClusterSpec } from './schema.js';

/** Each issue as `path: message`. */
function issuesOf(input: unknown): string[] {
  const result = clusterSpecSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('clusterSpecSchema', () => {
  it('resolves an empty spec to the defaults: cluster ray, a head and two workers, the watcher on', () => {
    const expected: ClusterSpec = {
      name: 'ray',
      ray: { version: '2.60.0' },
      provider: { type: 'local' },
      head: { cpus: 1, gpus: 0, memoryBytes: undefined, objectStoreMemoryBytes: 2 ** 30, resources: {} },
      workerGroups: [{ name: 'worker', cpus: 1, gpus: 0, memoryBytes: undefined, objectStoreMemoryBytes: 2 ** 30, resources: {}, min: 2, max: 5 }],
      watcher: { enabled: true, intervalMs: 1000, pendingThreshold: 0, cooldownMs: 0, idleTimeoutMs: 60_000, maxWorkers: 10, paused: false, headAddress: undefined, dashboardMetricApi: undefined },
      dashboard: { enabled: true, port: 8266 },
    };
    expect(clusterSpecSchema.parse({})).toEqual(expected);
  });

  it('fills a written group with defaults: min 0, max 5', () => {
    expect(clusterSpecSchema.parse({ workerGroups: [{ name: 'gpu', gpus: 1 }] }).workerGroups).toEqual([
      { name: 'gpu', cpus: 1, gpus: 1, memoryBytes: undefined, objectStoreMemoryBytes: 2 ** 30, resources: {}, min: 0, max: 5 },
    ]);
  });

  it('reads sizes and durations as text or as numbers (bytes, seconds)', () => {
    const spec = clusterSpecSchema.parse({
      head: { memory: '4GiB', objectStoreMemory: 2e9 },
      watcher: { interval: 120, cooldown: '1m30s', idleTimeout: '500ms' },
    });
    expect(spec.head).toMatchObject({ memoryBytes: 4 * 2 ** 30, objectStoreMemoryBytes: 2e9 });
    expect(spec.watcher).toMatchObject({ intervalMs: 120_000, cooldownMs: 90_000, idleTimeoutMs: 500 });
  });

  it('takes every duration up to its bound: interval 100ms to 1h, the others up to 7 days', () => {
    expect(clusterSpecSchema.parse({ watcher: { interval: '100ms', cooldown: '168h', idleTimeout: 7 * 24 * 3600 } }).watcher).toMatchObject({
      intervalMs: 100,
      cooldownMs: 7 * 24 * 3_600_000,
      idleTimeoutMs: 7 * 24 * 3_600_000,
    });
    expect(clusterSpecSchema.parse({ watcher: { interval: '1h', idleTimeout: 0 } }).watcher).toMatchObject({ intervalMs: 3_600_000, idleTimeoutMs: 0 });
  });

  it('takes an object store of exactly 75 MiB, Ray\'s smallest', () => {
    expect(clusterSpecSchema.parse({ head: { objectStoreMemory: 78_643_200 } }).head.objectStoreMemoryBytes).toBe(78_643_200);
  });

  it('reads each provider, leaving the docker port offset to `up` when unset', () => {
    expect(clusterSpecSchema.parse({ provider: { type: 'local', stateDir: '/tmp/s' } }).provider).toEqual({ type: 'local', stateDir: '/tmp/s' });
    expect(clusterSpecSchema.parse({ provider: { type: 'docker', image: 'rayproject/ray:2.60.0' } }).provider).toEqual({ type: 'docker', image: 'rayproject/ray:2.60.0' });
    expect(clusterSpecSchema.parse({ provider: { type: 'cai', projectId: 'p1' } }).provider).toEqual({ type: 'cai', projectId: 'p1' });
  });

  it.each([
    [{ name: 'Bad_Name' }, 'name: must start with a letter a-z and hold only a-z, 0-9 and -, at most 31 characters'],
    [{ name: 'a'.repeat(32) }, 'name: must start with a letter a-z and hold only a-z, 0-9 and -, at most 31 characters'],
    [{ nmae: 'x' }, ': Unrecognized key: "nmae"'],
    [{ workerGroups: [] }, 'workerGroups: at least one worker group is needed'],
    [{ workerGroups: [{ name: '9lives' }] }, 'workerGroups.0.name: must start with a letter a-z and hold only a-z, 0-9 and -, at most 31 characters'],
    [{ workerGroups: [{ name: 'head' }] }, 'workerGroups.0.name: "head" names the head node, not a worker group'],
    [{ workerGroups: [{ name: 'w' }, { name: 'w' }] }, 'workerGroups.1.name: group name w is used twice'],
    [{ workerGroups: [{ name: 'w', min: 4, max: 2 }] }, 'workerGroups.0.min: min 4 is more than max 2'],
    [{ workerGroups: [{ name: 'w', min: 1.5 }] }, 'workerGroups.0.min: Invalid input: expected int, received number'],
    [{ workerGroups: [{ name: 'w', cpus: -1 }] }, 'workerGroups.0.cpus: Too small: expected number to be >=0'],
    [{ head: { gpus: -1 } }, 'head.gpus: Too small: expected number to be >=0'],
    [{ head: { resources: { TPU: -1 } } }, 'head.resources.TPU: Too small: expected number to be >=0'],
    [{ head: { gcsPort: 0 } }, 'head.gcsPort: Too small: expected number to be >=1'],
    [{ head: { dashboardPort: 65536 } }, 'head.dashboardPort: Too big: expected number to be <=65535'],
    [{ head: { clientPort: 10001.5 } }, 'head.clientPort: Invalid input: expected int, received number'],
    [{ head: { objectStoreMemory: '50MiB' } }, "head.objectStoreMemory: 50 MiB is below Ray's smallest object store, 75 MiB"],
    [{ head: { memory: 'lots' } }, 'head.memory: "lots" is not a size: write bytes, or a number with KB, MB, GB (SI), KiB, MiB, GiB or K, M, G (binary), e.g. 1GB, 512MiB'],
    [{ head: { memory: true } }, 'head.memory: expected bytes, or a size such as 1GB, 512MiB, 1GiB'],
    [{ watcher: { interval: 'often' } }, 'watcher.interval: "often" is not a duration: write seconds, or e.g. 500ms, 30s, 5m, 1h, 1m30s'],
    [{ watcher: { maxWorkers: 3 }, workerGroups: [{ name: 'a', min: 2 }, { name: 'b', min: 2 }] }, "watcher.maxWorkers: the groups' mins add up to 4, more than maxWorkers 3"],
    [{ provider: { type: 'k8s' } }, "provider.type: Invalid discriminator value. Expected 'local' | 'docker' | 'cai' | 'ssh'"],
    [{ provider: { type: 'local', image: 'x' } }, 'provider: Unrecognized key: "image"'],
    [{ provider: { type: 'docker', portOffset: -1 } }, 'provider.portOffset: Too small: expected number to be >=0'],
    [{ watcher: { interval: 0 } }, 'watcher.interval: 0ms is shorter than 100ms, the least it may be'],
    [{ watcher: { interval: '99ms' } }, 'watcher.interval: 99ms is shorter than 100ms, the least it may be'],
    [{ watcher: { interval: '1h1s' } }, 'watcher.interval: 1h1s is longer than 1h, the most it may be'],
    [{ watcher: { interval: 1e12 } }, 'watcher.interval: 277777777h46m40s is longer than 1h, the most it may be'],
    [{ watcher: { idleTimeout: '169h' } }, 'watcher.idleTimeout: 169h is longer than 168h, the most it may be'],
    [{ watcher: { cooldown: 8 * 24 * 3600 } }, 'watcher.cooldown: 192h is longer than 168h, the most it may be'],
  ])('refuses %j', (input, issue) => {
    expect(issuesOf(input)).toEqual([issue]);
  });
});

interface JsonSchemaNode {
  $schema?: string;
  description?: string;
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
  items?: JsonSchemaNode;
}

describe('clusterSpecJsonSchema', () => {
  const schema = clusterSpecJsonSchema() as JsonSchemaNode;
  const properties = schema.properties ?? {};

  it('is draft 7 with every top-level field, each described', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(Object.keys(properties)).toEqual(['name', 'ray', 'provider', 'head', 'workerGroups', 'watcher', 'dashboard', 'simulation']);
    for (const [key, field] of Object.entries(properties)) expect(field.description, key).toBeTruthy();
  });

  it('requires no field that has a default; a worker group requires only its name', () => {
    expect(schema.required).toBeUndefined();
    expect(properties.head?.required).toBeUndefined();
    expect(properties.watcher?.required).toBeUndefined();
    expect(properties.workerGroups?.items?.required).toEqual(['name']);
  });

  it('describes sizes and durations, which accept text or numbers, with the range a duration may take', () => {
    expect(properties.head?.properties?.objectStoreMemory?.description).toContain('1GiB');
    expect(properties.watcher?.properties?.interval?.description).toContain('seconds');
    expect(properties.watcher?.properties?.interval?.description).toContain('100ms to 1h');
    expect(properties.watcher?.properties?.idleTimeout?.description).toContain('at most 168h');
  });
});
