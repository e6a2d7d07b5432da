// Benchmark: rayfleet's planner and Ray's own autoscaler v2 scheduler on the same large clusters, timed, with what each launches.
//
// For 100, 1,000 and 10,000 nodes (100 pending shapes per 1,000 nodes, 50 worker groups), both sides get one
// scenario: the same node types, the same registered nodes with the same free resources and idle times, the same
// launches in flight (at their type's full capacity on both sides: Ray models an ALLOCATED instance so) and the
// same demand. Ray's side is `ResourceDemandScheduler.schedule` from the managed venv (bench/ray-scheduler.py).
//
//   npm run bench:planner                      all sizes; Ray once at 10,000 nodes (about 7 minutes)
//   BENCH_RAY_10K=0 npm run bench:planner      Ray up to 1,000 nodes only
//   BENCH_RAY=0 npm run bench:planner          rayfleet only
//   BENCH_SIZES=100,1000 npm run bench:planner
//
// Ray's answer for an input is kept (by a hash of the input and Ray's version) in the system's temp directory, so a
// second run does not spend another 7 minutes on the identical computation; BENCH_RAY_FRESH=1 runs it again. The
// table says which Ray rows were read back.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { formatTable } from '../src/cli/format-table.js';
import { ensureRuntime } from '../src/ray/runtime.js';
import { DEFAULT_RAY_VERSION, type WorkerGroupSpec } from '../src/spec/schema.js';
import type { Observation, WorkerView } from '../src/watcher/observation.js';
import { planScaling, type Plan, type PlannerConfig } from '../src/watcher/planner.js';

const SIZES = (process.env.BENCH_SIZES ?? '100,1000,10000').split(',').map(Number);
const WITH_RAY = process.env.BENCH_RAY !== '0';
const RAY_AT_10K = process.env.BENCH_RAY_10K !== '0';
const RAY_FRESH = process.env.BENCH_RAY_FRESH === '1';
const RAY_CACHE = path.join(os.tmpdir(), 'rayfleet-bench-ray');
const GROUPS = 50;
const SHAPES_PER_1000_NODES = 100;
const IDLE_TIMEOUT_S = 60;
const RAYFLEET_ROUNDS = 21;
/** Untimed rounds first, so the timed ones run compiled code. */
const WARM_UP_ROUNDS = 10;
/** Ray's scheduler takes seconds at 1,000 nodes and minutes at 10,000: fewer rounds there, one at the largest size. */
const RAY_ROUNDS = (nodes: number): number => (nodes <= 100 ? 7 : nodes <= 1000 ? 3 : 1);

interface ScenarioWorker {
  name: string;
  group: string;
  index: number;
  phase: 'registered' | 'launching';
  total: Record<string, number>;
  available: Record<string, number>;
  idle: boolean;
  idleMs: number;
}

interface Scenario {
  nodes: number;
  idleTimeoutS: number;
  groups: Array<{ name: string; cpus: number; gpus: number; min: number; max: number }>;
  workers: ScenarioWorker[];
  shapes: Array<{ shape: Record<string, number>; count: number }>;
}

/**
 * 50 groups of 1 to 8 CPUs, every tenth with a GPU; nodes spread over them round-robin: one in 53 in flight, one
 * in 7 free (idle for 0.5 to 150 s), one in 7 half busy, the rest full, each with Ray's memory, object store and
 * `node:<ip>` resources; 100 shapes per 1,000 nodes of 1 to 6 CPUs, one in 25 a {CPU: 1, GPU: 1}, each wanted 1 to
 * 4 times.
 */
function scenario(nodes: number): Scenario {
  const groups = Array.from({ length: GROUPS }, (_, index) => ({ name: `g${index}`, cpus: 1 + (index % 8), gpus: index % 10 === 0 ? 1 : 0, min: 0, max: 400 }));
  const workers = Array.from({ length: nodes }, (_, index): ScenarioWorker => {
    const group = groups[index % GROUPS] as Scenario['groups'][number];
    // What Ray reports for a node: its CPUs and GPUs, memory and object store, and the `node:<ip>` resource every node has.
    const total: Record<string, number> = { CPU: group.cpus, memory: group.cpus * 4 * 2 ** 30, object_store_memory: 2 ** 30, [`node:10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`]: 1 };
    if (group.gpus > 0) total.GPU = group.gpus;
    const used = index % 7 === 3 ? 0 : index % 7 === 5 ? Math.floor(group.cpus / 2) : group.cpus;
    const available: Record<string, number> = { ...total, CPU: group.cpus - used };
    if (group.gpus > 0 && used === group.cpus) available.GPU = 0;
    const idle = used === 0;
    return { name: `n${index}`, group: group.name, index: Math.floor(index / GROUPS) + 1, phase: index % 53 === 7 ? 'launching' : 'registered', total, available, idle, idleMs: idle ? (index % 11) * 15_000 + 500 : 0 };
  });
  const shapes = Array.from({ length: (nodes / 1000) * SHAPES_PER_1000_NODES }, (_, index) => ({
    shape: index % 25 === 0 ? { CPU: 1, GPU: 1 } : ({ CPU: 1 + (index % 6) } as Record<string, number>),
    count: 1 + (index % 4),
  }));
  return { nodes, idleTimeoutS: IDLE_TIMEOUT_S, groups, workers, shapes };
}

function rayfleetInput(input: Scenario, now: number): { observation: Observation; config: PlannerConfig } {
  const workers = input.workers.map((worker): WorkerView => {
    // A launch in flight is 10 s old (well within its launch timeout); a registered node registered 10 minutes ago.
    if (worker.phase === 'launching') return { name: worker.name, group: worker.group, index: worker.index, phase: 'launching', createdAtMs: now - 10_000 };
    return {
      name: worker.name,
      group: worker.group,
      index: worker.index,
      phase: 'registered',
      createdAtMs: now - 600_000,
      registeredAtMs: now - 600_000,
      ray: { nodeId: worker.name, idle: worker.idle, idleMs: worker.idleMs, total: worker.total, available: worker.available, labels: {} },
    };
  });
  const groups: WorkerGroupSpec[] = input.groups.map((group) => ({ ...group, resources: {} }));
  return {
    observation: { atMs: now, source: 'gcs', workers, headAvailable: {}, headTotal: {}, demand: { shapes: input.shapes, gangs: [], constraints: [] }, providerOk: true, rayOk: true, problems: [] },
    config: {
      groups,
      watcher: { enabled: true, paused: false, intervalMs: 1000, pendingThreshold: 0, cooldownMs: 0, idleTimeoutMs: input.idleTimeoutS * 1000, maxWorkers: 100_000 },
      launchTimeoutMs: 120_000,
    },
  };
}

interface Side {
  wallMs: number[];
  cpuMs: number[];
  /** Nodes to launch, by group. */
  launches: Record<string, number>;
  drains: number;
  /** When this answer was computed, if it was read back from the cache. */
  cachedAt?: string;
}

function runRayfleet(input: Scenario): Side {
  const { observation, config } = rayfleetInput(input, Date.now());
  const history = { lastScaleUpAtMs: undefined, backoffUntilMs: {} };
  const wallMs: number[] = [];
  const cpuMs: number[] = [];
  let plan: Plan = planScaling(observation, config, history);
  for (let warm = 0; warm < WARM_UP_ROUNDS; warm += 1) plan = planScaling(observation, config, history);
  for (let round = 0; round < RAYFLEET_ROUNDS; round += 1) {
    const cpu = process.cpuUsage();
    const started = performance.now();
    plan = planScaling(observation, config, history);
    wallMs.push(performance.now() - started);
    const used = process.cpuUsage(cpu);
    cpuMs.push((used.user + used.system) / 1000);
  }
  const launches: Record<string, number> = {};
  for (const launch of plan.launches) launches[launch.group] = (launches[launch.group] ?? 0) + launch.count;
  return { wallMs, cpuMs, launches, drains: plan.drains.length };
}

async function runRay(input: Scenario, python: string, dir: string): Promise<Side> {
  const text = JSON.stringify(input);
  const cached = path.join(RAY_CACHE, `${createHash('sha256').update(`${DEFAULT_RAY_VERSION}\n${RAY_ROUNDS(input.nodes)}\n${text}`).digest('hex').slice(0, 16)}.json`);
  if (!RAY_FRESH) {
    const known = await readFile(cached, 'utf8').then((saved) => JSON.parse(saved) as Side & { at: string }, () => undefined);
    if (known !== undefined) return { ...known, cachedAt: known.at };
  }
  const file = path.join(dir, `scenario-${input.nodes}.json`);
  await writeFile(file, text);
  const script = fileURLToPath(new URL('./ray-scheduler.py', import.meta.url));
  // Ray logs to stderr; its JSON answer is stdout.
  const { stdout } = await execa(python, [script, file, String(RAY_ROUNDS(input.nodes))]);
  const answer = JSON.parse(stdout) as { wallMs: number[]; cpuMs: number[]; launches: Record<string, number>; terminations: number };
  const side: Side = { wallMs: answer.wallMs, cpuMs: answer.cpuMs, launches: answer.launches, drains: answer.terminations };
  await mkdir(RAY_CACHE, { recursive: true });
  await writeFile(cached, JSON.stringify({ ...side, at: new Date().toISOString() }));
  return side;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function launched(side: Side, input: Scenario): { nodes: number; cpus: number; gpus: number } {
  const totals = { nodes: 0, cpus: 0, gpus: 0 };
  for (const [name, count] of Object.entries(side.launches)) {
    const group = input.groups.find((candidate) => candidate.name === name);
    totals.nodes += count;
    totals.cpus += count * (group?.cpus ?? 0);
    totals.gpus += count * (group?.gpus ?? 0);
  }
  return totals;
}

const ms = (value: number): string => (Number.isNaN(value) ? '-' : value < 10 ? value.toFixed(2) : value.toFixed(1));
const what = (totals: { nodes: number; cpus: number; gpus: number }): string => `${totals.nodes} / ${totals.cpus} / ${totals.gpus}`;

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-bench-planner-'));
  try {
    const python = WITH_RAY ? (await ensureRuntime({ rayVersion: DEFAULT_RAY_VERSION, onProgress: (line) => process.stderr.write(`${line}\n`) })).python : undefined;
    const rows: string[][] = [];
    const growth: Array<{ nodes: number; rayfleetMs: number }> = [];
    const cachedRay: string[] = [];
    for (const nodes of SIZES) {
      const input = scenario(nodes);
      const ours = runRayfleet(input);
      const withRay = python !== undefined && (nodes < 10_000 || RAY_AT_10K);
      if (withRay) process.stderr.write(`Ray's scheduler at ${nodes} nodes, ${RAY_ROUNDS(nodes)} round(s) (or its saved answer)…\n`);
      const ray = withRay ? await runRay(input, python, dir) : undefined;
      if (ray?.cachedAt !== undefined) cachedRay.push(ray.cachedAt);
      const requests = input.shapes.reduce((total, entry) => total + entry.count, 0);
      const oursCpu = median(ours.cpuMs);
      const rayCpu = ray === undefined ? Number.NaN : median(ray.cpuMs);
      growth.push({ nodes, rayfleetMs: oursCpu });
      rows.push([
        String(nodes),
        `${input.shapes.length} (${requests})`,
        `${ms(median(ours.wallMs))} (${ms(Math.min(...ours.wallMs))})`,
        ms(oursCpu),
        ray === undefined ? '-' : `${ms(median(ray.wallMs))}${ray.cachedAt === undefined ? '' : '*'}`,
        ms(rayCpu),
        ray === undefined ? '-' : `${Math.round(rayCpu / oursCpu)}×`,
        what(launched(ours, input)),
        ray === undefined ? '-' : what(launched(ray, input)),
        `${ours.drains} / ${ray === undefined ? '-' : ray.drains}`,
      ]);
    }
    process.stdout.write(
      `${formatTable(
        ['nodes', 'shapes (requests)', 'rayfleet ms (min)', 'rayfleet CPU ms', 'Ray ms', 'Ray CPU ms', 'Ray/rayfleet', 'rayfleet launches nodes/CPUs/GPUs', 'Ray launches nodes/CPUs/GPUs', 'drains rayfleet/Ray'],
        rows,
      )}\n`,
    );
    const first = growth[0];
    const last = growth.at(-1);
    if (first !== undefined && last !== undefined && last.nodes > first.nodes) {
      process.stdout.write(`rayfleet's CPU time grows ${(last.rayfleetMs / first.rayfleetMs).toFixed(1)}× for ${last.nodes / first.nodes}× the nodes.\n`);
    }
    if (cachedRay.length > 0) process.stdout.write(`* Ray's answer for this identical input, saved on ${cachedRay.join(', ')} (BENCH_RAY_FRESH=1 runs it again).\n`);
    process.stdout.write(
      `${GROUPS} groups; medians of ${RAYFLEET_ROUNDS} rounds for rayfleet, ${SIZES.map((size) => RAY_ROUNDS(size)).join('/')} for Ray (wall and CPU time of the one call, input already built); ` +
        `load average ${os.loadavg()[0]?.toFixed(1)} on ${os.cpus().length} CPUs (medians on a busy machine are mostly waiting: the min is the planner's own cost).\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
