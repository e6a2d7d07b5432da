// End to end, real Ray: one rule for a running cluster's spec, ports chosen so clusters run side by side, and the
// library owning the watcher (fleet.down() leaves no watcher and no node).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import { Fleet } from '../src/fleet/fleet.js';
import { isProcessAlive } from '../src/process/process-alive.js';
import { loadSpec } from '../src/spec/load-spec.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { processesOfNodes } from './support/processes.js';
import { createSandbox, type Sandbox } from './support/run-cli.js';

const ALIVE = new Set(['RUNNING', 'IDLE']);

function aliveInRay(status: ClusterStatus): string[] {
  return status.nodes.filter((node) => node.ray !== null && ALIVE.has(node.ray.status)).map((node) => node.name);
}

/** A small cluster with no port settings: rayfleet chooses them. */
function specText(name: string, options: { min: number; watcher: string; head?: string }): string {
  return [
    `name: ${name}`,
    `head: { cpus: 1, objectStoreMemory: 100MB${options.head ?? ''} }`,
    'workerGroups:',
    `  - { name: worker, cpus: 1, objectStoreMemory: 100MB, min: ${options.min}, max: 4 }`,
    `watcher: ${options.watcher}`,
    'dashboard: { enabled: false }',
    '',
  ].join('\n');
}

async function waitForStatus(sandbox: Sandbox, args: string[], what: string, ready: (status: ClusterStatus) => boolean): Promise<ClusterStatus> {
  return pollUntil(
    async () => {
      const status = await sandbox.json<ClusterStatus>(['status', ...args]);
      return ready(status) ? status : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 1_000, describe: () => what },
  );
}

describe("a running cluster's spec", () => {
  let sandbox: Sandbox;
  let spec: string;
  const cli = (args: string[]): string[] => [...args, '--config', spec];

  beforeAll(async () => {
    sandbox = await createSandbox();
    spec = path.join(sandbox.dir, 'rayfleet.yaml');
    await writeFile(spec, specText('rfm', { min: 1, watcher: '{ interval: 500ms, idleTimeout: 5m }' }));
    const up = await sandbox.run(cli(['up']));
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/ports: gcs \d+, dashboard \d+, client \d+, serve \d+/);
    expect(up.stdout).toMatch(/watcher: running \(pid \d+\)/);
  });

  afterAll(async () => {
    await sandbox.run(cli(['down']));
  });

  it('takes a raised min live through `up`, and the watcher brings the worker', async () => {
    await writeFile(spec, specText('rfm', { min: 2, watcher: '{ interval: 500ms, idleTimeout: 5m }' }));
    const diff = await sandbox.run(cli(['spec', 'diff']));
    expect(diff.stdout).toContain('workerGroups[worker].min: 1 → 2');
    const up = await sandbox.run(cli(['up']));
    expect(up.exitCode, up.stderr).toBe(0);
    const status = await waitForStatus(sandbox, ['--config', spec], 'rfm-worker-2 alive in Ray', (candidate) => aliveInRay(candidate).includes('rfm-worker-2'));
    expect(aliveInRay(status)).toEqual(['rfm-head', 'rfm-worker-1', 'rfm-worker-2']);
    const events = await sandbox.json<Array<{ type: string; node?: string; reason: string; fields?: string[] }>>(cli(['events']));
    expect(events.find((event) => event.type === 'spec-changed')?.fields).toEqual(['workerGroups[worker].min']);
    expect(events.find((event) => event.type === 'launch' && event.node === 'rfm-worker-2')?.reason).toMatch(/^watcher: /);
  });

  it('refuses a changed gcsPort with the field-by-field diff, and changes nothing', async () => {
    await writeFile(spec, specText('rfm', { min: 2, watcher: '{ interval: 500ms, idleTimeout: 5m }', head: ', gcsPort: 16379' }));
    const up = await sandbox.run(cli(['up']));
    expect(up.exitCode).toBe(2);
    expect(up.stderr).toContain('error [USAGE]');
    expect(up.stderr).toContain('head.gcsPort: (unset) → 16379  (needs a restart)');
    expect(up.stderr.trim().endsWith('run `rayfleet restart` to apply')).toBe(true);
    const status = await sandbox.json<ClusterStatus>(cli(['status']));
    expect(status.ports.gcsPort).not.toBe(16379);
  });

  it('restart --num-workers 3 applies the flag: three workers', async () => {
    await writeFile(spec, specText('rfm', { min: 2, watcher: '{ enabled: false }' }));
    const restarted = await sandbox.run(cli(['restart', '--num-workers', '3']));
    expect(restarted.exitCode, restarted.stderr).toBe(0);
    const status = await sandbox.json<ClusterStatus>(cli(['status']));
    expect(aliveInRay(status)).toEqual(['rfm-head', 'rfm-worker-1', 'rfm-worker-2', 'rfm-worker-3']);
  });
});

describe('two clusters with no port settings', () => {
  let sandbox: Sandbox;
  const specs: Record<string, string> = {};
  const on = (name: string, args: string[]): string[] => [...args, '--config', specs[name] ?? ''];

  beforeAll(async () => {
    sandbox = await createSandbox();
    for (const name of ['rfp', 'rfq']) {
      specs[name] = path.join(sandbox.dir, `${name}.yaml`);
      await writeFile(specs[name], specText(name, { min: 0, watcher: '{ enabled: false }' }));
    }
  });

  afterAll(async () => {
    for (const name of ['rfp', 'rfq']) await sandbox.run(on(name, ['down']));
  });

  it('come up side by side, each reachable by a driver through `rayfleet env`, and down of one leaves the other', async () => {
    for (const name of ['rfp', 'rfq']) {
      const up = await sandbox.run(on(name, ['up']));
      expect(up.exitCode, `${name}: ${up.stderr}`).toBe(0);
    }
    const [p, q] = [await sandbox.json<ClusterStatus>(on('rfp', ['status'])), await sandbox.json<ClusterStatus>(on('rfq', ['status']))];
    expect(p.ports.gcsPort).not.toBe(q.ports.gcsPort);
    expect(p.ports.dashboardPort).not.toBe(q.ports.dashboardPort);
    for (const name of ['rfp', 'rfq']) {
      const env = await sandbox.json<Record<string, string>>(on(name, ['env']));
      const driver = await execa(process.env.RAYFLEET_TEST_PYTHON ?? 'python3', ['-c', 'import ray; ray.init(); print(ray.get_runtime_context().gcs_address)'], { env, reject: false, timeout: 120_000 });
      expect(driver.exitCode, driver.stderr).toBe(0);
      // Ray reports the GCS by the host's address; the port says which cluster the driver joined.
      expect(driver.stdout.trim().split(':').at(-1)).toBe(String(name === 'rfp' ? p.ports.gcsPort : q.ports.gcsPort));
    }
    expect((await sandbox.run(on('rfp', ['down']))).exitCode).toBe(0);
    expect(aliveInRay(await sandbox.json<ClusterStatus>(on('rfq', ['status'])))).toEqual(['rfq-head']);
    expect(processesOfNodes(['rfp-head'])).toEqual([]);
    // Two clusters up, two drivers, one down: longer than one cluster's tests.
  }, 480_000);
});

describe("the library's fleet", () => {
  let sandbox: Sandbox;
  let fleet: Fleet | undefined;

  beforeAll(async () => {
    sandbox = await createSandbox();
    process.env.RAYFLEET_HOME = sandbox.env.RAYFLEET_HOME;
  });

  afterAll(async () => {
    await fleet?.down().catch(() => undefined);
    fleet?.close();
    delete process.env.RAYFLEET_HOME;
  });

  it('up starts the watcher and down() stops it before any node: no watcher process and no node left', async () => {
    const file = path.join(sandbox.dir, 'rayfleet.yaml');
    await writeFile(file, specText('rfl', { min: 1, watcher: '{ interval: 500ms }' }));
    const { spec } = await loadSpec({ configPath: file, env: {} });
    fleet = await Fleet.open({ spec });
    await fleet.up();
    const place = await fleet.watcher.place();
    expect(place.runs).toBe('here');
    const watcherPid = place.runs === 'here' ? place.pid : -1;
    expect(isProcessAlive(watcherPid)).toBe(true);
    await fleet.down();
    expect(isProcessAlive(watcherPid)).toBe(false);
    expect(processesOfNodes(['rfl-head', 'rfl-worker-1'])).toEqual([]);
    const { events } = await fleet.events();
    const types = events.map((event) => event.type);
    // The watcher's own stop is journaled before the first node is stopped.
    expect(types.lastIndexOf('watcher')).toBeLessThan(types.indexOf('terminate'));
  }, 480_000);
});
