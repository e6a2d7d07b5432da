// Benchmark: workloads on an empty cluster, scaled by rayfleet's watcher and by Ray's own autoscaler v2 (its fake
// multi-node provider on this machine), each side run BENCH_ROUNDS times alternating, medians [min–max] and ratios printed.
//
//   npx tsx bench/autoscale.ts                               burst, mixed and strict-spread, 3 rounds each
//   BENCH_WORKLOADS=burst,mixed BENCH_ROUNDS=3 npx tsx bench/autoscale.ts
//   BENCH_WATCHER_INTERVAL=500ms   rayfleet's watcher interval (default 1s, the spec's default)
//   BENCH_RAY_INTERVAL_S=5         Ray's monitor loop, AUTOSCALER_UPDATE_INTERVAL_S (default 5, Ray's default)
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SideRun } from './autoscale/measure-run.js';
import { runRayAutoscaler } from './autoscale/ray-side.js';
import { runRayfleet } from './autoscale/rayfleet-side.js';
import { reactionLine, workloadTable } from './autoscale/summary.js';
import { chosenWorkloads } from './autoscale/workloads.js';
import { ensureRuntime } from '../src/ray/runtime.js';
import { parseDuration } from '../src/spec/durations.js';
import { DEFAULT_RAY_VERSION } from '../src/spec/schema.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WATCHER_INTERVAL = process.env.BENCH_WATCHER_INTERVAL ?? '1s';
const RAY_INTERVAL_S = Number(process.env.BENCH_RAY_INTERVAL_S ?? 5);
const IDLE_TIMEOUT_S = 10;

function progress(run: SideRun): string {
  return `reaction ${run.reactionS?.toFixed(2) ?? '-'} s, capacity ${run.capacityS.toFixed(1)} s${run.gangPlacedS === undefined ? '' : ` (gang ${run.gangPlacedS.toFixed(1)} s)`}, done ${run.doneS.toFixed(1)} s, ${run.nodesLaunched} nodes, scale-down ${run.scaleDownS.toFixed(1)} s`;
}

async function main(): Promise<void> {
  const workloads = chosenWorkloads(process.env.BENCH_WORKLOADS);
  const runtime = await ensureRuntime({ rayVersion: DEFAULT_RAY_VERSION, onProgress: (line) => process.stderr.write(`${line}\n`) });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rf-autoscale-'));
  process.env.RAYFLEET_HOME = path.join(dir, 'home');
  const benchStarted = performance.now();
  const everyRun = { rayfleet: [] as SideRun[], ray: [] as SideRun[] };
  try {
    process.stdout.write(
      `${os.cpus().length} cores, load average ${os.loadavg()[0]?.toFixed(1)} at the start; rayfleet's watcher every ${WATCHER_INTERVAL}, ` +
        `Ray's monitor every ${RAY_INTERVAL_S} s (AUTOSCALER_UPDATE_INTERVAL_S); idle timeout ${IDLE_TIMEOUT_S} s; ${ROUNDS} rounds per side, alternating\n`,
    );
    for (const workload of workloads) {
      const ours: SideRun[] = [];
      const ray: SideRun[] = [];
      for (let round = 1; round <= ROUNDS; round += 1) {
        process.stderr.write(`${workload.name} ${round}/${ROUNDS}: rayfleet watcher…\n`);
        ours.push(await runRayfleet(workload, dir, runtime, { interval: WATCHER_INTERVAL, intervalMs: parseDuration(WATCHER_INTERVAL), idleTimeoutS: IDLE_TIMEOUT_S }));
        process.stderr.write(`  ${progress(ours.at(-1) as SideRun)}\n${workload.name} ${round}/${ROUNDS}: Ray's autoscaler v2…\n`);
        ray.push(await runRayAutoscaler(workload, dir, runtime, { intervalS: RAY_INTERVAL_S, idleTimeoutS: IDLE_TIMEOUT_S, round }));
        process.stderr.write(`  ${progress(ray.at(-1) as SideRun)}\n`);
      }
      everyRun.rayfleet.push(...ours);
      everyRun.ray.push(...ray);
      process.stdout.write(`\n${workload.name}: ${workload.description}\n${workloadTable(workload, ours, ray)}\n`);
    }
    process.stdout.write(`\n${reactionLine('rayfleet', everyRun.rayfleet)}\n${reactionLine("Ray's autoscaler v2", everyRun.ray)}\n`);
    process.stdout.write(`the bench took ${((performance.now() - benchStarted) / 60_000).toFixed(1)} min\n`);
  } finally {
    if (process.env.BENCH_KEEP === undefined) await rm(dir, { recursive: true, force: true });
    else process.stderr.write(`kept ${dir}\n`);
  }
}

await main();
