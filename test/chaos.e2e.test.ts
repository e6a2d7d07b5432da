// End to end, real Ray, chaos: one local cluster with head.faultTolerance, its watcher SIGKILLed at 20 seeded random
// moments during a burst and its scale-down, and its head killed twice along the way (once the whole head, once its GCS
// alone) while a detached actor on a worker holds a count, a Serve application answers and a job's driver runs on the head.
// After each watcher restart, three views of the cluster agree: the provider's nodes, Ray's live nodes (each name once)
// and the processes carrying the cluster's id. Set CHAOS_SEED to replay a run; a failed run keeps Ray's logs.
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import { clusterPaths } from '../src/fleet/state-dir.js';
import type { JournalEvent } from '../src/journal/event.js';
import { seededRandom } from '../src/providers/memory/seeded-random.js';
import { GcsClient } from '../src/ray/gcs-client.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { startDriver } from './support/drivers.js';
import { nodesWithClusterId, processesOfNodes, processesWithEnv } from './support/processes.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

const NAME = 'rfc';
const HEAD = `${NAME}-head`;
const WATCHER_KILLS = 20;
/** The watcher kills after which the head is killed too: the whole head first, then its GCS alone. */
const HEAD_KILLS = new Map<number, 'whole head' | 'GCS alone'>([
  [6, 'whole head'],
  [13, 'GCS alone'],
]);
const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
/**
 * Ray's health checks, shortened so that the restored GCS marks the dead head's old node DEAD within seconds rather than
 * half a minute: generous enough (5 misses of 2 s) that a live raylet on two busy cores is never taken for dead.
 */
const HEALTH_CHECKS = {
  RAY_health_check_initial_delay_ms: '1000',
  RAY_health_check_period_ms: '1000',
  RAY_health_check_timeout_ms: '2000',
  RAY_health_check_failure_threshold: '5',
};

interface Views {
  provider: string[];
  ray: string[];
  processes: string[];
}

describe(`chaos on a fault-tolerant local cluster (seed ${SEED})`, () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let gcs: GcsClient;
  let clusterId: string;
  const background: Array<{ kill: (signal?: NodeJS.Signals) => boolean }> = [];

  const home = (): string => path.join(cluster.sandbox.env.RAYFLEET_HOME ?? '', 'clusters', NAME);
  const status = (): Promise<ClusterStatus> => cluster.json<ClusterStatus>(['status']);
  const events = (): Promise<JournalEvent[]> => cluster.json<JournalEvent[]>(['events']);
  const waitFor = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> =>
    pollUntil(check, { timeoutMs, intervalMs: 500, describe: () => what, signal: cluster.headLost });

  /** The provider's live nodes, Ray's (a name twice in Ray shows twice) and the nodes processes with the cluster's id belong to. */
  async function views(): Promise<Views> {
    const current = await status();
    const provider = current.nodes.filter((node) => node.state !== 'stopped' && node.state !== 'failed').map((node) => node.name);
    const ray = (await gcs.getClusterResourceState()).nodeStates.filter((node) => node.status !== 'DEAD').map((node) => node.instanceId);
    return { provider: provider.sort(), ray: ray.sort(), processes: nodesWithClusterId(clusterId) };
  }

  /** Waits until the three views agree; a node made twice, or one left behind, never lets them. */
  async function agreeing(moment: string): Promise<Views> {
    let last: Views | undefined;
    try {
      return await waitFor(
        `provider, Ray and processes to agree ${moment}`,
        async () => {
          last = await views().catch(() => undefined);
          if (last === undefined) return undefined;
          const same = JSON.stringify(last.provider) === JSON.stringify(last.ray) && JSON.stringify(last.provider) === JSON.stringify(last.processes);
          return same ? last : undefined;
        },
        90_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; last seen ${JSON.stringify(last)}`);
    }
  }

  async function watcherPid(): Promise<number> {
    const watcher = await cluster.json<{ running: boolean; pid?: number }>(['watcher', 'status']);
    expect(watcher.running).toBe(true);
    return watcher.pid ?? 0;
  }

  /** Adds one to the detached counter (`create` makes it first) and returns its count. */
  async function count(command: 'create' | 'add' = 'add'): Promise<number> {
    const added = await startDriver('counter.py', [command], { env, timeoutMs: 120_000 });
    expect(added.exitCode, added.stderr).toBe(0);
    const said = /^count (\d+)$/m.exec(added.stdout);
    expect(said, `no count in the driver's output:\n${added.stdout}`).not.toBeNull();
    return Number(said?.[1]);
  }

  async function hello(): Promise<string> {
    const response = await fetch(`http://127.0.0.1:${cluster.ports?.servePort}/chaos?name=again`, { signal: AbortSignal.timeout(10_000) });
    return `${response.status} ${await response.text()}`;
  }

  /** Kills the head as said, waits until the watcher has it back, and checks what must have lived through it. */
  async function killHead(how: 'whole head' | 'GCS alone', before: ClusterStatus, countBefore: number): Promise<number> {
    const pids = processesOfNodes([HEAD]);
    const gcsServer = pids.filter((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'gcs_server');
    expect(gcsServer).toHaveLength(1);
    const workerIds = new Map(before.nodes.filter((node) => node.role === 'worker' && node.ray?.status !== 'DEAD').map((node) => [node.name, node.ray?.nodeId]));
    const oldHeadId = before.nodes.find((node) => node.role === 'head')?.ray?.nodeId;
    // Killed on purpose: the fixture would take it for a lost head.
    cluster.headWatch.stop();
    for (const pid of how === 'whole head' ? pids : gcsServer) process.kill(pid, 'SIGKILL');
    const after = await waitFor(
      `the head back after its ${how} was killed`,
      async () => {
        const current = await status().catch(() => undefined);
        const head = current?.nodes.find((node) => node.role === 'head');
        return current !== undefined && current.rayError === undefined && head?.ray?.status !== undefined && head.ray.status !== 'DEAD' && head.ray.nodeId !== oldHeadId ? current : undefined;
      },
      180_000,
    );
    cluster.headWatch.resume();
    expect(after.address).toBe(before.address);
    expect(after.ports).toEqual(before.ports);
    // Workers that lived through it are the same Ray nodes: they reconnected, they were not started again.
    for (const node of after.nodes.filter((each) => each.role === 'worker' && workerIds.has(each.name) && each.ray?.status !== 'DEAD')) {
      expect(node.ray?.nodeId, node.name).toBe(workerIds.get(node.name));
    }
    expect(await count()).toBe(countBefore + 1);
    return countBefore + 1;
  }

  beforeAll(async () => {
    cluster = await createTestCluster(
      {
        name: NAME,
        workers: 0,
        max: 3,
        headCpus: 1,
        headFaultTolerance: true,
        ports: 'free+serve',
        // keep: 2, one for the counter actor and one for the Serve replica.
        extraGroups: ['{ name: keep, cpus: 0, resources: { keep: 2 }, objectStoreMemory: 100MB, min: 1, max: 1 }'],
        watcher: '{ interval: 500ms, idleTimeout: 5s }',
      },
      { env: HEALTH_CHECKS },
    );
    await cluster.up();
    env = { ...(await cluster.driverEnv()), ...HEALTH_CHECKS };
    const paths = clusterPaths(home());
    clusterId = (JSON.parse(readFileSync(paths.clusterFile, 'utf8')) as { clusterId: string }).clusterId;
    const before = await status();
    gcs = new GcsClient({ address: `127.0.0.1:${before.ports.gcsPort}`, authToken: existsSync(paths.authToken) ? readFileSync(paths.authToken, 'utf8').trim() : undefined });
    console.log(`chaos seed ${SEED} (CHAOS_SEED=${SEED} replays it)`);
  });

  afterAll(async () => {
    for (const each of background) each.kill('SIGKILL');
    await cluster?.down();
  });

  /** Ray's own logs and the cluster's state, kept for whoever reads a failure (a GCS crash is a finding); never fails the test itself. */
  function keepLogs(error: unknown): void {
    console.error(`chaos seed ${SEED} failed: ${(error as Error).message}`);
    const kept = `/tmp/rayfleet-chaos-${SEED}`;
    // Ray's unix sockets cannot be copied, and say nothing.
    const filesOnly = (source: string): boolean => {
      const stat = lstatSync(source, { throwIfNoEntry: false });
      return stat !== undefined && (stat.isDirectory() || stat.isFile());
    };
    try {
      mkdirSync(kept, { recursive: true });
      const rayTempDir = clusterPaths(home()).rayTempDir;
      if (existsSync(rayTempDir)) cpSync(rayTempDir, path.join(kept, 'ray'), { recursive: true, filter: filesOnly });
      if (existsSync(home())) cpSync(home(), path.join(kept, 'state'), { recursive: true, filter: filesOnly });
      console.error(`chaos: Ray's logs and the cluster's state are kept in ${kept}`);
    } catch (copyError) {
      console.error(`chaos: could not keep the logs in ${kept}: ${(copyError as Error).message}`);
    }
  }

  it('holds through 20 watcher kills and two head kills: no node twice or left behind, the actor counts on, Serve answers, the job on the head FAILED, back at min', async () => {
    try {
      const random = seededRandom(SEED);
      const app = path.join(cluster.sandbox.dir, 'chaos-serve.yaml');
      await writeFile(
        app,
        [
          'applications:',
          '  - name: chaos',
          '    route_prefix: /chaos',
          '    import_path: hello:build',
          '    args: { greeting: still here }',
          `    runtime_env: { working_dir: ${JSON.stringify(path.resolve(import.meta.dirname, '../examples/serve'))} }`,
          // The replica on the keep node: on CPU it went wherever CPU was free when Serve's restarted controller made it
          // again, once onto a burst worker, which it then kept busy, so the group never got back to min (seed 545275).
          '    deployments: [{ name: Hello, ray_actor_options: { num_cpus: 0, resources: { keep: 1 } } }]',
          '',
        ].join('\n'),
      );
      const deployed = await cluster.run(['serve', 'deploy', app]);
      expect(deployed.exitCode, deployed.stderr).toBe(0);
      expect(await hello()).toBe('200 still here, again');
      let counted = await count('create');
      expect(counted).toBe(1);
      // A job whose driver runs on the head: the whole head's death ends it, and Ray must say so.
      const job = await cluster.run(['job', 'submit', '--no-wait', '--submission-id', 'chaos-on-head', '--', 'python -c "import time; time.sleep(3600)"']);
      expect(job.exitCode, job.stderr).toBe(0);
      await waitFor('the job on the head RUNNING', async () => ((await cluster.json<{ status: string }>(['job', 'status', 'chaos-on-head'])).status === 'RUNNING' ? true : undefined));

      const burst = startDriver('one-cpu-tasks.py', ['8', '3'], { env, timeoutMs: 400_000 });
      background.push(burst);
      const seen = new Set<string>();
      for (let kill = 1; kill <= WATCHER_KILLS; kill++) {
        await new Promise((resolve) => setTimeout(resolve, 300 + Math.floor(random() * 2_700)));
        const pid = await watcherPid();
        process.kill(pid, 'SIGKILL');
        await waitFor(`watcher ${pid} gone`, async () => (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') || !existsSync(`/proc/${pid}`) ? true : undefined)).catch(() => undefined);
        const started = await cluster.run(['watcher', 'start']);
        expect(started.exitCode, started.stderr).toBe(0);
        const agreed = await agreeing(`after watcher kill ${kill}`);
        for (const name of agreed.provider) seen.add(name);
        const headKill = HEAD_KILLS.get(kill);
        if (headKill !== undefined) counted = await killHead(headKill, await status(), counted);
      }

      const done = await burst;
      expect(done.stdout.trim().split('\n').at(-1), done.stderr).toBe('28');
      const atMin = await waitFor('back at min: no worker, the keep node', async () => {
        const current = await status();
        const live = current.nodes.filter((node) => node.state !== 'stopped' && node.state !== 'failed');
        return live.filter((node) => node.group === 'worker').length === 0 && live.filter((node) => node.group === 'keep').length === 1 ? current : undefined;
      });
      expect(atMin.orphans ?? []).toEqual([]);
      expect((await agreeing('at the end')).provider).toEqual([HEAD, `${NAME}-keep-1`]);
      // The burst went beyond min, so the kills fell on launches and drains, not on an idle cluster.
      expect([...seen].some((name) => name.startsWith(`${NAME}-worker-`))).toBe(true);
      expect(await count()).toBe(counted + 1);
      await waitFor('Serve answering again', async () => ((await hello().catch(() => '')) === '200 still here, again' ? true : undefined));
      const ended = await waitFor('the job on the head shown FAILED', async () => {
        const current = await cluster.json<{ status: string; message?: string }>(['job', 'status', 'chaos-on-head']);
        return current.status === 'FAILED' ? current : undefined;
      });
      expect(ended.message).toMatch(/^the node its driver ran on \(rfc-head\) is DEAD in Ray/);
      const journal = await events();
      const restarts = journal.filter((event) => event.type === 'head-restarted').map((event) => (event as { awayMs?: number }).awayMs);
      console.log(`chaos seed ${SEED}: ${WATCHER_KILLS} watcher kills, nodes seen ${[...seen].sort().join(' ')}; the head away ${restarts.join(' ms, ')} ms; count ${counted + 1}`);
      expect(journal.filter((event) => event.type === 'head-died')).toHaveLength(2);
      expect(journal.filter((event) => event.type === 'head-restarted')).toHaveLength(2);
      expect(journal.filter((event) => event.type === 'watcher' && event.reason.startsWith('started')).length).toBeGreaterThanOrEqual(WATCHER_KILLS + 1);
    } catch (error) {
      keepLogs(error);
      throw error;
    }
  });

  it('is brought back by up during an outage as the watcher would, and stopped whole by down during the next: nothing carrying its id is left, nor its store', async () => {
    try {
      const kill = async (): Promise<string | undefined> => {
        expect((await cluster.run(['watcher', 'stop'])).exitCode).toBe(0);
        cluster.headWatch.stop();
        for (const pid of processesOfNodes([HEAD])) process.kill(pid, 'SIGKILL');
        return waitFor('status to show the outage', async () => (await status()).headDown);
      };
      const before = await status();
      const keepId = before.nodes.find((node) => node.name === `${NAME}-keep-1`)?.ray?.nodeId;
      const counted = await count();
      expect(await kill()).toMatch(/^the head rfc-head is (stopped|failed): its Ray is gone; a running watcher starts it again/);
      // `up` restarts the head in place rather than making a new one: the worker and its actor are kept.
      const up = await cluster.run(['up']);
      expect(up.exitCode, up.stderr).toBe(0);
      expect((await events()).filter((event) => event.type === 'head-restarted' && event.reason.startsWith('up:'))).toHaveLength(1);
      cluster.headWatch.resume();
      const after = await waitFor('the keep node alive under the restarted head', async () => {
        const current = await status();
        return current.headDown === undefined && current.nodes.find((node) => node.name === `${NAME}-keep-1`)?.ray?.status !== 'DEAD' ? current : undefined;
      });
      expect(after.ports).toEqual(before.ports);
      expect(after.nodes.find((node) => node.name === `${NAME}-keep-1`)?.ray?.nodeId).toBe(keepId);
      expect(await count()).toBe(counted + 1);

      await kill();
      const startedAt = Date.now();
      const down = await cluster.down();
      expect(down.exitCode, down.stderr).toBe(0);
      console.log(`down during the outage: ${Date.now() - startedAt} ms\n${down.stdout}${down.stderr}`);
      expect(processesWithEnv('RAYFLEET_CLUSTER_ID', clusterId)).toEqual([]);
      expect(cluster.leftOver()).toEqual([]);
      expect(existsSync(path.join(home(), 'gcs-store'))).toBe(false);
    } catch (error) {
      keepLogs(error);
      throw error;
    }
  });
});
