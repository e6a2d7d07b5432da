// Benchmark: how long `rayfleet simulate` takes for one simulated hour of a cluster held near 100 nodes (goal: 10 s at most).
//
// 100 workers of 4 CPUs at most; 400 one-CPU tasks of 10 minutes arrive at once, and 400 more are spread over each
// following 10 minutes, so the watcher keeps about 100 nodes busy, drains the idle ones and launches again.
//
//   npx tsx bench/simulate.ts          one simulated hour, three rounds, median of wall and CPU time
//   BENCH_HOURS=4 npx tsx bench/simulate.ts
import { formatTable } from '../src/cli/format-table.js';
import { runSimulation } from '../src/simulate/simulate.js';
import { reportOf } from '../src/simulate/simulation-report.js';
import { parseWorkload } from '../src/simulate/workload.js';
import { clusterSpecSchema } from '../src/spec/schema.js';

const HOURS = Number(process.env.BENCH_HOURS ?? '1');
const ROUNDS = 3;

const spec = clusterSpecSchema.parse({
  head: { cpus: 0 },
  workerGroups: [{ name: 'worker', cpus: 4, min: 0, max: 100 }],
  watcher: { interval: '1s', idleTimeout: '60s', maxWorkers: 100 },
});
const waves = Array.from({ length: HOURS * 6 }, (_, wave) => `  - { at: ${wave * 10}m, ${wave === 0 ? '' : 'over: 10m, '}kind: task, shape: { CPU: 1 }, count: 400, duration: 10m }`);
const workload = parseWorkload(`simulation: { horizon: ${HOURS}h }\narrivals:\n${waves.join('\n')}\n`, 'bench.yaml');

const rows: string[][] = [];
const wall: number[] = [];
const cpu: number[] = [];
for (let round = 0; round < ROUNDS; round += 1) {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const run = await runSimulation({ spec, workload, seed: round + 1 });
  const used = process.cpuUsage(cpuStarted);
  wall.push((performance.now() - started) / 1000);
  cpu.push((used.user + used.system) / 1e6);
  const report = reportOf(run);
  const peak = Math.max(...run.rayNodes.map((node) => run.rayNodes.filter((other) => other.registeredAtMs <= node.registeredAtMs && (other.deadAtMs ?? Number.POSITIVE_INFINITY) > node.registeredAtMs).length));
  rows.push([String(round + 1), (wall.at(-1) ?? 0).toFixed(2), (cpu.at(-1) ?? 0).toFixed(2), String(peak), String(report.nodesLaunched), report.totalNodeHours.toFixed(1), String(run.events.length)]);
}
process.stdout.write(`${HOURS} simulated hour(s) at up to 100 nodes, ${ROUNDS} rounds\n`);
process.stdout.write(`${formatTable(['round', 'wall s', 'cpu s', 'peak nodes', 'launched', 'node-hours', 'journal events'], rows)}\n`);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
process.stdout.write(`median: ${median(wall).toFixed(2)} s wall, ${median(cpu).toFixed(2)} s CPU (goal: 10 s)\n`);
