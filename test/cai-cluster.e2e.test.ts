// End to end on the CML API emulator: `cai setup` builds a real venv through a job, then the cluster's nodes are
// applications whose launcher starts real Ray nodes on this machine, which a driver uses.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import { findFreePort } from '../src/net/ports.js';
import { startCmlEmulator, type CmlEmulator } from './cml-emulator/start-cml-emulator.js';
import { PYTHON_RUNTIME } from './cml-emulator/workspace-fixture.js';
import { createSandbox, type Sandbox } from './support/run-cli.js';

const API_KEY = 'cml-e2e-key-0b9d3c7e1f2a4d6b';

describe('a cluster on Cloudera AI (the CML API emulator)', () => {
  let sandbox: Sandbox;
  let emulator: CmlEmulator;
  let spec: string;
  let env: Record<string, string>;
  const name = `rfc${Math.random().toString(36).slice(2, 6)}`;
  const cli = (args: string[]): string[] => [...args, '--config', spec];
  const run = (args: string[]) => sandbox.run(cli(args), { env });

  async function status(): Promise<ClusterStatus> {
    const result = await run(['status', '--json']);
    if (result.exitCode !== 0) throw new Error(`status exited ${result.exitCode}: ${result.stderr}`);
    return JSON.parse(result.stdout) as ClusterStatus;
  }

  function applications(): Array<{ name: string; status: string }> {
    return [...emulator.store.applications.values()].map((application) => ({ name: application.name, status: application.status }));
  }

  beforeAll(async () => {
    sandbox = await createSandbox();
    emulator = await startCmlEmulator({ apiKey: API_KEY, projectsRoot: path.join(sandbox.dir, 'projects') });
    env = { CML_HOST: emulator.url, CML_API_KEY: API_KEY };
    spec = path.join(sandbox.dir, 'cai.yaml');
    await writeFile(
      spec,
      [
        `name: ${name}`,
        `provider: { type: cai, runtimeIdentifier: "${PYTHON_RUNTIME}" }`,
        `head: { cpus: 0, objectStoreMemory: 100MB, gcsPort: ${await findFreePort()}, dashboardPort: ${await findFreePort()}, clientPort: ${await findFreePort()} }`,
        'workerGroups:',
        '  - { name: worker, cpus: 1, objectStoreMemory: 100MB, min: 2, max: 4 }',
        'watcher: { enabled: false }',
      ].join('\n'),
    );
  }, 60_000);

  afterAll(async () => {
    await run(['down']);
    await emulator.close();
  });

  it('lists the runtimes of the workspace', async () => {
    const result = await run(['cai', 'runtimes', '--search', 'python3.11-standard']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(PYTHON_RUNTIME);
    expect(result.stdout).not.toContain('cuda');
  });

  it('sets up a project: launchers uploaded, the venv with Ray and Node built by a job run that succeeded', async () => {
    const result = await sandbox.run(cli(['cai', 'setup', '--project-name', `${name}-project`, '--json']), { env, timeoutMs: 900_000 });
    expect(result.exitCode, result.stderr).toBe(0);
    const setup = JSON.parse(result.stdout) as { projectId: string; status: string };
    expect(setup.status).toBe('ENGINE_SUCCEEDED');
    // The key is shown masked, never whole.
    expect(result.stderr).not.toContain(API_KEY);
    env.CML_PROJECT_ID = setup.projectId;
    const project = emulator.store.projects.get(setup.projectId);
    const venv = path.join(String(project?.directory), '.venv');
    const ray = await execa(path.join(venv, 'bin', 'ray'), ['--version']);
    expect(ray.stdout).toContain('2.60.0');
    const node = await execa(path.join(venv, 'bin', 'node'), ['--version']);
    expect(node.stdout).toMatch(/^v\d+\./);
  }, 900_000);

  it('brings up a head and 2 worker applications that form one Ray cluster', async () => {
    const up = await run(['up']);
    expect(up.exitCode, up.stderr).toBe(0);
    const current = await status();
    expect(current.nodes.map((node) => [node.name, node.state, node.ray !== null && node.ray.status !== 'DEAD'])).toEqual([
      [`${name}-head`, 'running', true],
      [`${name}-worker-1`, 'running', true],
      [`${name}-worker-2`, 'running', true],
    ]);
    expect(applications().map((application) => application.status).sort()).toEqual(['APPLICATION_RUNNING', 'APPLICATION_RUNNING', 'APPLICATION_RUNNING']);
  });

  it('runs a driver from `rayfleet env` on the cluster', async () => {
    const driverEnv = JSON.parse((await run(['env', '--json'])).stdout) as Record<string, string>;
    expect(driverEnv.RAY_ADDRESS).toMatch(/^ray:\/\/127\.0\.0\.1:\d+$/);
    const script = path.join(sandbox.dir, 'driver.py');
    await writeFile(script, ['import ray', 'ray.init()', '@ray.remote(num_cpus=1)', 'def one():', '    return 1', 'print(sum(ray.get([one.remote() for _ in range(8)])))'].join('\n'));
    const driver = await execa(process.env.RAYFLEET_TEST_PYTHON ?? 'python3', [script], { env: driverEnv, timeout: 120_000 });
    expect(driver.stdout.trim().split('\n').at(-1)).toBe('8');
  });

  it('adds a worker application, shows its log, removes it', async () => {
    const add = await run(['add-worker']);
    expect(add.exitCode, add.stderr).toBe(0);
    expect(applications().map((application) => application.name)).toContain(`${name}-worker-3`);
    const logs = await run(['logs', `${name}-worker-3`]);
    expect(logs.exitCode, logs.stderr).toBe(0);
    expect(logs.stdout).toContain('Ray runtime started');
    const remove = await run(['remove-worker', `${name}-worker-3`]);
    expect(remove.exitCode, remove.stderr).toBe(0);
    expect(applications().map((application) => application.name)).not.toContain(`${name}-worker-3`);
  });

  it('ends with the same cluster and no duplicate application when the API answers 429 and 500', async () => {
    emulator.setFaults({ rules: [{ kind: 'status', status: 429, times: 2 }, { kind: 'status', status: 500, times: 2, method: 'POST' }] });
    const add = await run(['add-worker']);
    emulator.setFaults({});
    expect(add.exitCode, add.stderr).toBe(0);
    const names = applications().map((application) => application.name).sort();
    expect(names).toEqual([`${name}-head`, `${name}-worker-1`, `${name}-worker-2`, `${name}-worker-3`]);
    expect(emulator.requests.some((request) => request.fault !== undefined)).toBe(true);
  });

  it('takes the cluster down: no application and no process left', async () => {
    const ids = [...emulator.store.applications.keys()];
    const down = await run(['down']);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(applications()).toEqual([]);
    expect(ids.map((id) => emulator.processOf(id))).toEqual(ids.map(() => undefined));
  });
});
