// rayfleet run's exit codes for rayfleet's own failures: the failure's code (2-5), never the job's 1, and no cluster for a bad request.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../main.js';

let directory: string;
const savedEnv = { RAYFLEET_HOME: process.env.RAYFLEET_HOME, DOCKER_HOST: process.env.DOCKER_HOST };

beforeAll(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-run-cli-'));
  process.env.RAYFLEET_HOME = path.join(directory, 'home');
  await writeFile(path.join(directory, 'bad.yaml'), 'name: rfbad\nhead: { cpus: lots }\n');
  await writeFile(path.join(directory, 'local.yaml'), 'name: rflocal\nworkerGroups: [{ name: worker, cpus: 1, min: 0, max: 1 }]\ndashboard: { enabled: false }\n');
  await writeFile(path.join(directory, 'docker.yaml'), 'name: rfdock\nprovider: { type: docker }\nworkerGroups: [{ name: worker, cpus: 1, min: 0, max: 1 }]\ndashboard: { enabled: false }\n');
});

afterEach(() => {
  for (const [name, value] of Object.entries(savedEnv)) if (name !== 'RAYFLEET_HOME') restore(name, value);
});

afterAll(async () => {
  restore('RAYFLEET_HOME', savedEnv.RAYFLEET_HOME);
  await rm(directory, { recursive: true, force: true });
});

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

async function run(...args: string[]): Promise<{ code: number; stderr: string }> {
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => err.push(String(chunk)) > 0);
  try {
    return { code: await runCli(['node', 'rayfleet', 'run', ...args]), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

async function clustersMade(): Promise<string[]> {
  return readdir(path.join(directory, 'home', 'clusters')).catch(() => []);
}

describe('rayfleet run exits with the code of its own failure', () => {
  it('2 for a spec that is invalid', async () => {
    const result = await run('--config', path.join(directory, 'bad.yaml'), '--', 'python', '-c', 'print(1)');
    expect(result.stderr).toMatch(/error \[SPEC_INVALID\].*bad\.yaml is invalid/);
    expect(result.code).toBe(2);
  });

  it('3 for a spec file that is not there', async () => {
    const result = await run('--config', path.join(directory, 'missing.yaml'), '--', 'python', '-c', 'print(1)');
    expect(result.stderr).toMatch(/SPEC_NOT_FOUND/);
    expect(result.code).toBe(3);
  });

  it('2 for a job request rayfleet cannot read, before any cluster is started for it', async () => {
    const result = await run('--config', path.join(directory, 'local.yaml'), '--runtime-env-json', '{pip', '--', 'python', '-c', 'print(1)');
    expect(result.stderr).toMatch(/error \[USAGE\]: --runtime-env-json is not JSON/);
    expect(result.stderr).not.toMatch(/starting cluster/);
    expect(result.code).toBe(2);
    expect(await clustersMade()).toEqual([]);
  });

  it('5 for a backend it cannot reach, the cluster it began given up', async () => {
    process.env.DOCKER_HOST = `unix://${path.join(directory, 'no-engine.sock')}`;
    const result = await run('--config', path.join(directory, 'docker.yaml'), '--', 'python', '-c', 'print(1)');
    expect(result.stderr).toMatch(/starting cluster rfdock for the job/);
    expect(result.stderr).toMatch(/error \[DOCKER_UNREACHABLE\]: cannot reach the Docker Engine/);
    expect(result.code).toBe(5);
  });
});
