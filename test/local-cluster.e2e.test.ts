// End to end on this machine: real Ray nodes as local process groups, driven through the built CLI.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { startDriver } from './support/drivers.js';
import { processesOfNodes } from './support/processes.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

const ALIVE = ['RUNNING', 'IDLE'];

function aliveInRay(status: ClusterStatus): string[] {
  return status.nodes.filter((node) => node.ray !== null && ALIVE.includes(node.ray.status)).map((node) => node.name);
}

describe('a local cluster', () => {
  let a: TestCluster;
  let b: TestCluster;

  beforeAll(async () => {
    a = await createTestCluster({ name: 'rfa', workers: 2 });
    b = await createTestCluster({ name: 'rfb', workers: 1 }, { sandbox: a.sandbox });
  });

  afterAll(async () => {
    await a.down();
    await b.down();
  });

  it('comes up with a head and 2 workers, all alive in Ray', async () => {
    const up = await a.run(['up']);
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stdout).toContain('rfa-worker-2');
    const status = await a.json<ClusterStatus>(['status']);
    expect(status.cluster).toBe('rfa');
    expect(status.provider).toBe('local');
    expect(status.dashboardUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(status.nodes.map((node) => [node.name, node.group, node.index, node.state])).toEqual([
      ['rfa-head', 'head', 0, 'running'],
      ['rfa-worker-1', 'worker', 1, 'running'],
      ['rfa-worker-2', 'worker', 2, 'running'],
    ]);
    expect(aliveInRay(status)).toEqual(['rfa-head', 'rfa-worker-1', 'rfa-worker-2']);
    expect(status.nodes[1]?.ray?.resources.CPU).toBe(1);
    expect(status.nodes[1]?.ray?.nodeId).toMatch(/^[0-9a-f]{56}$/);
    expect(status.totals.resources.CPU).toBe(2);
  });

  it('runs a driver on the cluster with the environment from `rayfleet env`', async () => {
    const env = await a.driverEnv();
    expect(env.RAY_ADDRESS).toBe(`127.0.0.1:${/127\.0\.0\.1:(\d+)/.exec(env.RAY_ADDRESS ?? '')?.[1]}`);
    const driver = await startDriver('where-tasks-ran.py', [], { env, timeoutMs: 180_000 });
    expect(driver.exitCode, driver.stderr).toBe(0);
    expect(driver.stdout).toMatch(/^30 \[('rfa-worker-\d', )*'rfa-worker-\d'\]$/m);
  });

  it('adds a worker at the next index and has it registered in Ray', async () => {
    const added = await a.run(['add-worker']);
    expect(added.exitCode, added.stderr).toBe(0);
    expect(added.stdout).toContain('rfa-worker-3 joined');
    expect(aliveInRay(await a.json<ClusterStatus>(['status']))).toContain('rfa-worker-3');
  });

  it('removes a worker after draining it, and gives its name to the next one', async () => {
    const removed = await a.run(['remove-worker', 'rfa-worker-2']);
    expect(removed.exitCode, removed.stderr).toBe(0);
    const status = await a.json<ClusterStatus>(['status']);
    expect(status.nodes.map((node) => node.name)).not.toContain('rfa-worker-2');
    expect(aliveInRay(status)).toEqual(['rfa-head', 'rfa-worker-1', 'rfa-worker-3']);
    const events = await a.json<Array<{ type: string; node?: string }>>(['events']);
    expect(events.filter((event) => event.node === 'rfa-worker-2').map((event) => event.type)).toEqual(expect.arrayContaining(['drain', 'terminate']));
    const again = await a.run(['add-worker']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toContain('rfa-worker-2 joined');
  });

  it('refuses to remove a busy worker unless forced', async () => {
    const driver = startDriver('hold-cpus.py', ['1', '3'], { env: await a.driverEnv() });
    try {
      const busy = await pollUntil(
        async () => {
          const status = await a.json<ClusterStatus>(['status']);
          return status.nodes.find((node) => node.name === 'rfa-worker-1' && node.ray !== null && (node.ray.available.CPU ?? 0) === 0);
        },
        { timeoutMs: 60_000, intervalMs: 500, describe: () => 'rfa-worker-1 busy' },
      );
      const refused = await a.run(['remove-worker', busy.name]);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain('NODE_BUSY');
      expect(refused.stderr).toContain('--force');
      const forced = await a.run(['remove-worker', busy.name, '--force']);
      expect(forced.exitCode, forced.stderr).toBe(0);
      expect((await a.json<ClusterStatus>(['status'])).nodes.map((node) => node.name)).not.toContain(busy.name);
    } finally {
      driver.kill('SIGKILL');
    }
    const back = await a.run(['add-worker']);
    expect(back.stdout).toContain('rfa-worker-1 joined');
  });

  it('shows a worker killed with SIGKILL as stopped, and Ray then reports it dead', async () => {
    const before = await a.json<ClusterStatus>(['status']);
    const victim = before.nodes.find((node) => node.name === 'rfa-worker-3');
    expect(victim).toBeDefined();
    process.kill(-Number(victim?.providerId), 'SIGKILL');
    const after = await pollUntil(
      async () => {
        const status = await a.json<ClusterStatus>(['status']);
        const node = status.nodes.find((candidate) => candidate.name === 'rfa-worker-3');
        return node?.state === 'stopped' && node.ray?.status === 'DEAD' ? status : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1000, describe: () => 'rfa-worker-3 to be stopped and dead in Ray' },
    );
    expect(aliveInRay(after)).toEqual(['rfa-head', 'rfa-worker-1', 'rfa-worker-2']);
    const text = await a.run(['status']);
    expect(text.stdout).toMatch(/rfa-worker-3\s+worker\s+stopped\s+DEAD/);
  });

  it('shows a node log, and the old logs-ray names', async () => {
    const logs = await a.run(['logs', 'rfa-head', '--tail', '50']);
    expect(logs.exitCode, logs.stderr).toBe(0);
    expect(logs.stdout).toContain('Ray runtime started');
    const old = await a.run(['logs-ray', '--service', 'worker-1']);
    expect(old.exitCode, old.stderr).toBe(0);
    expect(old.stdout).toContain('starting rfa-worker-1');
  });

  it('answers an unknown node with exit 3 and a bad spec with exit 2', async () => {
    const unknown = await a.run(['remove-worker', 'rfa-worker-99']);
    expect(unknown.exitCode).toBe(3);
    expect(unknown.stderr).toContain('NODE_NOT_FOUND');
    const badSpec = path.join(a.sandbox.dir, 'bad.yaml');
    await writeFile(badSpec, 'name: rfbad\nworkerGroups:\n  - { name: worker, cpus: many, min: 1, max: 2 }\n');
    const bad = await a.sandbox.run(['up', '--config', badSpec]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/SPEC_INVALID/);
    expect(bad.stderr).toMatch(/bad\.yaml:3:\d+/);
    const missing = await a.sandbox.run(['status', '-c', 'nosuchcluster']);
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toContain('CLUSTER_NOT_FOUND');
  });

  it('refuses a port already in use and leaves nothing running', async () => {
    const statusA = await a.json<ClusterStatus>(['status']);
    const takenPort = Number(statusA.dashboardUrl.split(':').at(-1));
    const clash = path.join(a.sandbox.dir, 'clash.yaml');
    await writeFile(clash, `name: rfclash\nhead: { cpus: 0, dashboardPort: ${takenPort}, gcsPort: 39123, clientPort: 39124 }\nworkerGroups:\n  - { name: worker, min: 1, max: 1 }\n`);
    const result = await a.sandbox.run(['up', '--config', clash]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('PORT_IN_USE');
    expect(result.stderr).toContain(String(takenPort));
    expect(processesOfNodes(['rfclash-head', 'rfclash-worker-1'])).toEqual([]);
  });

  it('takes one cluster down and leaves a second one running', async () => {
    const upB = await b.run(['up']);
    expect(upB.exitCode, upB.stderr).toBe(0);
    const namesA = (await a.json<ClusterStatus>(['status'])).nodes.map((node) => node.name);
    expect(processesOfNodes(namesA).length).toBeGreaterThan(0);
    const down = await a.run(['down']);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(processesOfNodes(namesA)).toEqual([]);
    expect(aliveInRay(await b.json<ClusterStatus>(['status']))).toEqual(['rfb-head', 'rfb-worker-1']);
    expect((await a.run(['status'])).exitCode).toBe(3);
    const downB = await b.run(['down']);
    expect(downB.exitCode, downB.stderr).toBe(0);
    expect(processesOfNodes(['rfb-head', 'rfb-worker-1'])).toEqual([]);
  });
});
