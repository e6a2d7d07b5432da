// End to end: work the watcher scales for on a real local cluster, from 0 workers and back: a job asking a GPU, and Serve replicas under load.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import type { ServeStatus } from '../src/fleet/fleet-serve.js';
import { groupOf, nodeOf, type JournalEvent } from '../src/journal/event.js';
import type { JobDetails } from '../src/ray/jobs-client.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

const EXAMPLES = path.resolve(import.meta.dirname, '../examples');
const IDLE_TIMEOUT_S = 5;
/** Requests kept in flight by the load generator: with target_ongoing_requests 1, Serve wants all of max_replicas. */
const CONCURRENT_REQUESTS = 12;

describe('work the watcher scales for, on a local cluster', () => {
  let cluster: TestCluster;
  let servePort: number;
  const events = () => cluster.json<JournalEvent[]>(['events']);
  const status = () => cluster.json<ClusterStatus>(['status']);
  const workersIn = async (group: string) => (await status()).nodes.filter((node) => node.group === group);
  const since = <K extends JournalEvent['type']>(all: JournalEvent[], mark: number, type: K) =>
    all.filter((event): event is Extract<JournalEvent, { type: K }> => event.type === type && Date.parse(event.time) >= mark);

  async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
    return pollUntil(check, { timeoutMs, intervalMs: 1_000, describe: () => what });
  }

  /** The journal's record of nodes of a group launched since the mark, each registered, drained for idleness and terminated. */
  async function expectLaunchedAndDrained(mark: number, group: string): Promise<string[]> {
    await waitFor(`the ${group} workers to be drained back to min 0`, async () => ((await workersIn(group)).length === 0 ? true : undefined));
    const all = await events();
    const launched = since(all, mark, 'launch').filter((event) => groupOf(event) === group).map(nodeOf);
    expect(launched.length).toBeGreaterThan(0);
    const nodes = launched.filter((node) => node !== undefined).sort();
    expect(since(all, mark, 'registered').map(nodeOf).filter((node) => nodes.includes(node ?? '')).sort()).toEqual(nodes);
    const drains = since(all, mark, 'drain').filter((event) => groupOf(event) === group);
    expect(drains.map(nodeOf).sort()).toEqual(nodes);
    for (const drain of drains) expect(drain.reason).toMatch(new RegExp(`idle \\d+ s > idleTimeout ${IDLE_TIMEOUT_S} s`));
    expect(since(all, mark, 'terminate').map(nodeOf).filter((node) => nodes.includes(node ?? '')).sort()).toEqual(nodes);
    return nodes;
  }

  beforeAll(async () => {
    // One CPU on the head for Serve's min replica; every other replica and the GPU job need workers the watcher launches.
    cluster = await createTestCluster({
      name: 'rfwork',
      headCpus: 1,
      ports: 'free+serve',
      groups: ['{ name: cpu, cpus: 2, objectStoreMemory: 100MB, min: 0, max: 2 }', '{ name: gpu, cpus: 1, gpus: 1, objectStoreMemory: 100MB, min: 0, max: 1 }'],
      watcher: `{ interval: 500ms, idleTimeout: ${IDLE_TIMEOUT_S}s }`,
    });
    servePort = cluster.ports?.servePort ?? 0;
    await cluster.up();
    expect((await status()).nodes.map((node) => node.name)).toEqual(['rfwork-head']);
  });

  afterAll(async () => {
    await cluster.down();
  });

  it('launches one GPU node for a job asking --entrypoint-num-gpus 1, runs the job there, and drains it after', async () => {
    const mark = Date.now();
    // The job says where it ran in a file, and prints it: a worker-node driver's output reaches `job submit` from the
    // node's own session (Ray's log API looks in the head's on a local cluster: fleet/work-context-of.ts).
    const where = path.join(cluster.sandbox.dir, 'gpu-job-ran-on.txt');
    const said = 'os.environ["RAY_CLOUD_INSTANCE_ID"] + " " + os.environ.get("CUDA_VISIBLE_DEVICES", "-")';
    const program = `import os; open(${JSON.stringify(where)}, "w").write(${said}); print("ran on", ${said}); print("last line")`;
    const job = await cluster.run(['job', 'submit', '--submission-id', 'rf-gpu-job', '--entrypoint-num-gpus', '1', '--', 'python', '-c', program]);
    expect(job.exitCode, job.stderr).toBe(0);
    expect(await readFile(where, 'utf8')).toBe('rfwork-gpu-1 0');
    expect(job.stdout).toMatch(/^ran on rfwork-gpu-1 0\nlast line$/m);
    // Ray's word for where the driver ran, beside the job's own: not the head.
    const details = await cluster.json<JobDetails>(['job', 'status', 'rf-gpu-job']);
    const head = (await status()).nodes.find((node) => node.role === 'head');
    expect(details.driver_node_id).toMatch(/^[0-9a-f]{56}$/);
    expect(details.driver_node_id).not.toBe(head?.ray?.nodeId);

    const scaleUps = since(await events(), mark, 'scale-up');
    expect(scaleUps.map((event) => [groupOf(event), event.count])).toEqual([['gpu', 1]]);
    expect(scaleUps[0]?.reason).toMatch(/\{GPU: 1\}/);
    expect(await expectLaunchedAndDrained(mark, 'gpu')).toEqual(['rfwork-gpu-1']);
    expect(since(await events(), mark, 'launch').filter((event) => groupOf(event) !== 'gpu')).toEqual([]);
  });

  it('scales Serve replicas under load from 1 to 4 through new workers, and back to 1 with the workers drained to min', async () => {
    const config = path.join(cluster.sandbox.dir, 'busy.yaml');
    // The example's application with Serve's clocks shortened for a test (downscale_delay_s is 600 s by default).
    await writeFile(
      config,
      [
        'applications:',
        '  - name: busy',
        '    route_prefix: /busy',
        '    import_path: busy:app',
        `    runtime_env: { working_dir: ${JSON.stringify(path.join(EXAMPLES, 'serve'))} }`,
        '    deployments:',
        '      - name: Busy',
        '        max_ongoing_requests: 4',
        '        ray_actor_options: { num_cpus: 1 }',
        '        autoscaling_config: { min_replicas: 1, max_replicas: 4, target_ongoing_requests: 1, upscale_delay_s: 1, downscale_delay_s: 3, metrics_interval_s: 0.5, look_back_period_s: 2 }',
        '',
      ].join('\n'),
    );
    const deployed = await cluster.run(['serve', 'deploy', config]);
    expect(deployed.exitCode, deployed.stderr).toBe(0);
    const replicas = async () => (await cluster.json<ServeStatus>(['serve', 'status'])).applications[0]?.deployments[0]?.replicas;
    const before = await cluster.json<ServeStatus>(['serve', 'status']);
    expect(before.proxyLocation).toBe('HeadOnly');
    expect(before.applications[0]?.deployments[0]?.replicas).toEqual({ RUNNING: 1 });
    // The min replica fits the head: no worker yet.
    expect(await workersIn('cpu')).toEqual([]);

    const mark = Date.now();
    const load = new LoadGenerator(`http://127.0.0.1:${servePort}/busy?seconds=0.5`, CONCURRENT_REQUESTS);
    try {
      await waitFor('4 Busy replicas RUNNING', async () => ((await replicas())?.RUNNING === 4 ? true : undefined), 180_000);
    } finally {
      await load.stop();
    }
    expect(load.failures, load.lastFailure).toBe(0);
    expect(load.answered).toBeGreaterThan(0);
    const scaleUps = since(await events(), mark, 'scale-up');
    expect(scaleUps.every((event) => groupOf(event) === 'cpu')).toBe(true);
    expect(scaleUps[0]?.reason).toMatch(/pending \d+×\{CPU: 1\}/);
    const busy = (await workersIn('cpu')).filter((node) => (node.ray?.available.CPU ?? 0) < (node.ray?.resources.CPU ?? 0));
    expect(busy.length).toBeGreaterThan(0);

    await waitFor('Serve to scale Busy back to 1 replica', async () => {
      const now = await replicas();
      return now?.RUNNING === 1 && Object.keys(now).length === 1 ? true : undefined;
    });
    // 3 replicas of one CPU on workers of two CPUs: one or two workers, each drained once idle.
    const nodes = await expectLaunchedAndDrained(mark, 'cpu');
    expect(nodes.length).toBeGreaterThanOrEqual(1);
    expect(nodes.length).toBeLessThanOrEqual(2);
    expect(await replicas()).toEqual({ RUNNING: 1 });
    expect((await fetch(`http://127.0.0.1:${servePort}/busy?seconds=0`)).status).toBe(200);
  });
});

/** Keeps `concurrency` requests in flight until stopped; counts answers and failures. */
class LoadGenerator {
  answered = 0;
  failures = 0;
  lastFailure = '';
  private stopped = false;
  private readonly loops: Array<Promise<void>>;

  constructor(
    private readonly url: string,
    concurrency: number,
  ) {
    this.loops = Array.from({ length: concurrency }, () => this.loop());
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const response = await fetch(this.url, { signal: AbortSignal.timeout(60_000) });
        const text = await response.text();
        if (response.status === 200) this.answered += 1;
        else {
          this.failures += 1;
          this.lastFailure = `${response.status}: ${text}`;
        }
      } catch (error) {
        this.failures += 1;
        this.lastFailure = String(error);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}
