import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RayfleetError } from '../errors.js';
import { rayfleetErrorOf } from '../../test/support/caught.js';
import { loadSpec, type LoadSpecOptions } from './load-spec.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-spec-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh directory holding a spec file with the given text. */
async function specDir(text: string, name = 'rayfleet.yaml'): Promise<string> {
  const dir = await mkdtemp(path.join(root, 'case-'));
  await writeFile(path.join(dir, name), text);
  return dir;
}

async function failure(options: LoadSpecOptions): Promise<RayfleetError> {
  return rayfleetErrorOf(() => loadSpec(options));
}

/** The problems a SPEC_INVALID error lists, one a line, with the spec file's path shortened to `F`. */
async function problems(text: string, options: LoadSpecOptions = {}): Promise<string[]> {
  const dir = await specDir(text);
  const error = await failure({ cwd: dir, ...options });
  expect(error.code).toBe('SPEC_INVALID');
  expect(error.exitCode).toBe(2);
  const [header, ...lines] = error.message.split('\n');
  expect(header).toBe(`the spec ${path.join(dir, 'rayfleet.yaml')} is invalid:`);
  return lines.map((line) => line.trim().replace(path.join(dir, 'rayfleet.yaml'), 'F'));
}

describe('loadSpec: finding the file', () => {
  it('gives the defaults when no file is found', async () => {
    const { spec, path: found } = await loadSpec({ cwd: await mkdtemp(path.join(root, 'empty-')) });
    expect(found).toBeUndefined();
    expect(spec.name).toBe('ray');
    expect(spec.workerGroups).toMatchObject([{ name: 'worker', min: 2, max: 5 }]);
  });

  it('walks up from cwd to the nearest rayfleet.yaml', async () => {
    const dir = await specDir('name: parent\n');
    const nested = path.join(dir, 'a', 'b');
    await mkdir(nested, { recursive: true });
    await writeFile(path.join(dir, 'a', 'rayfleet.yaml'), 'name: nearer\n');
    expect(await loadSpec({ cwd: nested })).toMatchObject({ spec: { name: 'nearer' }, path: path.join(dir, 'a', 'rayfleet.yaml') });
    expect(await loadSpec({ cwd: path.join(dir, 'a', '..') })).toMatchObject({ spec: { name: 'parent' }, path: path.join(dir, 'rayfleet.yaml') });
  });

  it('finds rayfleet.yml, and prefers rayfleet.yaml beside it', async () => {
    const dir = await specDir('name: short\n', 'rayfleet.yml');
    expect((await loadSpec({ cwd: dir })).spec.name).toBe('short');
    await writeFile(path.join(dir, 'rayfleet.yaml'), 'name: long\n');
    expect((await loadSpec({ cwd: dir })).spec.name).toBe('long');
  });

  it('reads a configPath relative to cwd instead of searching', async () => {
    const dir = await specDir('name: found\n');
    await writeFile(path.join(dir, 'other.yaml'), 'name: other\n');
    expect(await loadSpec({ cwd: dir, configPath: 'other.yaml' })).toMatchObject({ spec: { name: 'other' }, path: path.join(dir, 'other.yaml') });
  });

  it('fails with SPEC_NOT_FOUND (exit 3) naming a configPath that is missing or not a file', async () => {
    for (const configPath of [path.join(root, 'nope.yaml'), root]) {
      const error = await failure({ cwd: root, configPath });
      expect(error.code).toBe('SPEC_NOT_FOUND');
      expect(error.exitCode).toBe(3);
      expect(error.message).toBe(`no spec file at ${configPath}`);
    }
  });

  it('takes an empty file, or one of comments only, as an empty spec', async () => {
    for (const text of ['', '# nothing yet\n']) {
      const dir = await specDir(text);
      expect(await loadSpec({ cwd: dir })).toMatchObject({ spec: { name: 'ray' }, path: path.join(dir, 'rayfleet.yaml') });
    }
  });

  it('reads groups with sizes, custom resources and durations', async () => {
    const dir = await specDir(
      [
        'name: lab',
        'workerGroups:',
        '  - { name: cpu, cpus: 2, memory: 4GiB, min: 1, max: 3 }',
        '  - { name: gpu, cpus: 4, gpus: 1, resources: { A100: 1 }, objectStoreMemory: 512MB, max: 2 }',
        'watcher: { interval: 500ms, cooldown: 2m, idleTimeout: 90 }',
      ].join('\n'),
    );
    const { spec } = await loadSpec({ cwd: dir });
    expect(spec.workerGroups).toMatchObject([
      { name: 'cpu', cpus: 2, memoryBytes: 4 * 2 ** 30, min: 1, max: 3 },
      { name: 'gpu', gpus: 1, resources: { A100: 1 }, objectStoreMemoryBytes: 512e6, min: 0, max: 2 },
    ]);
    expect(spec.watcher).toMatchObject({ intervalMs: 500, cooldownMs: 120_000, idleTimeoutMs: 90_000 });
  });
});

describe('loadSpec: errors point at file:line:col and the field', () => {
  it('a value of the wrong type, at the value', async () => {
    expect(await problems('name: ok\nworkerGroups:\n  - name: worker\n    cpus: many\n')).toEqual(['F:4:11 workerGroups.0.cpus: expected number, got "many"']);
  });

  it('a misspelt key, at the key itself, each on its own line', async () => {
    expect(await problems('nmae: x\nhead:\n  cpu: 1\n  dashbordPort: 9000\n')).toEqual([
      'F:3:3 head.cpu: unknown field',
      'F:4:3 head.dashbordPort: unknown field',
      'F:1:1 nmae: unknown field',
    ]);
  });

  it('min above max, at the min', async () => {
    expect(await problems('workerGroups:\n  - { name: worker, min: 4, max: 2 }\n')).toEqual(['F:2:26 workerGroups.0.min: min 4 is more than max 2']);
  });

  it('a missing key, at its parent', async () => {
    expect(await problems('workerGroups:\n  - cpus: 2\n')).toEqual(['F:2:5 workerGroups.0.name: required']);
  });

  it('a rule across fields, at the field it names', async () => {
    expect(await problems('watcher:\n  maxWorkers: 3\nworkerGroups:\n  - { name: a, min: 2 }\n  - { name: b, min: 2 }\n')).toEqual([
      "F:2:15 watcher.maxWorkers: the groups' mins add up to 4, more than maxWorkers 3",
    ]);
  });

  it('YAML syntax errors, at the error', async () => {
    expect(await problems('name: ok\nhead: { cpus: 1\n')).toEqual(['F:3:1 Flow map in block collection must be sufficiently indented and end with a }']);
    expect(await problems('name: a\nname: b\n')).toEqual(['F:2:1 Map keys must be unique']);
  });

  it('a file that is not a mapping, at its content', async () => {
    expect(await problems('# groups\n- worker\n')).toEqual(['F:2:1 the spec must be a mapping of fields (name:, head:, workerGroups:, …)']);
  });

  it('every problem in one error', async () => {
    expect(await problems('name: Bad_Name\nhead:\n  gcsPort: 0\n  objectStoreMemory: 10MB\n')).toEqual([
      'F:1:7 name: must start with a letter a-z and hold only a-z, 0-9 and -, at most 31 characters',
      "F:4:22 head.objectStoreMemory: 9.5 MiB is below Ray's smallest object store, 75 MiB",
      'F:3:12 head.gcsPort: Too small: expected number to be >=1',
    ]);
  });

  it('shows the file relative to the working directory when it is under it', async () => {
    const dir = await specDir('head: { cpus: x }\n');
    vi.spyOn(process, 'cwd').mockReturnValue(dir);
    try {
      expect((await failure({ cwd: dir })).message).toBe('the spec rayfleet.yaml is invalid:\n  rayfleet.yaml:1:15 head.cpus: expected number, got "x"');
    } finally {
      vi.restoreAllMocks();
    }
  });
});

describe('loadSpec: env and flags', () => {
  const file = 'name: file\nwatcher: { interval: 5s, pendingThreshold: 1, maxWorkers: 6, cooldown: 10s }\nworkerGroups:\n  - { name: worker, cpus: 1, gpus: 0, objectStoreMemory: 1GiB, min: 2 }\n';

  it('layers flags over env over file over defaults', async () => {
    const dir = await specDir(file);
    const { spec } = await loadSpec({ cwd: dir, env: { WATCHER_MAX_WORKERS: '7', WATCHER_COOLDOWN: '60' }, overrides: { maxWorkers: 8 } });
    expect(spec.name).toBe('file');
    expect(spec.watcher).toMatchObject({ intervalMs: 5000, pendingThreshold: 1, maxWorkers: 8, cooldownMs: 60_000, idleTimeoutMs: 60_000 });
  });

  it('reads no environment unless given one', async () => {
    vi.stubEnv('RAYFLEET_CLUSTER', 'fromprocess');
    try {
      expect((await loadSpec({ cwd: await specDir('') })).spec.name).toBe('ray');
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it.each([
    ['WATCHER_MAX_WORKERS', 'ten', 'watcher.maxWorkers: expected number, got "ten"'],
    ['WATCHER_MAX_WORKERS', '1', "watcher.maxWorkers: the groups' mins add up to 2, more than maxWorkers 1"],
    ['WATCHER_PENDING_THRESHOLD', 'some', 'watcher.pendingThreshold: expected number, got "some"'],
    ['WATCHER_NUM_CPUS', 'two', 'workerGroups.0.cpus: expected number, got "two"'],
    ['WATCHER_NUM_GPUS', '-1', 'workerGroups.0.gpus: Too small: expected number to be >=0'],
    ['WATCHER_CHECK_INTERVAL', 'often', 'watcher.interval: "often" is not a duration: write seconds, or e.g. 500ms, 30s, 5m, 1h, 1m30s'],
    ['WATCHER_COOLDOWN', '-5', 'watcher.cooldown: "-5" is not a duration: write seconds, or e.g. 500ms, 30s, 5m, 1h, 1m30s'],
    ['WATCHER_OBJECT_STORE_MEMORY', 'huge', 'workerGroups.0.objectStoreMemory: "huge" is not a size: write bytes, or a number with KB, MB, GB (SI), KiB, MiB, GiB or K, M, G (binary), e.g. 1GB, 512MiB'],
    ['RAYFLEET_CLUSTER', 'My Cluster', 'name: must start with a letter a-z and hold only a-z, 0-9 and -, at most 31 characters'],
  ])('names env %s=%j instead of a line of the file', async (variable, value, problem) => {
    expect(await problems(file, { env: { [variable]: value } })).toEqual([`env ${variable} ${problem}`]);
  });

  it('names the flag that set a bad value', async () => {
    expect(await problems(file, { overrides: { objectStoreMemory: '50MB', numWorkers: Number.NaN } })).toEqual([
      "flag --object-store-memory head.objectStoreMemory: 47.7 MiB is below Ray's smallest object store, 75 MiB",
      "flag --object-store-memory workerGroups.0.objectStoreMemory: 47.7 MiB is below Ray's smallest object store, 75 MiB",
      'flag --num-workers workerGroups.0.min: expected number, got NaN',
    ]);
    expect(await problems(file, { overrides: { numWorkers: 6, maxWorkers: 4 } })).toEqual(["flag --max-workers watcher.maxWorkers: the groups' mins add up to 6, more than maxWorkers 4"]);
  });

  it.each([
    ['0', '0ms is shorter than 100ms, the least it may be'],
    ['50ms', '50ms is shorter than 100ms, the least it may be'],
    ['2h', '2h is longer than 1h, the most it may be'],
    // Past 2^31 ms a timer fires at once: the value that used to turn into a 1 ms busy loop.
    ['2147484s', '596h31m24s is longer than 1h, the most it may be'],
  ])('refuses watcher.interval %s from env or flag, naming which', async (value, problem) => {
    expect(await problems(file, { env: { WATCHER_CHECK_INTERVAL: value } })).toEqual([`env WATCHER_CHECK_INTERVAL watcher.interval: ${problem}`]);
    expect(await problems(file, { overrides: { checkInterval: value } })).toEqual([`flag --check-interval watcher.interval: ${problem}`]);
  });

  it('takes watcher.interval at both ends of its range', async () => {
    const dir = await specDir(file);
    expect((await loadSpec({ cwd: dir, env: { WATCHER_CHECK_INTERVAL: '100ms' } })).spec.watcher.intervalMs).toBe(100);
    expect((await loadSpec({ cwd: dir, overrides: { checkInterval: '1h' } })).spec.watcher.intervalMs).toBe(3_600_000);
  });

  it('says the spec came from defaults, env and flags when there is no file', async () => {
    const error = await failure({ cwd: await mkdtemp(path.join(root, 'empty-')), env: { WATCHER_MAX_WORKERS: 'ten' } });
    expect(error.message).toBe('the spec from defaults, env and flags is invalid:\n  env WATCHER_MAX_WORKERS watcher.maxWorkers: expected number, got "ten"');
  });
});

describe('loadSpec: hostile YAML', () => {
  /** Nine aliases of nine aliases of … : a few hundred bytes that expand to 9^9 strings ("billion laughs"). */
  const aliasBomb = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    .concat(Array.from({ length: 8 }, (_, level) => `${'bcdefghi'[level]}: &${'bcdefghi'[level]} [${Array(9).fill(`*${'abcdefgh'[level]}`).join(', ')}]`))
    .join('\n');

  it('refuses an alias bomb with SPEC_INVALID, saying what it is', async () => {
    expect(await problems(aliasBomb)).toEqual([
      'F:1:1 YAML aliases (*name) expand to more than 100 copies of their anchors (&name): an "alias bomb"; write the values out instead',
    ]);
  });

  it('still reads the few aliases a person writes', async () => {
    const dir = await specDir('head: &shape { cpus: 2, gpus: 0 }\nworkerGroups:\n  - { name: worker, cpus: 2 }\n  - name: twin\n    <<: *shape\n');
    expect((await failure({ cwd: dir })).message).toContain('workerGroups.1.<<: unknown field');
    const plain = await specDir('x-cpus: &cpus 2\n');
    expect((await failure({ cwd: plain })).message).toContain('x-cpus: unknown field');
    const used = await specDir('head: { cpus: &cpus 3 }\nworkerGroups:\n  - { name: worker, cpus: *cpus }\n');
    expect((await loadSpec({ cwd: used })).spec.workerGroups[0]?.cpus).toBe(3);
  });

  it('refuses an alias without its anchor', async () => {
    const [problem] = await problems('name: *nowhere\n');
    expect(problem).toMatch(/^F:\d+:\d+ .*nowhere/);
  });

  it.each([
    ['deep [ nesting', `name: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`, 'F:1:39 mappings and lists nested more than 32 deep'],
    ['deep { nesting', `name: ${'{a: '.repeat(50_000)}1${'}'.repeat(50_000)}\n`, 'F:1:135 mappings and lists nested more than 32 deep'],
    ['deep block nesting', Array.from({ length: 40 }, (_, level) => `${'  '.repeat(level)}k${level}:`).join('\n'), 'F:33:65 mappings and lists nested more than 32 deep'],
    ['a mapping of 5,000 keys', Array.from({ length: 5_000 }, (_, index) => `k${index}: ${index}`).join('\n'), 'F:1:1 a mapping or list of 5000 entries; a spec\'s may hold at most 256'],
  ])('refuses %s quickly, at its place', async (_label, text, problem) => {
    const started = performance.now();
    expect(await problems(text)).toEqual([problem]);
    // Unchecked, the parser took 1 to 11 s over each of these (and about 50 s over 20,000 keys); checked, milliseconds.
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('refuses a file past 256 KiB without reading all of it', async () => {
    const dir = await specDir(`# ${'x'.repeat(10 * 2 ** 20)}\n`);
    const error = await failure({ cwd: dir });
    expect(error.code).toBe('SPEC_INVALID');
    expect(error.message).toContain(`the file is ${10 * 2 ** 20 + 3} bytes; a spec may be at most 262144`);
  });

  it('lists the first 20 of many problems and counts the rest', async () => {
    const lines = await problems(Array.from({ length: 200 }, (_, index) => `typo${index}: 1`).join('\n'));
    expect(lines).toHaveLength(21);
    expect(lines.at(-1)).toBe('… and 180 more');
  });
});
