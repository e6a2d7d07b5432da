// One run of a workload on a fresh Ray head scaled by Ray's own autoscaler v2, with its fake multi-node provider on this machine.
import { access, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { findFreePort } from '../../src/net/ports.js';
import { isLeaderAlive, startProcessGroup, stopProcessGroup } from '../../src/process/process-group.js';
import { GcsClient } from '../../src/ray/gcs-client.js';
import type { Runtime } from '../../src/ray/runtime.js';
import { pollUntil } from '../../src/wait/poll-until.js';
import { measureRun, type SideRun } from './measure-run.js';
import { cpuMeter, findInGroup } from './process-cpu.js';
import type { BenchWorkload } from './workloads.js';

/** The head of the fake multi-node cluster must carry this id: Ray's fake provider knows its head by it. */
const FAKE_HEAD_ID = 'fffffffffffffffffffffffffffffffffffffffffffffffffff00000';

/**
 * The v2 instance manager's node provider logs this line as it hands a launch to the cloud provider, before the fake
 * provider starts the node in the monitor's own process (which takes seconds): the moment the launch is issued.
 */
const LAUNCHING = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3})\s+INFO .*Launching \d+ nodes of type /;

function autoscalingConfig(workload: BenchWorkload, gcsPort: number, idleTimeoutS: number): object {
  return {
    cluster_name: 'rayfleet-bench',
    max_workers: workload.maxWorkers,
    provider: { type: 'fake_multinode', use_node_id_as_ip: true, disable_node_updaters: true, disable_launch_config_check: true, launch_multiple: true, head_node_id: FAKE_HEAD_ID, gcs_address: `127.0.0.1:${gcsPort}` },
    available_node_types: {
      'ray.head.default': { resources: { CPU: 0 }, node_config: {}, max_workers: 0 },
      ...Object.fromEntries(
        workload.groups.map((group) => [
          group.name,
          { resources: { CPU: group.cpus, ...(group.gpus > 0 ? { GPU: group.gpus } : {}), object_store_memory: 100_000_000 }, node_config: {}, min_workers: 0, max_workers: group.max },
        ]),
      ),
    },
    head_node_type: 'ray.head.default',
    auth: {},
    upscaling_speed: 1.0,
    idle_timeout_minutes: idleTimeoutS / 60,
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
}

/** Wall-clock times (ms) of the monitor's launches; Python logs local time, which `new Date` without a zone reads alike. */
async function launchTimes(monitorLog: string): Promise<number[]> {
  const text = await readFile(monitorLog, 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((line) => LAUNCHING.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => new Date(`${match[1]}T${match[2]}.${match[3]}`).getTime());
}

export async function runRayAutoscaler(workload: BenchWorkload, dir: string, runtime: Runtime, options: { intervalS: number; idleTimeoutS: number; round: number }): Promise<SideRun> {
  const gcsPort = await findFreePort();
  const config = autoscalingConfig(workload, gcsPort, options.idleTimeoutS);
  const configPath = path.join(dir, `ray-autoscaler-${workload.name}.json`);
  await writeFile(configPath, JSON.stringify(config));
  // Ray's monitor reads its fake provider's defaults from an example.yaml that the 2.60.0 wheel does not ship;
  // without it the monitor exits at once. A run's own config serves as the defaults (JSON is YAML; each run's
  // available_node_types replace the defaults' whole).
  const rayPackage = (await execa(runtime.python, ['-c', 'import os, ray; print(os.path.dirname(ray.__file__))'])).stdout.trim();
  const defaults = path.join(rayPackage, 'autoscaler', '_private', 'fake_multi_node', 'example.yaml');
  if (!(await access(defaults).then(() => true, () => false))) await writeFile(defaults, JSON.stringify(config));
  // Short: Ray's unix socket paths under it are capped at 107 bytes (raytmp-strict-spread-1 was too long).
  const tempDir = path.join(dir, `rt-${workload.name.slice(0, 2)}${options.round}`);
  const env = { RAY_AUTH_MODE: 'disabled', RAY_ADDRESS: `127.0.0.1:${gcsPort}` };
  const headLog = path.join(dir, `ray-autoscaler-head-${workload.name}-${options.round}.log`);
  const head = await startProcessGroup({
    command: runtime.ray,
    args: ['start', '--head', '--block', '--disable-usage-stats', `--autoscaling-config=${configPath}`, `--port=${gcsPort}`, '--num-cpus=0', `--dashboard-port=${await findFreePort()}`, `--ray-client-server-port=${await findFreePort()}`, '--dashboard-agent-listen-port=0', `--temp-dir=${tempDir}`],
    env: {
      ...process.env,
      ...env,
      RAY_FAKE_CLUSTER: '1',
      AUTOSCALER_UPDATE_INTERVAL_S: String(options.intervalS),
      RAY_enable_autoscaler_v2: '1',
      RAY_CLOUD_INSTANCE_ID: FAKE_HEAD_ID,
      RAY_OVERRIDE_NODE_ID_FOR_TESTING: FAKE_HEAD_ID,
      RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S: '0',
    },
    logPath: headLog,
  });
  const gcs = new GcsClient({ address: `127.0.0.1:${gcsPort}` });
  try {
    const headStarted = async (): Promise<true | undefined> => {
      if (!isLeaderAlive(head)) throw new Error(`Ray's head exited: ${(await readFile(headLog, 'utf8').catch(() => '')).slice(-3000)}`);
      return (await gcs.getClusterResourceState()).nodeStates.length > 0 ? true : undefined;
    };
    await pollUntil(headStarted, { timeoutMs: 120_000, intervalMs: 300, describe: () => `Ray's head (its log: ${headLog})`, isFatal: (error) => String(error).includes("Ray's head exited") });
    const monitorPid = await pollUntil(async () => findInGroup(head.pid, 'monitor.py'), { timeoutMs: 60_000, intervalMs: 200, describe: () => "Ray's monitor to start" });
    const monitorCpu = cpuMeter(monitorPid);
    const run = await measureRun({ gcs, python: runtime.python, env, isHead: (id) => id === FAKE_HEAD_ID, headAlive: () => isLeaderAlive(head) }, workload, options.idleTimeoutS);
    const cpuMs = monitorCpu();
    const firstLaunch = (await launchTimes(path.join(tempDir, 'session_latest', 'logs', 'monitor.log'))).find((at) => at >= run.submittedAtMs - 1000);
    return {
      ...run,
      reactionS: firstLaunch === undefined || run.demandSeenAtMs === undefined ? undefined : (firstLaunch - run.demandSeenAtMs) / 1000,
      cpuMs,
      intervalMs: options.intervalS * 1000,
    };
  } finally {
    gcs.close();
    // The fake provider's workers are processes of the head's group: stopping the group stops them all.
    await stopProcessGroup(head, 30_000);
  }
}
