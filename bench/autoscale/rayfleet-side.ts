// One run of a workload on a fresh local cluster scaled by rayfleet's background watcher, as `rayfleet up` starts it.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Fleet } from '../../src/fleet/fleet.js';
import { findFreePort } from '../../src/net/ports.js';
import { GcsClient } from '../../src/ray/gcs-client.js';
import type { Runtime } from '../../src/ray/runtime.js';
import { loadSpec } from '../../src/spec/load-spec.js';
import { measureRun, type SideRun } from './measure-run.js';
import { cpuMeter } from './process-cpu.js';
import type { BenchWorkload } from './workloads.js';

export const CLUSTER = 'benchscale';

/** rayfleet.yaml for the workload: its groups, max 0 → max, the watcher on at `interval`. */
export async function writeBenchSpec(file: string, workload: BenchWorkload, options: { interval: string; idleTimeoutS: number }): Promise<void> {
  await writeFile(
    file,
    [
      `name: ${CLUSTER}`,
      `head: { cpus: 0, objectStoreMemory: 100MB, gcsPort: ${await findFreePort()}, dashboardPort: ${await findFreePort()}, clientPort: ${await findFreePort()} }`,
      'workerGroups:',
      ...workload.groups.map((group) => `  - { name: ${group.name}, cpus: ${group.cpus}, gpus: ${group.gpus}, objectStoreMemory: 100MB, min: 0, max: ${group.max} }`),
      `watcher: { interval: ${options.interval}, idleTimeout: ${options.idleTimeoutS}s, maxWorkers: ${workload.maxWorkers} }`,
      'dashboard: { enabled: false }',
    ].join('\n'),
  );
}

export async function runRayfleet(workload: BenchWorkload, dir: string, runtime: Runtime, options: { interval: string; intervalMs: number; idleTimeoutS: number }): Promise<SideRun> {
  const file = path.join(dir, `rayfleet-${workload.name}.yaml`);
  await writeBenchSpec(file, workload, options);
  const { spec } = await loadSpec({ configPath: file, env: {} });
  const fleet = await Fleet.open({ spec });
  // up starts the cluster's background watcher, as a user's `rayfleet up` does.
  await fleet.up();
  const gcs = new GcsClient({ address: (await fleet.endpoints()).gcsAddress, authToken: await fleet.authToken() });
  try {
    const watcherCpu = cpuMeter(await fleet.watcher.pid());
    const run = await measureRun({ gcs, python: runtime.python, env: await fleet.connectionEnv(), isHead: (id) => id === `${CLUSTER}-head`, headAlive: () => true }, workload, options.idleTimeoutS);
    const cpuMs = watcherCpu();
    const { events } = await fleet.events({ since: new Date(run.submittedAtMs - 1000) });
    const firstLaunch = events.find((event) => event.type === 'launch' && Date.parse(event.time) >= run.submittedAtMs);
    return {
      ...run,
      reactionS: firstLaunch === undefined || run.demandSeenAtMs === undefined ? undefined : (Date.parse(firstLaunch.time) - run.demandSeenAtMs) / 1000,
      cpuMs,
      intervalMs: options.intervalMs,
    };
  } finally {
    gcs.close();
    await fleet.down();
    fleet.close();
  }
}
