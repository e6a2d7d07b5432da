// rayfleet simulate through the CLI: --schema, a table side by side, --json, and usage errors with their exit codes.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeClusterRecord, provisionalRecord } from '../../fleet/cluster-record.js';
import { clusterPaths } from '../../fleet/state-dir.js';
import { Journal } from '../../journal/journal.js';
import { clusterSpecSchema } from '../../spec/schema.js';
import type { Observation } from '../../watcher/observation.js';
import { ObservationHistory, historyPointOf } from '../../watcher/observation-history.js';
import { runCli } from '../main.js';

let directory: string;
let workload: string;

beforeAll(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-simulate-cli-'));
  workload = path.join(directory, 'burst.jsonl');
  await writeFile(workload, '{"at": 0, "kind": "task", "shape": {"CPU": 1}, "count": 8, "duration": "1m"}\n');
  await writeFile(
    path.join(directory, 'rayfleet.yaml'),
    'head: { cpus: 0 }\nworkerGroups:\n  - { name: worker, cpus: 2, min: 0, max: 4 }\nwatcher: { idleTimeout: 30s }\n',
  );
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await rm(directory, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => out.push(String(chunk)) > 0);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => err.push(String(chunk)) > 0);
  try {
    const code = await runCli(['node', 'rayfleet', ...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

describe('rayfleet simulate', () => {
  it('prints the workload JSON Schema without a workload', async () => {
    const { code, stdout } = await cli('simulate', '--schema');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ properties: { arrivals: { type: 'array' } } });
  });

  it('prints the spec and each --compare side by side, with the change from the spec', async () => {
    const { code, stdout } = await cli('simulate', workload, '--spec', path.join(directory, 'rayfleet.yaml'), '--compare', 'workerGroups.worker.cpus=4', '--seed', '2');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^workload .*burst\.jsonl, seed 2, \d+ simulated minutes/);
    expect(stdout).toMatch(/nodes launched\s+4\s+2 \(-2, -50%\)/);
    expect(stdout).toMatch(/nodes lower bound\s+4\s+2 \(-2, -50%\)/);
  });

  it('prints JSON for scripts, with --set changing the base', async () => {
    const { code, stdout } = await cli('simulate', workload, '--spec', path.join(directory, 'rayfleet.yaml'), '--set', 'workerGroups.worker.max=2', '--json');
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { seed: number; settings: Array<{ label: string; report: { nodesLaunched: number; unplaced: number } }> };
    expect(result.seed).toBe(1);
    expect(result.settings).toHaveLength(1);
    expect(result.settings[0]).toMatchObject({ label: 'workerGroups.worker.max=2', report: { nodesLaunched: 2, unplaced: 0 } });
  });

  it('exits 2 for a missing workload, a bad setting or a bad workload', async () => {
    expect((await cli('simulate')).code).toBe(2);
    expect((await cli('simulate', workload, '--set', 'idleTimeout')).code).toBe(2);
    const bad = path.join(directory, 'bad.yaml');
    await writeFile(bad, 'arrivals:\n  - { at: 0, kind: task, duration: 1s }\n');
    const refused = await cli('simulate', bad);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('arrivals.0.shape: a task needs a shape');
    expect((await cli('simulate', path.join(directory, 'missing.yaml'))).code).toBe(3);
  });
});

describe('rayfleet simulate --from-journal', () => {
  const T0 = Date.parse('2026-12-01T10:00:00Z');
  let home: string;

  beforeAll(async () => {
    home = path.join(directory, 'home');
    vi.stubEnv('RAYFLEET_HOME', home);
    const stateDir = path.join(home, 'clusters', 'ray');
    await mkdir(stateDir, { recursive: true });
    const history = await ObservationHistory.open(stateDir, T0);
    // 6 one-CPU requests wait for 20 s, then the demand is gone; the last point is the writer's heartbeat.
    for (const [offset, count] of [[0, 6], [20_000, 0], [80_000, 0]] as const) {
      await history.append(historyPointOf({ atMs: T0 + offset, workers: [], demand: { shapes: count === 0 ? [] : [{ shape: { CPU: 1 }, count }], gangs: [], constraints: [] } } as unknown as Observation));
    }
    await new Journal(clusterPaths(stateDir).journal, 'ray').append({ type: 'registered', node: 'ray-worker-1', group: 'worker', reason: 'alive in the GCS', waitedMs: 9000 });
    const spec = clusterSpecSchema.parse({ head: { cpus: 0 }, workerGroups: [{ name: 'worker', cpus: 2, min: 0, max: 4 }], watcher: { idleTimeout: '30s' }, dashboard: { enabled: false } });
    await writeClusterRecord(clusterPaths(stateDir).clusterFile, provisionalRecord(spec));
  });

  it("replays the cluster's recorded demand on its saved spec, saying first what it replayed and what that approximates", async () => {
    const { code, stdout } = await cli('simulate', '--from-journal', 'ray', '--compare', 'workerGroups.worker.cpus=6');
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[0]).toBe('history 2026-12-01T10:00:00Z to 2026-12-01T10:01:20Z (0.02 h, 3 snapshots, 0 gap(s)); demand 2026-12-01T10:00:00Z to 2026-12-01T10:00:20Z');
    expect(lines[1]).toBe('shapes: {CPU: 1} 6 request(s), at most 6 waiting, median 20 s seen');
    expect(lines[2]).toContain('1 worker launch(es) measured in the journal (median 9 s');
    expect(stdout).toContain('approximates: each request is a task arriving when its demand was first seen and lasting as long as it was seen waiting');
    expect(stdout).toMatch(/workload the journal of ray, seed 1/);
    expect(stdout).toMatch(/nodes launched\s+3\s+1 \(-2, -67%\)/);
  });

  it('writes the replay as a workload that runs as it is, to the same table', async () => {
    const file = path.join(directory, 'replayed.yaml');
    const emitted = await cli('simulate', '--from-journal', 'ray', '--emit-workload', file, '--task-duration', '2m');
    expect(emitted.code).toBe(0);
    expect(emitted.stdout).toContain(`wrote ${file}: 1 arrival(s) replayed from ray`);
    expect(await readFile(file, 'utf8')).toMatch(/^# Replayed from the journal of cluster ray/);
    const fromFile = JSON.parse((await cli('simulate', file, '--json')).stdout) as { settings: Array<{ report: unknown }> };
    const direct = JSON.parse((await cli('simulate', '--from-journal', 'ray', '--task-duration', '2m', '--json')).stdout) as { settings: Array<{ report: unknown }>; replay: { shapes: unknown[] } };
    expect(fromFile.settings[0]?.report).toEqual(direct.settings[0]?.report);
    expect(direct.replay.shapes).toHaveLength(1);
  });

  it('refuses with clear codes: no such cluster, a workload beside it, journal flags without it, a cluster down without --spec', async () => {
    const missing = await cli('simulate', '--from-journal', 'nosuch');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('CLUSTER_NOT_FOUND');
    expect((await cli('simulate', workload, '--from-journal', 'ray')).code).toBe(2);
    expect((await cli('simulate', workload, '--since', '1h')).stderr).toContain('--since goes with --from-journal');
    await rm(clusterPaths(path.join(home, 'clusters', 'ray')).clusterFile);
    const down = await cli('simulate', '--from-journal', 'ray');
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('give the spec it ran with, --spec FILE');
    expect((await cli('simulate', '--from-journal', 'ray', '--spec', path.join(directory, 'rayfleet.yaml'))).code).toBe(0);
  });
});
