// Benchmark: the planner alone on a large cluster: 10,000 nodes, 1,000 pending shapes, 50 groups.
import { formatTable } from '../src/cli/format-table.js';
import type { WorkerGroupSpec } from '../src/spec/schema.js';
import type { Observation, WorkerView } from '../src/watcher/observation.js';
import { planScaling } from '../src/watcher/planner.js';

const NODES = 10_000;
const SHAPES = 1_000;
const GROUPS = 50;
const ROUNDS = 5;

function scenario(): { observation: Observation; groups: WorkerGroupSpec[] } {
  const groups: WorkerGroupSpec[] = Array.from({ length: GROUPS }, (_, index) => ({
    name: `g${index}`,
    cpus: 1 + (index % 8),
    gpus: index % 10 === 0 ? 1 : 0,
    resources: {},
    min: 0,
    max: 400,
  }));
  const now = Date.now();
  const workers: WorkerView[] = Array.from({ length: NODES }, (_, index) => {
    const group = groups[index % GROUPS] as WorkerGroupSpec;
    const used = index % 10 === 0 ? 0 : group.cpus;
    const total: Record<string, number> = group.gpus > 0 ? { CPU: group.cpus, GPU: group.gpus } : { CPU: group.cpus };
    return {
      name: `n${index}`,
      group: group.name,
      index: Math.floor(index / GROUPS) + 1,
      phase: index % 50 === 7 ? 'launching' : 'registered',
      createdAtMs: now - 10_000,
      ray: { nodeId: `id${index}`, idle: used === 0, idleMs: used === 0 ? (index % 7) * 20_000 : 0, total, available: { ...total, CPU: group.cpus - used }, labels: {} },
    };
  });
  const shapes = Array.from({ length: SHAPES }, (_, index) => ({ shape: (index % 25 === 0 ? { CPU: 1, GPU: 1 } : { CPU: 1 + (index % 6) }) as Record<string, number>, count: 1 + (index % 4) }));
  return {
    groups,
    observation: { atMs: now, source: 'gcs', workers, headAvailable: {}, headTotal: {}, demand: { shapes, gangs: [], constraints: [] }, providerOk: true, rayOk: true, problems: [] },
  };
}

const { observation, groups } = scenario();
const config = { groups, watcher: { enabled: true, intervalMs: 1000, pendingThreshold: 0, cooldownMs: 0, idleTimeoutMs: 60_000, maxWorkers: 100_000 }, launchTimeoutMs: 120_000 };
const samples: number[] = [];
let plan = planScaling(observation, config, { lastScaleUpAtMs: undefined, backoffUntilMs: {} });
for (let round = 0; round < ROUNDS; round += 1) {
  const started = performance.now();
  plan = planScaling(observation, config, { lastScaleUpAtMs: undefined, backoffUntilMs: {} });
  samples.push(performance.now() - started);
}
samples.sort((a, b) => a - b);
const units = observation.demand.shapes.reduce((sum, entry) => sum + entry.count, 0);
process.stdout.write(
  `${formatTable(
    ['nodes', 'shapes (requests)', 'groups', 'median ms', 'min ms', 'launches', 'drains'],
    [[String(NODES), `${SHAPES} (${units})`, String(GROUPS), (samples[Math.floor(ROUNDS / 2)] ?? 0).toFixed(1), (samples[0] ?? 0).toFixed(1), String(plan.launches.reduce((sum, launch) => sum + launch.count, 0)), String(plan.drains.length)]],
  )}\n`,
);
