// End to end: the simulator against reality on bench:autoscale's 4-task burst. The burst runs on a real local cluster with
// its watcher on; the same spec and workload are then simulated with the launch → alive latencies this run measured.
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRIVER, WORKLOADS, driverArgument } from '../bench/autoscale/workloads.js';
import type { JournalEvent } from '../src/journal/event.js';
import { GcsClient } from '../src/ray/gcs-client.js';
import { runSimulation } from '../src/simulate/simulate.js';
import { reportOf } from '../src/simulate/simulation-report.js';
import { parseWorkload } from '../src/simulate/workload.js';
import { loadSpec } from '../src/spec/load-spec.js';
import { TEST_PYTHON } from './support/drivers.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

const BURST = WORKLOADS.burst;
const NODES_POLL_MS = 200;

describe("the simulator against a real cluster on bench:autoscale's burst", () => {
  let cluster: TestCluster;
  let env: Record<string, string>;

  beforeAll(async () => {
    if (BURST === undefined) throw new Error("bench:autoscale's burst workload is gone");
    // bench:autoscale's rayfleet side: 1-CPU workers from 0 to 4, the watcher at its default interval.
    cluster = await createTestCluster({ name: 'rfagree', workers: 0, max: BURST.maxWorkers, watcher: `{ interval: 1s, idleTimeout: 10s, maxWorkers: ${BURST.maxWorkers} }` });
    await cluster.up();
    env = await cluster.driverEnv();
  });

  afterAll(async () => {
    await cluster.down();
  });

  it('launches as many nodes as the real run, fed the latencies that run measured', async () => {
    if (BURST === undefined) throw new Error("bench:autoscale's burst workload is gone");
    const gcs = new GcsClient({ address: env.RAY_ADDRESS ?? '', authToken: readFileSync(env.RAY_AUTH_TOKEN_PATH ?? '', 'utf8').trim() });
    const aliveAtMs = new Map<string, number>();
    let demandSeenAtMs: number | undefined;
    const startedAtMs = Date.now();
    const driver = execa(TEST_PYTHON, [DRIVER, driverArgument(BURST)], { env, reject: false, timeout: 180_000, encoding: 'utf8' });
    let ended = false;
    void driver.finally(() => (ended = true));
    try {
      while (!ended) {
        const state = await gcs.getClusterResourceState().catch(() => undefined);
        const answeredAtMs = Date.now();
        if (state !== undefined) {
          if (demandSeenAtMs === undefined && state.pendingRequests.some((request) => request.count > 0)) demandSeenAtMs = answeredAtMs;
          for (const node of state.nodeStates) if (node.status !== 'DEAD' && !aliveAtMs.has(node.instanceId)) aliveAtMs.set(node.instanceId, answeredAtMs);
        }
        await delay(NODES_POLL_MS);
      }
    } finally {
      gcs.close();
    }
    const result = await driver;
    expect(result.exitCode, result.stderr).toBe(0);

    const launches = (await cluster.json<JournalEvent[]>(['events'])).filter((event) => event.type === 'launch' && Date.parse(event.time) >= startedAtMs);
    const latenciesMs = launches.map((launch) => (launch.type === 'launch' ? (aliveAtMs.get(launch.node) ?? Number.NaN) - Date.parse(launch.time) : Number.NaN));
    expect(latenciesMs.every((ms) => Number.isFinite(ms) && ms > 0), `launch → alive per node: ${latenciesMs.join(', ')}`).toBe(true);
    const realCapacityS = (Math.max(...launches.map((launch) => (launch.type === 'launch' ? (aliveAtMs.get(launch.node) ?? 0) : 0))) - (demandSeenAtMs ?? startedAtMs)) / 1000;

    const { spec } = await loadSpec({ configPath: cluster.specPath, env: {} });
    const workload = parseWorkload(
      [
        `simulation: { launchLatency: { samples: [${latenciesMs.map((ms) => `${Math.round(ms)}ms`).join(', ')}] } }`,
        'arrivals:',
        ...BURST.tasks.map((task) => `  - { at: 0s, kind: task, shape: ${JSON.stringify(task.shape)}, count: ${task.count}, duration: ${BURST.seconds}s }`),
      ].join('\n'),
      'autoscale-burst.yaml',
    );
    const simulated = reportOf(await runSimulation({ spec, workload, seed: 1 }));
    // The time ratio belongs in bench:autoscale (ISSUE-NOTES); printed here, not asserted.
    process.stderr.write(
      `[agreement] nodes launched: real ${launches.length}, simulated ${simulated.nodesLaunched}; time to capacity (demand → last node alive): real ${realCapacityS.toFixed(1)} s, ` +
        `simulated ${simulated.demandToCapacityS.max.toFixed(1)} s (ratio ${(simulated.demandToCapacityS.max / realCapacityS).toFixed(2)}); launch → alive measured: ${latenciesMs.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s\n`,
    );
    expect(launches.length).toBe(BURST.needed);
    expect(simulated.nodesLaunched).toBe(launches.length);
  });
});
