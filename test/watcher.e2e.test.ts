// End to end: the watcher scaling real Ray workers on this machine, up to what Ray waits for and down when idle.
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import { nodeOf, groupOf, type JournalEvent } from '../src/journal/event.js';
import { findFreePort } from '../src/net/ports.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { WATCHER_NODE_FLAGS } from '../src/watcher/watcher-node-flags.js';
import { TEST_RAY, startDriver } from './support/drivers.js';
import { nodesWithClusterId } from './support/processes.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

const IDLE_TIMEOUT_MS = 5_000;
/** The race test's group: no test's work fits on it (a resource of its own, no CPU), so only add-worker starts its nodes. */
const RACE_GROUP = '{ name: race, cpus: 0, resources: { race: 1 }, objectStoreMemory: 100MB, min: 0, max: 5 }';

/** A driver's result: its last line (Ray may print its own messages before it). */
function lastLine(output: string): string {
  return output.trim().split('\n').at(-1) ?? '';
}

describe('the watcher on a local cluster', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const drivers: Array<{ kill: (signal?: NodeJS.Signals) => boolean }> = [];

  async function status(): Promise<ClusterStatus> {
    return cluster.json<ClusterStatus>(['status']);
  }

  async function events(): Promise<JournalEvent[]> {
    return cluster.json<JournalEvent[]>(['events']);
  }

  function workersOf(current: ClusterStatus, group: string): string[] {
    return current.nodes.filter((node) => node.group === group).map((node) => node.name);
  }

  /** A Ray driver in the background; it ends when its work does, or is killed at the end. */
  function background(name: string, args: string[] = []) {
    const driver = startDriver(name, args, { env, timeoutMs: 300_000 });
    drivers.push(driver);
    return driver;
  }

  async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
    return pollUntil(check, { timeoutMs, intervalMs: 500, describe: () => what, signal: cluster.headLost });
  }

  async function backToMin(): Promise<void> {
    await waitFor('the worker group to drain back to 0', async () => (workersOf(await status(), 'worker').length === 0 && workersOf(await status(), 'gpu').length === 0 ? true : undefined));
  }

  /** Launch events since a mark, by group. */
  async function launchesSince(mark: number): Promise<JournalEvent[]> {
    return (await events()).filter((event) => event.type === 'launch' && Date.parse(event.time) >= mark);
  }

  beforeAll(async () => {
    cluster = await createTestCluster({
      name: 'rfw',
      workers: 0,
      max: 4,
      extraGroups: ['{ name: gpu, cpus: 1, gpus: 1, objectStoreMemory: 100MB, min: 0, max: 2 }', '{ name: keep, cpus: 0, resources: { keep: 1 }, objectStoreMemory: 100MB, min: 1, max: 1 }', RACE_GROUP],
      watcher: `{ interval: 500ms, idleTimeout: ${IDLE_TIMEOUT_MS / 1000}s, maxWorkers: 7 }`,
    });
    const up = await cluster.up();
    expect(up.stdout).toMatch(/watcher: running \(pid \d+\)/);
    env = await cluster.driverEnv();
  });

  afterAll(async () => {
    for (const driver of drivers) driver.kill('SIGKILL');
    await cluster.down();
  });

  it('launches exactly the 3 nodes 3 one-CPU tasks need, then drains back to min', async () => {
    const mark = Date.now();
    const driver = background('one-cpu-tasks.py', ['3', '8']);
    // What `ray status` prints while rayfleet launches: none of rayfleet's launches, which are not
    // reported to Ray (ARCHITECTURE.md, "Reporting to Ray"); `rayfleet watcher status` is where they show.
    await waitFor('the watcher to launch', async () => ((await launchesSince(mark)).length === 3 ? true : undefined));
    const askedAt = Date.now();
    const rayStatus = await execa(TEST_RAY, ['status', '--address', env.RAY_ADDRESS ?? ''], { env, reject: false, encoding: 'utf8' });
    expect(rayStatus.exitCode, rayStatus.stderr).toBe(0);
    expect(rayStatus.stdout).toMatch(/Pending:\n \(no pending nodes\)/);
    const done = await driver;
    expect(lastLine(done.stdout), done.stderr).toBe('3');
    const launched = await launchesSince(mark);
    expect(launched.map(groupOf)).toEqual(['worker', 'worker', 'worker']);
    const scaleUps = (await events()).filter((event) => event.type === 'scale-up' && Date.parse(event.time) >= mark);
    expect(scaleUps[0]?.reason).toMatch(/pending 3×\{CPU: 1\} → 3 new worker node\(s\)/);
    expect(scaleUps[0]).toMatchObject({ count: 3, numbers: { pendingRequests: 3, source: 'gcs' } });
    await backToMin();
    const drains = (await events()).filter((event) => event.type === 'drain' && Date.parse(event.time) >= mark);
    expect(drains.length).toBe(3);
    expect(drains[0]?.reason).toMatch(/idle \d+ s > idleTimeout 5 s/);
    // `ray status` was read before any of the three registered: mid scale-up, and still Ray showed no pending node.
    const registered = (await events()).filter((event) => event.type === 'registered' && Date.parse(event.time) >= mark);
    expect(registered.length).toBe(3);
    expect(Math.min(...registered.map((event) => Date.parse(event.time)))).toBeGreaterThan(askedAt);
  });

  it('keeps the node of an actor alive past idleTimeout', async () => {
    const driver = background('keep-actor.py');
    const node = await waitFor('a worker holding the actor', async () =>
      (await status()).nodes.find((candidate) => candidate.group === 'worker' && candidate.ray !== null && (candidate.ray.available.CPU ?? 0) === 0)?.name,
    );
    // Stay well past idleTimeout, checking on the way that the node is never drained.
    const until = Date.now() + IDLE_TIMEOUT_MS * 3;
    while (Date.now() < until) {
      expect(workersOf(await status(), 'worker')).toContain(node);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    driver.kill('SIGKILL');
    await backToMin();
  });

  it('gives a STRICT_SPREAD placement group of two one-CPU bundles two nodes', async () => {
    const mark = Date.now();
    const driver = background('strict-spread.py');
    const done = await driver;
    expect(lastLine(done.stdout), done.stderr).toBe('ready');
    const launched = await launchesSince(mark);
    expect(launched.map(groupOf)).toEqual(['worker', 'worker']);
    await backToMin();
  });

  it('launches a GPU shape only in the GPU group', async () => {
    const mark = Date.now();
    const driver = background('gpu-task.py');
    const done = await driver;
    expect(lastLine(done.stdout), done.stderr).toBe('1');
    const launched = await launchesSince(mark);
    expect(launched.map(groupOf)).toEqual(['gpu']);
    await backToMin();
  });

  it('reports a shape no group can hold as infeasible and launches nothing for it', async () => {
    const mark = Date.now();
    const driver = background('hold-cpus.py', ['16', '1']);
    const infeasible = await waitFor('an infeasible event', async () => (await events()).find((event) => event.type === 'infeasible' && Date.parse(event.time) >= mark));
    expect(infeasible.reason).toContain('{CPU: 16}');
    const watcher = await cluster.json<{ status: { infeasible: Array<Record<string, number>> } }>(['watcher', 'status']);
    expect(watcher.status.infeasible).toContainEqual({ CPU: 16 });
    driver.kill('SIGKILL');
    expect(await launchesSince(mark)).toEqual([]);
  });

  it('replaces a worker killed below its group min', async () => {
    const before = await status();
    const keeper = before.nodes.find((node) => node.group === 'keep');
    expect(keeper?.name).toBe('rfw-keep-1');
    process.kill(-Number(keeper?.providerId), 'SIGKILL');
    const replaced = await waitFor('rfw-keep-1 to be replaced and alive in Ray', async () => {
      const node = (await status()).nodes.find((candidate) => candidate.group === 'keep');
      return node !== undefined && node.providerId !== keeper?.providerId && node.ray !== null && node.ray.status !== 'DEAD' ? node : undefined;
    });
    expect(replaced.name).toBe('rfw-keep-1');
    const reasons = (await events()).filter((event) => nodeOf(event) === 'rfw-keep-1').map((event) => event.type);
    expect(reasons).toEqual(expect.arrayContaining(['terminate', 'launch']));
  });

  it('refuses a second watcher for the same cluster and names the holder', async () => {
    const watcher = await cluster.json<{ running: boolean; pid: number }>(['watcher-status']);
    expect(watcher.running).toBe(true);
    const second = await cluster.run(['watch']);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toContain('LOCK_HELD');
    expect(second.stderr).toContain(`pid ${watcher.pid}`);
    const again = await cluster.run(['start-watcher']);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain('LOCK_HELD');
  });

  /** The nodes of a group that processes carrying this cluster's id belong to (RAY_CLOUD_INSTANCE_ID), each name once. */
  function nodesOfGroupWithClusterId(group: string): string[] {
    const { clusterId } = JSON.parse(readFileSync(path.join(cluster.sandbox.env.RAYFLEET_HOME ?? '', 'clusters', 'rfw', 'cluster.json'), 'utf8')) as { clusterId: string };
    return nodesWithClusterId(clusterId).filter((name) => name.startsWith(`rfw-${group}-`));
  }

  /** Ray's own word, through its state API: the alive nodes that carry a resource. */
  async function aliveInRayWith(resource: string): Promise<number> {
    const listed = await execa(TEST_RAY, ['list', 'nodes', '--format', 'json', '--detail', '--limit', '1000'], { env, reject: false, encoding: 'utf8' });
    expect(listed.exitCode, listed.stderr).toBe(0);
    const nodes = JSON.parse(listed.stdout) as Array<{ state: string; resources_total: Record<string, number> }>;
    return nodes.filter((node) => node.state === 'ALIVE' && (node.resources_total[resource] ?? 0) > 0).length;
  }

  /** Sets watcher.idleTimeout in the spec and applies it to the running cluster, as a user would (edit, then `up`). */
  async function setIdleTimeout(value: string): Promise<void> {
    const text = await readFile(cluster.specPath, 'utf8');
    await writeFile(cluster.specPath, text.replace(/idleTimeout: [^,}]+/, `idleTimeout: ${value}`));
    const up = await cluster.run(['up']);
    expect(up.exitCode, up.stderr).toBe(0);
  }

  it('gives 8 concurrent add-workers on a group of max 5, with the watcher running, exactly 5 nodes', async () => {
    expect((await cluster.json<{ running: boolean }>(['watcher-status'])).running).toBe(true);
    expect(workersOf(await status(), 'race')).toEqual([]);
    // The winners are idle from the moment they join; the watcher keeps them until all are counted, then drains them.
    await setIdleTimeout('10m');
    try {
      const mark = Date.now();
      const results = await Promise.all(Array.from({ length: 8 }, () => cluster.run(['add-worker', '--group', 'race'])));
      const winners = results.filter((result) => result.exitCode === 0);
      const losers = results.filter((result) => result.exitCode !== 0);
      expect(winners.length, results.map((result) => result.stderr).join('\n')).toBe(5);
      for (const loser of losers) {
        expect(loser.exitCode, loser.stderr).toBe(2);
        expect(loser.stderr).toContain('GROUP_AT_MAX');
      }
      const expected = ['rfw-race-1', 'rfw-race-2', 'rfw-race-3', 'rfw-race-4', 'rfw-race-5'];
      // No name twice: each winner says the one node it added, and together they are the group's five.
      expect(winners.map((result) => result.stdout.match(/(rfw-race-\d+) joined the cluster/)?.[1]).sort()).toEqual(expected);
      const now = await status();
      expect(workersOf(now, 'race').sort()).toEqual(expected);
      expect(now.nodes.filter((node) => node.group === 'race' && (node.ray === null || node.ray.status === 'DEAD'))).toEqual([]);
      expect(await aliveInRayWith('race')).toBe(5);
      expect(nodesOfGroupWithClusterId('race')).toEqual(expected);
      const launched = (await launchesSince(mark)).filter((event) => groupOf(event) === 'race');
      expect(launched.map(nodeOf).sort()).toEqual(expected);
      expect(launched.every((event) => event.reason.startsWith('add-worker'))).toBe(true);
      expect((await events()).filter((event) => event.type === 'launch-failed' && Date.parse(event.time) >= mark)).toEqual([]);
    } finally {
      await setIdleTimeout(`${IDLE_TIMEOUT_MS / 1000}s`);
    }
    await waitFor('the race group to drain back to 0', async () => (workersOf(await status(), 'race').length === 0 && nodesOfGroupWithClusterId('race').length === 0 ? true : undefined));
  });

  it('restarts after SIGKILL mid-launch with no duplicate and no orphan', async () => {
    expect((await cluster.run(['stop-watcher'])).exitCode).toBe(0);
    const metricsPort = await findFreePort();
    const first = execa(process.execPath, [path.resolve('bin/rayfleet.js'), ...cluster.args(['watch', '--metrics-port', String(metricsPort)])], { cwd: cluster.sandbox.dir, env: cluster.sandbox.env, reject: false });
    const mark = Date.now();
    const driver = background('one-cpu-tasks.py', ['2', '5']);
    await waitFor('the first launch', async () => ((await launchesSince(mark)).length > 0 ? true : undefined));
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/rayfleet_launches_total\{group="worker",cause="demand"\} [12]/);
    expect(metrics).toMatch(/rayfleet_demand_source\{source="gcs"\} 1/);
    first.kill('SIGKILL');
    await first;
    const restarted = await cluster.run(['watcher', 'start']);
    expect(restarted.exitCode, restarted.stderr).toBe(0);
    // The service runs with the watcher's own heap settings.
    const { pid } = await cluster.json<{ pid: number }>(['watcher', 'status', '--json']);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining([...WATCHER_NODE_FLAGS, 'watch']));
    const done = await driver;
    expect(lastLine(done.stdout), done.stderr).toBe('1');
    const launched = await launchesSince(mark);
    expect(launched.map(nodeOf).sort()).toEqual(['rfw-worker-1', 'rfw-worker-2']);
    expect(workersOf(await status(), 'worker').length).toBeLessThanOrEqual(2);
    await backToMin();
  });
});
