// The spec's simulation section: distributions as people write them, defaults, absent unless written, errors at their line.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rayfleetErrorOf } from '../../test/support/caught.js';
import { loadSpec } from './load-spec.js';
import { clusterSpecJsonSchema, clusterSpecSchema } from './schema.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-simulation-spec-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('spec simulation section', () => {
  it('is absent unless the file has it, so a real cluster saves and compares specs as before', () => {
    expect('simulation' in clusterSpecSchema.parse({})).toBe(false);
  });

  it('reads each way of writing a distribution, and fills the rest with its defaults', () => {
    const read = (launchLatency: unknown) => clusterSpecSchema.parse({ simulation: { launchLatency } }).simulation?.launchLatency;
    expect(read('45s')).toEqual({ kind: 'fixed', ms: 45_000 });
    expect(read({ median: '1m', p95: '3m' })).toEqual({ kind: 'lognormal', medianMs: 60_000, p95Ms: 180_000 });
    expect(read({ min: 10, max: '20s' })).toEqual({ kind: 'uniform', minMs: 10_000, maxMs: 20_000 });
    expect(read({ mean: '30s', sd: '5s', min: '10s' })).toEqual({ kind: 'normal', meanMs: 30_000, sdMs: 5_000, minMs: 10_000 });
    expect(read({ samples: ['15.1s', 16.8, '24s'] })).toEqual({ kind: 'empirical', samplesMs: [15_100, 16_800, 24_000] });
    expect(clusterSpecSchema.parse({ simulation: { quota: { gpu: 2 }, launchFailureRate: 0.1 } }).simulation).toEqual({
      launchLatency: undefined,
      terminateLatency: undefined,
      launchFailureRate: 0.1,
      deathRate: 0,
      deathAfter: undefined,
      quota: { gpu: 2 },
      prices: {},
      horizonMs: undefined,
    });
  });

  it('points a wrong field at its line and column, as the rest of the spec', async () => {
    const dir = await mkdtemp(path.join(root, 'case-'));
    const file = path.join(dir, 'rayfleet.yaml');
    await writeFile(file, 'name: ray\nsimulation:\n  launchLatency: { median: 1m, p59: 3m }\n  launchFailureRate: 2\n  quotas: { gpu: 1 }\n');
    const error = await rayfleetErrorOf(() => loadSpec({ cwd: dir }));
    expect(error.code).toBe('SPEC_INVALID');
    const lines = error.message.split('\n').slice(1).map((line) => line.trim().replace(file, 'F'));
    expect(lines).toContain('F:3:18 simulation.launchLatency: expected a duration (60s), or one of {median, p95}, {min, max}, {mean, sd, min?}, {samples: [...]}, each a duration');
    expect(lines).toContainEqual(expect.stringMatching(/^F:4:22 simulation\.launchFailureRate: .*1/));
    expect(lines).toContain('F:5:3 simulation.quotas: unknown field');
  });

  it('documents each field with its default in the JSON Schema', () => {
    const simulation = (clusterSpecJsonSchema() as { properties: Record<string, { properties?: Record<string, { description?: string }> }> }).properties.simulation;
    expect(simulation?.properties?.launchLatency?.description).toContain('median 16.8s p95 24s');
    expect(simulation?.properties?.launchLatency?.description).toContain('assumptions');
    expect(Object.keys(simulation?.properties ?? {})).toEqual(['launchLatency', 'terminateLatency', 'launchFailureRate', 'deathRate', 'deathAfter', 'quota', 'prices', 'horizon']);
  });
});
