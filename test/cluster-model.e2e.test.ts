// End to end, real Ray: one rule for a running cluster's spec, ports chosen so clusters run side by side, and the
// library owning the watcher (fleet.down() leaves no watcher and no node).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import { Fleet } from '../src/fleet/fleet.js';
import { isProcessAlive } from '../src/process/process-alive.js';
import { loadSpec } from '../src/spec/load-spec.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { startDriver } from './support/drivers.js';
import { processesOfNodes } from './support/processes.js';
import { createTestCluster, type TestCluster, type TestSpec } from './support/test-cluster.js';

const ALIVE = new Set(['RUNNING', 'IDLE']);

function aliveInRay(status: ClusterStatus): string[] {
  return status.nodes.filter((node) => node.ray !== null && ALIVE.has(node.ray.status)).map((node) => node.name);
}

/** A small cluster with no port settings: rayfleet chooses them. */
function spec(name: string, options: Pick<TestSpec, 'workers' | 'watcher'>): TestSpec {
  return { name, headCpus: 1, max: 4, ports: 'unset', ...options };
}

async function waitForStatus(cluster: TestCluster, what: string, ready: (status: ClusterStatus) => boolean): Promise<ClusterStatus> {
  return pollUntil(
    async () => {
      const status = await cluster.json<ClusterStatus>(['status']);
      return ready(status) ? status : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 1_000, describe: () => what },
  );
}

describe("a running cluster's spec", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await createTestCluster(spec('rfm', { workers: 1, watcher: '{ interval: 500ms, idleTimeout: 5m }' }));
    const up = await cluster.up();
    expect(up.stdout).toMatch(/ports: gcs \d+, dashboard \d+, client \d+, serve \d+/);
    expect(up.stdout).toMatch(/watcher: running \(pid \d+\)/);
  });

  afterAll(async () => {
    await cluster.down();
  });

  it('takes a raised min live through `up`, and the watcher brings the worker', async () => {
    await cluster.writeSpec({ workers: 2 });
    const diff = await cluster.run(['spec', 'diff']);
    expect(diff.stdout).toContain('workerGroups[worker].min: 1 → 2');
    const up = await cluster.run(['up']);
    expect(up.exitCode, up.stderr).toBe(0);
    const status = await waitForStatus(cluster, 'rfm-worker-2 alive in Ray', (candidate) => aliveInRay(candidate).includes('rfm-worker-2'));
    expect(aliveInRay(status)).toEqual(['rfm-head', 'rfm-worker-1', 'rfm-worker-2']);
    const events = await cluster.json<Array<{ type: string; node?: string; reason: string; fields?: string[] }>>(['events']);
    expect(events.find((event) => event.type === 'spec-changed')?.fields).toEqual(['workerGroups[worker].min']);
    expect(events.find((event) => event.type === 'launch' && event.node === 'rfm-worker-2')?.reason).toMatch(/^watcher: /);
  });

  it('refuses a changed gcsPort with the field-by-field diff, and changes nothing', async () => {
    await cluster.writeSpec({ ports: { gcsPort: 16379 } });
    const up = await cluster.run(['up']);
    expect(up.exitCode).toBe(2);
    expect(up.stderr).toContain('error [USAGE]');
    expect(up.stderr).toContain('head.gcsPort: (unset) → 16379  (needs a restart)');
    expect(up.stderr.trim().endsWith('run `rayfleet restart` to apply')).toBe(true);
    const status = await cluster.json<ClusterStatus>(['status']);
    expect(status.ports.gcsPort).not.toBe(16379);
  });

  it('restart --num-workers 3 applies the flag: three workers', async () => {
    await cluster.writeSpec({ ports: 'unset', watcher: '{ enabled: false }' });
    const restarted = await cluster.run(['restart', '--num-workers', '3']);
    expect(restarted.exitCode, restarted.stderr).toBe(0);
    const status = await cluster.json<ClusterStatus>(['status']);
    expect(aliveInRay(status)).toEqual(['rfm-head', 'rfm-worker-1', 'rfm-worker-2', 'rfm-worker-3']);
  });
});

describe('two clusters with no port settings', () => {
  let rfp: TestCluster;
  let rfq: TestCluster;

  beforeAll(async () => {
    rfp = await createTestCluster(spec('rfp', { workers: 0, watcher: '{ enabled: false }' }));
    rfq = await createTestCluster(spec('rfq', { workers: 0, watcher: '{ enabled: false }' }), { sandbox: rfp.sandbox });
  });

  afterAll(async () => {
    for (const cluster of [rfp, rfq]) await cluster.down();
  });

  it('come up side by side, each reachable by a driver through `rayfleet env`, and down of one leaves the other', async () => {
    for (const cluster of [rfp, rfq]) {
      const up = await cluster.run(['up']);
      expect(up.exitCode, `${cluster.name}: ${up.stderr}`).toBe(0);
    }
    const [p, q] = [await rfp.json<ClusterStatus>(['status']), await rfq.json<ClusterStatus>(['status'])];
    expect(p.ports.gcsPort).not.toBe(q.ports.gcsPort);
    expect(p.ports.dashboardPort).not.toBe(q.ports.dashboardPort);
    for (const cluster of [rfp, rfq]) {
      const driver = await startDriver('gcs-address.py', [], { env: await cluster.driverEnv(), timeoutMs: 120_000 });
      expect(driver.exitCode, driver.stderr).toBe(0);
      // Ray reports the GCS by the host's address; the port says which cluster the driver joined.
      expect(driver.stdout.trim().split(':').at(-1)).toBe(String(cluster === rfp ? p.ports.gcsPort : q.ports.gcsPort));
    }
    expect((await rfp.down()).exitCode).toBe(0);
    expect(aliveInRay(await rfq.json<ClusterStatus>(['status']))).toEqual(['rfq-head']);
    expect(processesOfNodes(['rfp-head'])).toEqual([]);
    // Two clusters up, two drivers, one down: longer than one cluster's tests.
  }, 480_000);
});

describe("the library's fleet", () => {
  let cluster: TestCluster;
  let fleet: Fleet | undefined;

  beforeAll(async () => {
    cluster = await createTestCluster(spec('rfl', { workers: 1, watcher: '{ interval: 500ms }' }));
    process.env.RAYFLEET_HOME = cluster.sandbox.env.RAYFLEET_HOME;
  });

  afterAll(async () => {
    await fleet?.down().catch(() => undefined);
    fleet?.close();
    delete process.env.RAYFLEET_HOME;
  });

  it('up starts the watcher and down() stops it before any node: no watcher process and no node left', async () => {
    fleet = await Fleet.open({ spec: (await loadSpec({ configPath: cluster.specPath, env: {} })).spec });
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
