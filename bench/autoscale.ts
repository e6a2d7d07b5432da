// Benchmark: one burst workload on an empty cluster, scaled by rayfleet's watcher and by Ray's own autoscaler v2
// (its fake multi-node provider on this machine), measured in the same run and printed as ratios.
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { formatTable } from '../src/cli/format-table.js';
import { Fleet } from '../src/fleet/fleet.js';
import { findFreePort } from '../src/net/ports.js';
import { isLeaderAlive, startProcessGroup, stopProcessGroup } from '../src/process/process-group.js';
import { GcsClient } from '../src/ray/gcs-client.js';
import { ensureRuntime, type Runtime } from '../src/ray/runtime.js';
import { loadSpec } from '../src/spec/load-spec.js';
import { DEFAULT_RAY_VERSION } from '../src/spec/schema.js';
import { pollUntil } from '../src/wait/poll-until.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 4);
const MAX_WORKERS = Number(process.env.BENCH_MAX_WORKERS ?? 4);
const TASK_SECONDS = 5;
const IDLE_TIMEOUT_S = 10;
const NEEDED = Math.min(TASKS, MAX_WORKERS);
/** The head of the fake multi-node cluster must carry this id: Ray's fake provider knows its head by it. */
const FAKE_HEAD_ID = 'fffffffffffffffffffffffffffffffffffffffffffffffffff00000';

interface Measurement {
  nodesRegisteredS: number;
  tasksDoneS: number;
  nodesLaunched: number;
  scaleDownS: number;
}

/** Submits the burst from a driver and watches the GCS: when the needed workers are alive, how many came, when they are gone. */
async function measure(gcs: GcsClient, runtime: Runtime, env: Record<string, string>, dir: string, isHead: (instanceId: string) => boolean, headAlive: () => boolean): Promise<Measurement> {
  const script = path.join(dir, `burst-${Date.now()}.py`);
  await writeFile(
    script,
    ['import ray, time', 'ray.init()', '@ray.remote(num_cpus=1)', `def work(i):\n    time.sleep(${TASK_SECONDS})\n    return i`, `ray.get([work.remote(i) for i in range(${TASKS})])`].join('\n'),
  );
  const workers = async (): Promise<Set<string>> => {
    if (!headAlive()) throw new Error('the head died: see its log');
    return new Set((await gcs.getClusterResourceState()).nodeStates.filter((node) => node.status !== 'DEAD' && !isHead(node.instanceId)).map((node) => node.nodeId));
  };
  const seen = new Set<string>();
  const submitted = performance.now();
  const driver = execa(runtime.python, [script], { env: { ...process.env, ...env }, reject: false });
  let registeredAt: number | undefined;
  let doneAt: number | undefined;
  void driver.then(() => {
    doneAt = performance.now();
  });
  await pollUntil(
    async () => {
      for (const id of await workers()) seen.add(id);
      if (registeredAt === undefined && seen.size >= NEEDED) registeredAt = performance.now();
      return registeredAt !== undefined && doneAt !== undefined ? true : undefined;
    },
    { timeoutMs: 600_000, intervalMs: 200, describe: () => 'the burst to finish', isFatal: (error) => String(error).includes('the head died') },
  );
  const result = await driver;
  if (result.exitCode !== 0) throw new Error(`the driver failed: ${String(result.stderr)}`);
  await pollUntil(
    async () => {
      const alive = await workers();
      for (const id of alive) seen.add(id);
      return alive.size === 0 ? true : undefined;
    },
    { timeoutMs: 600_000, intervalMs: 200, describe: () => 'the workers to be scaled down', isFatal: (error) => String(error).includes('the head died') },
  );
  const gone = performance.now();
  return {
    nodesRegisteredS: ((registeredAt ?? gone) - submitted) / 1000,
    tasksDoneS: ((doneAt ?? gone) - submitted) / 1000,
    nodesLaunched: seen.size,
    scaleDownS: (gone - (doneAt ?? gone)) / 1000 - IDLE_TIMEOUT_S,
  };
}

async function runRayfleet(dir: string, runtime: Runtime): Promise<Measurement> {
  const file = path.join(dir, 'rayfleet.yaml');
  await writeFile(
    file,
    [
      'name: benchscale',
      `head: { cpus: 0, objectStoreMemory: 100MB, gcsPort: ${await findFreePort()}, dashboardPort: ${await findFreePort()}, clientPort: ${await findFreePort()} }`,
      'workerGroups:',
      `  - { name: worker, cpus: 1, objectStoreMemory: 100MB, min: 0, max: ${MAX_WORKERS} }`,
      `watcher: { interval: 1s, idleTimeout: ${IDLE_TIMEOUT_S}s, maxWorkers: ${MAX_WORKERS} }`,
    ].join('\n'),
  );
  const { spec } = await loadSpec({ configPath: file, env: {} });
  const fleet = await Fleet.open({ spec });
  // up starts the cluster's background watcher, as a user's `rayfleet up` does.
  await fleet.up();
  const gcs = new GcsClient({ address: (await fleet.endpoints()).gcsAddress, authToken: await fleet.authToken() });
  try {
    return await measure(gcs, runtime, await fleet.connectionEnv(), dir, (id) => id === 'benchscale-head', () => true);
  } finally {
    gcs.close();
    await fleet.down();
    fleet.close();
  }
}

async function runRayAutoscaler(dir: string, runtime: Runtime): Promise<Measurement> {
  const gcsPort = await findFreePort();
  const config = {
    cluster_name: 'rayfleet-bench',
    max_workers: MAX_WORKERS,
    provider: { type: 'fake_multinode', use_node_id_as_ip: true, disable_node_updaters: true, disable_launch_config_check: true, launch_multiple: true, head_node_id: FAKE_HEAD_ID, gcs_address: `127.0.0.1:${gcsPort}` },
    available_node_types: {
      'ray.head.default': { resources: { CPU: 0 }, node_config: {}, max_workers: 0 },
      'ray.worker.cpu': { resources: { CPU: 1, object_store_memory: 100_000_000 }, node_config: {}, min_workers: 0, max_workers: MAX_WORKERS },
    },
    head_node_type: 'ray.head.default',
    auth: {},
    upscaling_speed: 1.0,
    idle_timeout_minutes: IDLE_TIMEOUT_S / 60,
    docker: {},
    initialization_commands: [],
    setup_commands: [],
    head_setup_commands: [],
    worker_setup_commands: [],
    head_start_ray_commands: [],
    worker_start_ray_commands: [],
    file_mounts: {},
    cluster_synced_files: [],
    file_mounts_sync_continuously: false,
    rsync_exclude: [],
    rsync_filter: [],
  };
  const configPath = path.join(dir, 'ray-autoscaler.json');
  await writeFile(configPath, JSON.stringify(config));
  // Ray's monitor reads its fake provider's defaults from an example.yaml that the 2.60.0 wheel does not ship;
  // without it the monitor exits at once. This run's own config serves as the defaults (JSON is YAML).
  const rayPackage = (await execa(runtime.python, ['-c', 'import os, ray; print(os.path.dirname(ray.__file__))'])).stdout.trim();
  const defaults = path.join(rayPackage, 'autoscaler', '_private', 'fake_multi_node', 'example.yaml');
  if (!(await access(defaults).then(() => true, () => false))) await writeFile(defaults, JSON.stringify(config));
  const env = { RAY_AUTH_MODE: 'disabled', RAY_ADDRESS: `127.0.0.1:${gcsPort}` };
  const head = await startProcessGroup({
    command: runtime.ray,
    args: ['start', '--head', '--block', '--disable-usage-stats', `--autoscaling-config=${configPath}`, `--port=${gcsPort}`, '--num-cpus=0', `--dashboard-port=${await findFreePort()}`, `--ray-client-server-port=${await findFreePort()}`, '--dashboard-agent-listen-port=0', `--temp-dir=${path.join(dir, 'raytmp')}`],
    env: {
      ...process.env,
      ...env,
      RAY_FAKE_CLUSTER: '1',
      AUTOSCALER_UPDATE_INTERVAL_S: '1',
      RAY_enable_autoscaler_v2: '1',
      RAY_CLOUD_INSTANCE_ID: FAKE_HEAD_ID,
      RAY_OVERRIDE_NODE_ID_FOR_TESTING: FAKE_HEAD_ID,
      RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S: '0',
    },
    logPath: path.join(dir, 'ray-autoscaler-head.log'),
  });
  const gcs = new GcsClient({ address: `127.0.0.1:${gcsPort}` });
  try {
    await pollUntil(async () => ((await gcs.getClusterResourceState()).nodeStates.length > 0 ? true : undefined), { timeoutMs: 120_000, intervalMs: 300, describe: () => "Ray's head" });
    return await measure(gcs, runtime, env, dir, (id) => id === FAKE_HEAD_ID, () => isLeaderAlive(head));
  } finally {
    gcs.close();
    // The fake provider's workers are processes of the head's group: stopping the group stops them all.
    await stopProcessGroup(head, 30_000);
  }
}

function ratio(ours: number, theirs: number): string {
  return theirs === 0 ? '-' : (ours / theirs).toFixed(2);
}

async function main(): Promise<void> {
  const runtime = await ensureRuntime({ rayVersion: DEFAULT_RAY_VERSION, onProgress: (line) => process.stderr.write(`${line}\n`) });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rf-autoscale-'));
  process.env.RAYFLEET_HOME = path.join(dir, 'home');
  try {
    process.stderr.write("Ray's autoscaler v2 (fake multi-node)…\n");
    const ray = await runRayAutoscaler(dir, runtime);
    process.stderr.write('rayfleet watcher…\n');
    const ours = await runRayfleet(dir, runtime);
    process.stdout.write(`burst of ${TASKS} one-CPU tasks of ${TASK_SECONDS} s on an empty cluster, max ${MAX_WORKERS} workers, idle timeout ${IDLE_TIMEOUT_S} s, ${os.cpus().length} cores\n`);
    process.stdout.write(
      `${formatTable(
        ['measure', 'rayfleet', 'ray autoscaler v2', 'rayfleet / ray'],
        [
          ['submit → needed nodes registered (s)', ours.nodesRegisteredS.toFixed(1), ray.nodesRegisteredS.toFixed(1), ratio(ours.nodesRegisteredS, ray.nodesRegisteredS)],
          ['submit → all tasks done (s)', ours.tasksDoneS.toFixed(1), ray.tasksDoneS.toFixed(1), ratio(ours.tasksDoneS, ray.tasksDoneS)],
          [`nodes launched (needed ${NEEDED})`, String(ours.nodesLaunched), String(ray.nodesLaunched), ratio(ours.nodesLaunched, ray.nodesLaunched)],
          ['idle timeout → all workers gone (s)', ours.scaleDownS.toFixed(1), ray.scaleDownS.toFixed(1), ratio(ours.scaleDownS, ray.scaleDownS)],
        ],
      )}\n`,
    );
  } finally {
    if (process.env.BENCH_KEEP === undefined) await rm(dir, { recursive: true, force: true });
    else process.stderr.write(`kept ${dir}\n`);
  }
}

await main();
