// Workload files: YAML and JSONL arrivals with the spec's durations, kind-specific fields checked, errors pointing at the arrival.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRayfleetError } from '../errors.js';
import { parseWorkload, workloadJsonSchema } from './workload.js';

function problemsOf(text: string, source = 'w.yaml'): string {
  try {
    parseWorkload(text, source);
  } catch (error) {
    if (isRayfleetError(error, 'SPEC_INVALID')) return `${error.message}\n${error.details ?? ''}`;
    throw error;
  }
  throw new Error('expected the workload to be refused');
}

describe('parseWorkload', () => {
  it('reads YAML arrivals with durations as the spec writes them, sorted by time', () => {
    const workload = parseWorkload(
      [
        'name: mix',
        'simulation: { launchLatency: { median: 30s, p95: 2m }, prices: { worker: 0.5 } }',
        'arrivals:',
        '  - { at: 5m, kind: placement-group, bundles: [{ CPU: 2, GPU: 1 }, { CPU: 2, GPU: 1 }], strategy: STRICT_SPREAD, duration: 1h }',
        '  - { at: 90, kind: task, shape: { CPU: 1, memory: 2GiB }, count: 10, duration: 1m30s, over: 30s }',
        '  - { at: 0s, kind: actor, shape: { CPU: 1 }, duration: forever }',
      ].join('\n'),
      'w.yaml',
    );
    expect(workload.name).toBe('mix');
    expect(workload.arrivals.map((arrival) => [arrival.atMs, arrival.kind, arrival.count, arrival.durationMs, arrival.overMs])).toEqual([
      [0, 'actor', 1, Number.POSITIVE_INFINITY, 0],
      [90_000, 'task', 10, 90_000, 30_000],
      [300_000, 'placement-group', 1, 3_600_000, 0],
    ]);
    expect(workload.arrivals[1]?.shape).toEqual({ CPU: 1, memory: 2 ** 31 });
    expect(workload.arrivals[2]?.strategy).toBe('STRICT_SPREAD');
    expect(workload.simulation).toMatchObject({ launchLatency: { kind: 'lognormal', medianMs: 30_000, p95Ms: 120_000 }, prices: { worker: 0.5 }, launchFailureRate: 0 });
  });

  it('reads a bare YAML list, and JSONL one arrival a line', () => {
    expect(parseWorkload('- { at: 1s, kind: task, shape: { CPU: 1 }, duration: 1s }\n', 'w.yaml').arrivals).toHaveLength(1);
    const jsonl = '{"at": "10s", "kind": "task", "shape": {"CPU": 1}, "duration": 5}\n\n{"at": 0, "kind": "actor", "shape": {"GPU": 1}, "duration": "1m"}\n';
    expect(parseWorkload(jsonl, 'w.jsonl').arrivals.map((arrival) => [arrival.atMs, arrival.durationMs])).toEqual([
      [0, 60_000],
      [10_000, 5_000],
    ]);
  });

  it('names the arrival and field of each problem, by line in JSONL', () => {
    const yaml = problemsOf(
      'arrivals:\n  - { at: 0, kind: task, duration: 1s }\n  - { at: 1, kind: placement-group, shape: { CPU: 1 }, duration: 1s, strategy: SPREAD }\n  - { at: 1x, kind: task, shape: { CPU: 1 }, duration: 1s }\n',
    );
    // A missing field at its arrival's line, a wrong one at its own line and column, as the spec's errors.
    expect(yaml).toContain('w.yaml:2:5: arrivals.0.shape: a task needs a shape');
    expect(yaml).toContain('w.yaml:4:11: arrivals.2.at: "1x" is not a duration');
    expect(problemsOf('- { at: 0, kind: task, shape: { CPU: 1 }, duration: 1s }\n- { at: 0, kind: task, shape: { CPU: x }, duration: 1s }\n')).toContain('w.yaml:2:38: arrivals.1.shape.CPU: CPU: expected a number');
    expect(problemsOf('simulation:\n  launchLatency: { median: 1m }\narrivals: [{ at: 0, kind: task, shape: { CPU: 1 }, duration: 1 }]\n')).toContain('w.yaml:2:18: simulation.launchLatency:');
    expect(yaml).toContain('arrivals.1.bundles: a placement group needs bundles');
    expect(yaml).toContain('arrivals.1.shape: a placement group has bundles, not a shape');
    expect(problemsOf('{"at": 0, "kind": "task", "shape": {"CPU": 1}, "duration": 1}\n\n{"at": 0, "kind": "task", "shape": {"CPU": 1}, "duration": 1, "strategy": "STRICT_PACK"}\n', 'w.jsonl')).toContain(
      "line 3: strategy: a task's strategy is one of DEFAULT, SPREAD",
    );
    expect(problemsOf('{"at": 0}\nnot json\n', 'w.jsonl')).toContain('w.jsonl:2: not a JSON object');
    expect(problemsOf('arrivals: []\n')).toContain('arrivals:');
  });

  it('lets an edit change the raw document before it is checked', () => {
    const workload = parseWorkload('arrivals: [{ at: 0, kind: task, shape: { CPU: 1 }, duration: 1 }]\n', 'w.yaml', (raw) => {
      raw.simulation = { launchFailureRate: 0.5 };
    });
    expect(workload.simulation.launchFailureRate).toBe(0.5);
  });

  it('has a JSON Schema that describes the arrival fields', () => {
    const schema = JSON.stringify(workloadJsonSchema());
    for (const field of ['arrivals', 'at', 'kind', 'shape', 'bundles', 'count', 'duration', 'strategy', 'STRICT_SPREAD', 'launchLatency']) expect(schema).toContain(`"${field}"`);
  });

  it('reads every example workload', async () => {
    const directory = path.join(import.meta.dirname, '../../examples/workloads');
    const files = (await readdir(directory)).filter((file) => /\.(ya?ml|jsonl)$/.test(file));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) expect(parseWorkload(await readFile(path.join(directory, file), 'utf8'), file).arrivals.length).toBeGreaterThan(0);
  });
});
