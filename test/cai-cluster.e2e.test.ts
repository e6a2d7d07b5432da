// End to end on the CML API emulator: `cai setup` builds a real venv through a job, then the cluster's nodes are
// applications whose launcher starts real Ray nodes on this machine, which a driver uses.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import { findFreePort } from '../src/net/ports.js';
import { pollUntil } from '../src/wait/poll-until.js';
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

  // After `down`: on this one machine the test cluster takes the same head ports (each CML pod has its own).
  it('tests the workspace end to end in one command, and cleans up after itself', async () => {
    const tested = `${name}t`;
    const result = await sandbox.run(cli(['cai', 'test', '-c', tested, '--workers', '1', '--cpu', '1', '--memory', '2', '--gpu', '0']), { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('test passed: 1 worker(s) joined Ray');
    expect(result.stdout).toContain(`${tested}-worker-1`);
    expect(result.stdout).toContain(`CML ${emulator.url}, key cml-…`);
    expect(`${result.stdout}${result.stderr}`).not.toContain(API_KEY);
    expect(applications().filter((application) => application.name.startsWith(`${tested}-`))).toEqual([]);
  });

  describe('with the watcher inside the head application', () => {
    const scaled = `${name}w`;
    let scaledSpec: string;
    const runScaled = (args: string[]) => sandbox.run([...args, '--config', scaledSpec], { env });
    const apps = () => applications().filter((application) => application.name.startsWith(`${scaled}-`));
    const appNames = () => apps().map((application) => application.name).sort();

    async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 180_000): Promise<T> {
      return pollUntil(async () => check(), { timeoutMs, intervalMs: 500, describe: () => what });
    }

    beforeAll(async () => {
      scaledSpec = path.join(sandbox.dir, 'cai-watched.yaml');
      await writeFile(
        scaledSpec,
        [
          `name: ${scaled}`,
          `provider: { type: cai, runtimeIdentifier: "${PYTHON_RUNTIME}" }`,
          `head: { cpus: 0, objectStoreMemory: 100MB, gcsPort: ${await findFreePort()}, dashboardPort: ${await findFreePort()}, clientPort: ${await findFreePort()} }`,
          'workerGroups:',
          '  - { name: worker, cpus: 1, objectStoreMemory: 100MB, min: 1, max: 3 }',
          'watcher: { interval: 500ms, idleTimeout: 5s }',
        ].join('\n'),
      );
      const up = await runScaled(['up']);
      if (up.exitCode !== 0) throw new Error(`up failed: ${up.stderr}`);
      expect(up.stdout).toContain('watcher: in the head application');
    }, 300_000);

    afterAll(async () => {
      await runScaled(['down']);
    });

    it('replaces a worker application killed below min', async () => {
      const victim = [...emulator.store.applications.values()].find((application) => application.name === `${scaled}-worker-1`);
      const engine = victim === undefined ? undefined : emulator.processOf(victim.id);
      expect(engine).toBeDefined();
      process.kill(-(engine?.pid ?? 0), 'SIGKILL');
      await waitFor('worker-1 replaced by a new, running application', () => {
        const current = [...emulator.store.applications.values()].find((application) => application.name === `${scaled}-worker-1`);
        return current !== undefined && current.id !== victim?.id && current.status === 'APPLICATION_RUNNING' ? true : undefined;
      });
    });

    it('scales worker applications up on demand and back down when idle', async () => {
      const driverEnv = JSON.parse((await runScaled(['env', '--json'])).stdout) as Record<string, string>;
      const script = path.join(sandbox.dir, 'burst.py');
      await writeFile(script, ['import ray, time', 'ray.init()', '@ray.remote(num_cpus=1)', 'def work():', '    time.sleep(10); return 1', 'print(sum(ray.get([work.remote() for _ in range(3)])))'].join('\n'));
      const ray = path.join(path.dirname(process.env.RAYFLEET_TEST_PYTHON ?? 'python3'), 'ray');
      // A job on the head: its driver runs beside the head's raylet, where the watcher sees its demand.
      const job = execa(ray, ['job', 'submit', '--address', driverEnv.RAY_API_SERVER_ADDRESS ?? '', '--', 'python', script], { env: driverEnv, reject: false, timeout: 240_000 });
      await waitFor('the watcher to run 3 worker applications', () => (appNames().filter((app) => app.includes('-worker-')).length === 3 ? true : undefined));
      expect(appNames()).toEqual([`${scaled}-head`, `${scaled}-worker-1`, `${scaled}-worker-2`, `${scaled}-worker-3`]);
      const result = await job;
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^3$/m);
      await waitFor('idle worker applications deleted down to min 1', () => (appNames().filter((app) => app.includes('-worker-')).length === 1 ? true : undefined));
    });
  });
});
