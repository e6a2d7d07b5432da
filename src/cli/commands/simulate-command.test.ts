// rayfleet simulate through the CLI: --schema, a table side by side, --json, and usage errors with their exit codes.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
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
