// End to end on a real Docker Engine: a cluster of containers, its commands, its watcher, and a `down` that removes only its own.
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import type { ServeStatus } from '../src/fleet/fleet-serve.js';
import { nodeOf, type JournalEvent } from '../src/journal/event.js';
import { findFreePort, isPortFree } from '../src/net/ports.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { containersLabelled, docker, ensureTestRayImage, networkExists, uniqueClusterName } from './support/docker.js';
import { TEST_RAY, driverFile } from './support/drivers.js';
import { createSandbox, type Sandbox } from './support/run-cli.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

const IDLE_TIMEOUT_S = 5;
const EXAMPLES = path.resolve(import.meta.dirname, '../examples');

/** A Docker cluster on free host ports: the containers keep Ray's ports, the host publishes them shifted. */
async function dockerCluster(sandbox: Sandbox, spec: { name: string; image: string; workers: number; watcher: string; mounts?: boolean }): Promise<TestCluster> {
  const port = await findFreePort();
  // One offset for all four published ports: free ones are found near each other only by luck, so probe a block.
  const offset = await freeOffset([6379, 8265, 10001, 8000], port);
  const mounts = spec.mounts === true ? `, workspace: ${sandbox.dir}, logsDir: ${path.join(sandbox.dir, 'logs')}` : '';
  const provider = `{ type: docker, image: ${spec.image}, portOffset: ${offset}${mounts} }`;
  return createTestCluster({ name: spec.name, workers: spec.workers, max: 4, ports: 'unset', provider, watcher: spec.watcher }, { sandbox });
}

/** An offset that makes every one of the ports free on this host. */
async function freeOffset(ports: number[], seed: number): Promise<number> {
  for (let offset = 20_000 + (seed % 20_000); ; offset += 7) {
    const frees = await Promise.all(ports.map((port) => isPortFree(port + offset)));
    if (frees.every(Boolean)) return offset;
  }
}

describe('a cluster on a real Docker Engine', () => {
  let sandbox: Sandbox;
  let image: string;
  let cluster: TestCluster;
  let other: TestCluster;
  const name = uniqueClusterName('rfd');
  const otherName = uniqueClusterName('rfo');
  const bystander = `${name}-bystander`;
  async function status(of = cluster): Promise<ClusterStatus> {
    return of.json<ClusterStatus>(['status']);
  }

  async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 150_000): Promise<T> {
    return pollUntil(check, { timeoutMs, intervalMs: 500, describe: () => what });
  }

  /**
   * Runs a driver as a Ray job through the head's published dashboard port, with `rayfleet env` and the `ray` CLI of the
   * host; the driver reaches the head through the mounted workspace and prints its result as `RESULT <value>`.
   * (A driver on the host through the Ray client port works too, but Ray 2.60's client server failed to start its
   * per-client server now and then on this 2-core machine: a flake of Ray's, not something the test should depend on.)
   */
  async function runJob(driver: string, args: string[] = []): Promise<string> {
    const env = await cluster.driverEnv();
    await copyFile(driverFile(driver), path.join(sandbox.dir, driver));
    const result = await execa(TEST_RAY, ['job', 'submit', '--address', env.RAY_API_SERVER_ADDRESS ?? '', '--', 'python', `/workspace/${driver}`, ...args], { env, reject: false, timeout: 240_000 });
    if (result.exitCode !== 0) throw new Error(`job failed: ${result.stdout}\n${result.stderr}`);
    return result.stdout.split('\n').find((line) => line.startsWith('RESULT '))?.slice('RESULT '.length).trim() ?? '';
  }

  beforeAll(async () => {
    image = await ensureTestRayImage();
    sandbox = await createSandbox();
    cluster = await dockerCluster(sandbox, { name, image, workers: 2, watcher: `{ interval: 500ms, idleTimeout: ${IDLE_TIMEOUT_S}s }`, mounts: true });
    await writeFile(path.join(sandbox.dir, 'marker.txt'), 'from the workspace');
    other = await dockerCluster(sandbox, { name: otherName, image, workers: 0, watcher: '{ enabled: false }' });
    // Not made by rayfleet, named like the cluster's nodes: `down` must leave it.
    await docker('run', '-d', '--name', bystander, image, 'sleep', 'infinity');
  }, 1_200_000);

  afterAll(async () => {
    await cluster.down();
    await other.down();
    await execa('docker', ['rm', '-f', bystander], { reject: false });
  });

  it('brings up a head and 2 workers, each a container with its own address on the cluster network, joined in one Ray cluster', async () => {
    const up = await cluster.run(['up', '--no-watcher']);
    expect(up.exitCode, up.stderr).toBe(0);
    const current = await status();
    expect(current.provider).toBe('docker');
    expect(current.nodes.map((node) => [node.name, node.state, node.ray?.status === 'DEAD' ? 'DEAD' : 'alive'])).toEqual([
      [`${name}-head`, 'running', 'alive'],
      [`${name}-worker-1`, 'running', 'alive'],
      [`${name}-worker-2`, 'running', 'alive'],
    ]);
    expect(await containersLabelled(`rayfleet.cluster=${name}`)).toEqual([`${name}-head`, `${name}-worker-1`, `${name}-worker-2`]);
    // The network is the cluster's own, and every node has an address of its own on it.
    const members = JSON.parse(await docker('network', 'inspect', `${name}-cluster`, '--format', '{{json .Containers}}')) as Record<string, { Name: string; IPv4Address: string }>;
    const addresses = Object.values(members).map((member) => member.IPv4Address.split('/')[0]);
    expect(new Set(addresses).size).toBe(3);
    expect(current.nodes.map((node) => node.address).sort()).toEqual([...addresses].sort());
    expect(await docker('inspect', `${name}-worker-1`, '--format', '{{.HostConfig.Init}} {{.HostConfig.NanoCpus}} {{.HostConfig.ShmSize}}')).toBe(
      `true 1000000000 ${100 * 10 ** 6 + 256 * 2 ** 20}`,
    );
    // Each node's Ray logs land in its own directory under logsDir on the host (session_latest links inside the container).
    const nodeLogs = path.join(sandbox.dir, 'logs', `${name}-worker-1`);
    const sessions = readdirSync(nodeLogs).filter((entry) => entry.startsWith('session_2'));
    expect(sessions).toHaveLength(1);
    expect(existsSync(path.join(nodeLogs, sessions[0] ?? '', 'logs', 'raylet.out'))).toBe(true);
  });

  it('runs a driver with `rayfleet env` from the host, its tasks spread over the containers', async () => {
    const env = await cluster.driverEnv();
    expect(env.RAY_ADDRESS).toMatch(/^ray:\/\/127\.0\.0\.1:\d+$/);
    const output = await runJob('container-of-tasks.py');
    const seen = (JSON.parse(output) as Array<[string, string, string]>).map(([host, address, marker]) => {
      // The working directory of every node is the mounted workspace.
      expect(marker).toBe('from the workspace');
      return [host, address];
    });
    const current = await status();
    const workers = current.nodes.filter((node) => node.role === 'worker');
    // Each task ran in a worker container and saw that container's own address as its node's.
    expect(seen).toEqual(workers.map((node) => [node.name, node.address]));
  });

  it('submits a job with its working dir and deploys the example Serve application, both through the published ports', async () => {
    const work = path.join(sandbox.dir, 'jobdir');
    await mkdir(work, { recursive: true });
    await writeFile(path.join(work, 'note.txt'), 'shipped');
    await writeFile(path.join(work, 'main.py'), 'import socket\nprint("read", open("note.txt").read(), "on", socket.gethostname())\n');
    // The working dir goes to the head as a Ray package through the published dashboard port; the entrypoint runs on the head.
    const job = await cluster.run(['job', 'submit', '--working-dir', work, '--', 'python', 'main.py']);
    expect(job.exitCode, job.stderr).toBe(0);
    expect(job.stdout).toMatch(new RegExp(`^read shipped on ${name}-head$`, 'm'));

    const deploy = await cluster.run(['serve', 'deploy', path.join(EXAMPLES, 'serve', 'hello.yaml')]);
    expect(deploy.exitCode, deploy.stderr).toBe(0);
    const serve = await cluster.json<ServeStatus>(['serve', 'status']);
    const url = serve.applications.find((app) => app.name === 'hello')?.url ?? '';
    // The head's Serve port, published on the host: the URL is this machine's, the replica runs in a worker container.
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/hello$/);
    const answer = await fetch(`${url}?name=docker`, { signal: AbortSignal.timeout(10_000) });
    expect([answer.status, await answer.text()]).toEqual([200, 'hello, docker']);
    // Serve's replica holds half a CPU of a worker: shut it down, so the watcher's test below starts from idle workers.
    const shutdown = await cluster.run(['serve', 'shutdown']);
    expect(shutdown.exitCode, shutdown.stderr).toBe(0);
    expect((await cluster.json<ServeStatus>(['serve', 'status'])).applications).toEqual([]);
  });

  it('adds a worker at the next index, shows its log, and removes it again', async () => {
    const add = await cluster.run(['add-worker']);
    expect(add.exitCode, add.stderr).toBe(0);
    expect(add.stdout).toContain(`${name}-worker-3`);
    // Ray registers the node a moment before `ray start` says so in its output.
    await waitFor('worker-3 to log that Ray started', async () => {
      const logs = await cluster.run(['logs', `${name}-worker-3`, '--tail', '50']);
      expect(logs.exitCode, logs.stderr).toBe(0);
      return logs.stdout.includes('Ray runtime started') ? true : undefined;
    }, 30_000);
    // --follow keeps the stream open until interrupted; what it printed by then includes the start.
    const follow = await cluster.run(['logs', `${name}-worker-3`, '--follow'], { timeoutMs: 4_000 });
    expect(follow.stdout).toContain('Ray runtime started');
    const remove = await cluster.run(['remove-worker', `${name}-worker-3`]);
    expect(remove.exitCode, remove.stderr).toBe(0);
    expect(await containersLabelled(`rayfleet.cluster=${name}`)).not.toContain(`${name}-worker-3`);
    const events = await cluster.json<JournalEvent[]>(['events']);
    expect(events.filter((event) => nodeOf(event) === `${name}-worker-3`).map((event) => event.type)).toEqual(['launch', 'registered', 'drain', 'terminate']);
  });

  it("serves the dashboard's API from the host: the cluster as `status` shows it, a worker added and removed through it", async () => {
    const started = await sandbox.run(['dashboard', '--background', '--port', '0']);
    expect(started.exitCode, started.stderr).toBe(0);
    const base = /http:\/\/127\.0\.0\.1:\d+/.exec(started.stdout)?.[0] ?? '';
    const token = (await sandbox.run(['dashboard', '--token'])).stdout.trim();
    const api = (route: string, init: RequestInit = {}) => fetch(`${base}/api/v1${route}`, { ...init, signal: AbortSignal.timeout(60_000) });
    const withToken = (init: RequestInit): RequestInit => ({ ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
    try {
      const view = (nodes: ClusterStatus['nodes']) => nodes.map((node) => [node.name, node.state, node.address]);
      const fromApi = (await (await api(`/clusters/${name}`)).json()) as ClusterStatus;
      expect(fromApi.provider).toBe('docker');
      expect(view(fromApi.nodes)).toEqual(view((await status()).nodes));

      const posted = await api(`/clusters/${name}/workers`, withToken({ method: 'POST', body: JSON.stringify({ group: 'worker', count: 1 }) }));
      expect(posted.status).toBe(202);
      expect(await posted.json()).toEqual({ launching: [`${name}-worker-3`] });
      await waitFor('worker-3 alive in Ray', async () => ((await status()).nodes.some((node) => node.name === `${name}-worker-3` && node.ray !== null && node.ray.status !== 'DEAD') ? true : undefined));
      expect(await containersLabelled(`rayfleet.cluster=${name}`)).toContain(`${name}-worker-3`);

      const removed = await api(`/clusters/${name}/workers/${name}-worker-3`, withToken({ method: 'DELETE' }));
      expect(removed.status, await removed.clone().text()).toBe(200);
      await waitFor('worker-3 container removed', async () => ((await containersLabelled(`rayfleet.cluster=${name}`)).includes(`${name}-worker-3`) ? undefined : true));
    } finally {
      await sandbox.run(['dashboard', '--stop']);
    }
  });

  it('reports a container killed behind its back as failed, and shows one removed as gone', async () => {
    await docker('kill', `${name}-worker-2`);
    await docker('rm', '-f', `${name}-worker-1`);
    const current = await status();
    expect(current.nodes.map((node) => [node.name, node.state])).toEqual([
      [`${name}-head`, 'running'],
      [`${name}-worker-2`, 'failed'],
    ]);
  });

  it('starts the watcher on the host, which replaces both below min, and scales containers up on demand and down when idle', async () => {
    const killedId = await docker('inspect', `${name}-worker-2`, '--format', '{{.Id}}');
    const start = await cluster.run(['watcher', 'start']);
    expect(start.exitCode, start.stderr).toBe(0);
    // A killed container stays a node for Ray until its health check gives up: it is replaced meanwhile (under the next
    // free name), never terminated without Ray's word, and removed once Ray has it dead.
    await waitFor('two live workers keeping min 2, the killed container removed', async () => {
      const nodes = (await status()).nodes.filter((node) => node.role === 'worker');
      const alive = nodes.filter((node) => node.state === 'running' && node.ray !== null && node.ray.status !== 'DEAD');
      return alive.length === 2 && nodes.length === 2 && !nodes.some((node) => node.providerId.startsWith(killedId.slice(0, 12))) ? true : undefined;
    });

    const mark = Date.now();
    // 4 one-CPU tasks on 2 one-CPU workers: Ray waits for 2 more nodes. Submitted as a job, the other way in.
    const driver = runJob('burst-job.py', ['4', '15']);
    const grown = await waitFor('the watcher to run 4 workers', async () => {
      const workers = (await status()).nodes.filter((node) => node.role === 'worker' && node.state === 'running');
      return workers.length === 4 ? workers.map((node) => node.name) : undefined;
    });
    expect(new Set(grown).size).toBe(4);
    expect(await driver).toBe('4');
    await waitFor('idle workers drained back to min 2', async () => {
      const workers = (await status()).nodes.filter((node) => node.role === 'worker');
      return workers.length === 2 ? true : undefined;
    });
    const events = (await cluster.json<JournalEvent[]>(['events'])).filter((event) => Date.parse(event.time) >= mark);
    const launched = events.filter((event) => event.type === 'launch').map(nodeOf);
    expect(launched).toHaveLength(2);
    expect(launched.every((node) => node !== undefined && grown.includes(node))).toBe(true);
    // Whichever two went idle first were drained, then removed: the containers left are exactly the head and the two kept.
    const drained = events.filter((event) => event.type === 'drain').map((event) => nodeOf(event) ?? '');
    expect(drained).toHaveLength(2);
    const kept = grown.filter((worker) => !drained.includes(worker)).sort();
    expect(await containersLabelled(`rayfleet.cluster=${name}`)).toEqual([`${name}-head`, ...kept]);
    // Ray's health check has to give the killed node up before it is removed: longer than the other tests.
  }, 420_000);

  it('takes down every container and the network of its cluster, and nothing else', async () => {
    const up = await other.run(['up']);
    expect(up.exitCode, up.stderr).toBe(0);
    const down = await cluster.run(['down']);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(await containersLabelled(`rayfleet.cluster=${name}`)).toEqual([]);
    expect(await networkExists(`${name}-cluster`)).toBe(false);
    // The other cluster and the bystander are untouched.
    expect(await containersLabelled(`rayfleet.cluster=${otherName}`)).toEqual([`${otherName}-head`]);
    expect(await docker('inspect', bystander, '--format', '{{.State.Status}}')).toBe('running');
    expect((await status(other)).nodes.map((node) => node.state)).toEqual(['running']);
  });
});

describe('docker failures a user can act on', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await createSandbox();
  });

  it('names the engine it cannot reach, says how to start one, and exits 5', async () => {
    const result = await sandbox.run(['up', '--provider', 'docker', '-c', uniqueClusterName('rfu')], { env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
    expect(result.exitCode).toBe(5);
    expect(result.stderr).toContain('DOCKER_UNREACHABLE');
    expect(result.stderr).toContain('unix:///nonexistent/docker.sock');
    expect(result.stderr).toMatch(/dockerd|systemctl start docker/);
  });

  it('says how to pull or build an image that is missing, and leaves no container or network behind', async () => {
    const cluster = uniqueClusterName('rfm');
    const result = await sandbox.run(['up', '--provider', 'docker', '--image', 'rayfleet-test/absent:0', '-c', cluster, '--no-watcher']);
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toContain('IMAGE_NOT_FOUND');
    expect(result.stderr).toContain('docker pull rayfleet-test/absent:0');
    expect(await containersLabelled(`rayfleet.cluster=${cluster}`)).toEqual([]);
    expect(await networkExists(`${cluster}-cluster`)).toBe(false);
  });
});
