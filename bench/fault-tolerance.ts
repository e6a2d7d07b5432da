// Benchmark: what `head.faultTolerance: true` (Ray's embedded GCS store, RAY_gcs_storage=rocksdb) costs a local head.
// A head and two one-CPU workers, brought up by the built CLI without and with the store, alternating, BENCH_ROUNDS
// rounds (default 3); per variant the median of: `up` to the head registered and to the whole cluster up, the CPU
// seconds of the head's process group (gcs_server, raylet, the rest) over an idle 20 s and over a workload
// (bench/fault-tolerance-driver.py), the GCS's resident memory, and the store's size on disk at the end.
// Run it under the machine's Ray lock: `npm run build && flock /tmp/rayfleet-ray.lock npx tsx bench/fault-tolerance.ts`.
//
// Results: `npm run build && flock /tmp/rayfleet-ray.lock npx tsx bench/fault-tolerance.ts`, 2026-12-06, 2 cores, Ray 2.60.0,
// median of 3 rounds (without / with / ratio): up to the head registered 6.07 / 5.32 s (0.88), whole cluster 9.58 /
// 8.10 s (0.85; the first round, cold, was the slowest of all: 12.9 s without); head CPU idle 20 s 1.17 / 0.96 s (0.82;
// gcs_server 0.15 / 0.14); head CPU over the workload 1.75 / 1.96 s (1.12; gcs_server 0.64 / 0.80, 1.25), its wall time
// 19.7 / 20.6 s; gcs_server resident 61 / 68 MiB (1.12); the store 475 KiB at the end, removed by `down` every round.
// The store costs the GCS a few tenths of a CPU second per such burst and 7 MiB; start time and idle cost are in the noise.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { formatTable } from '../src/cli/format-table.js';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import { nodeOf, type JournalEvent } from '../src/journal/event.js';
import { findFreePorts } from '../src/net/ports.js';
import { ensureRuntime } from '../src/ray/runtime.js';
import { DEFAULT_RAY_VERSION } from '../src/spec/schema.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IDLE_MS = 20_000;
const BIN = path.resolve(import.meta.dirname, '../bin/rayfleet.js');
const DRIVER = path.resolve(import.meta.dirname, 'fault-tolerance-driver.py');
/** Linux reports CPU times in USER_HZ, 100 on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

type Variant = 'off' | 'on';

interface Sample {
  headRegisteredS: number;
  upS: number;
  idle: CpuSeconds;
  workload: CpuSeconds;
  workloadWallS: number;
  gcsRssMiB: number;
  storeBytes: number;
  /** Whether `down` removed the store. */
  storeGone: boolean;
}

/** CPU seconds by the head's processes, grouped as the GCS, the raylet and the rest (dashboard, agents, log monitor, `ray start`). */
interface CpuSeconds {
  gcs: number;
  raylet: number;
  rest: number;
}

const total = (cpu: CpuSeconds): number => cpu.gcs + cpu.raylet + cpu.rest;

/**
 * What the head's process group has used so far. A member's own time plus the time of its children that ended and were
 * waited for, so processes that came and went inside the window are counted by their parent.
 */
function groupCpu(pgid: number): CpuSeconds {
  const cpu: CpuSeconds = { gcs: 0, raylet: 0, rest: 0 };
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const comm = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== pgid) continue;
    const seconds = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index]), 0) / TICKS_PER_SECOND;
    if (comm === 'gcs_server') cpu.gcs += seconds;
    else if (comm === 'raylet') cpu.raylet += seconds;
    else cpu.rest += seconds;
  }
  return cpu;
}

function minus(after: CpuSeconds, before: CpuSeconds): CpuSeconds {
  return { gcs: after.gcs - before.gcs, raylet: after.raylet - before.raylet, rest: after.rest - before.rest };
}

function gcsRssMiB(pgid: number): number {
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && text.includes('(gcs_server)')) return (Number(fields[21]) * PAGE_BYTES) / 2 ** 20;
    } catch {
      continue;
    }
  }
  throw new Error(`no gcs_server in the head's process group ${pgid}`);
}

async function bytesOnDisk(dir: string): Promise<number> {
  const du = await execa('du', ['-sb', dir], { reject: false });
  return du.exitCode === 0 ? Number(du.stdout.split('\t')[0]) : 0;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

async function measure(dir: string, home: string, python: string, variant: Variant, round: number): Promise<Sample> {
  const name = `bft-${variant}-${round}`;
  const [gcsPort, dashboardPort, clientPort] = await findFreePorts(3);
  const specPath = path.join(dir, `${name}.yaml`);
  await writeFile(
    specPath,
    [
      `name: ${name}`,
      `head: { cpus: 0, objectStoreMemory: 100MB, gcsPort: ${gcsPort}, dashboardPort: ${dashboardPort}, clientPort: ${clientPort}${variant === 'on' ? ', faultTolerance: true' : ''} }`,
      'workerGroups:',
      '  - { name: worker, cpus: 1, objectStoreMemory: 100MB, min: 2, max: 2 }',
      // Only the head is measured: nothing else of rayfleet's runs beside it.
      'watcher: { enabled: false }',
      'dashboard: { enabled: false }',
    ].join('\n'),
  );
  const cli = async (args: string[]): Promise<string> => {
    const result = await execa(process.execPath, [BIN, ...args, '--config', specPath], { cwd: dir, env: { RAYFLEET_HOME: home }, reject: false });
    if (result.exitCode !== 0) throw new Error(`rayfleet ${args.join(' ')} (${name}) exited ${result.exitCode}: ${result.stderr}`);
    return result.stdout;
  };
  const startedAt = Date.now();
  await cli(['up']);
  const upS = (Date.now() - startedAt) / 1000;
  const store = path.join(home, 'clusters', name, 'gcs-store');
  try {
    const events = JSON.parse(await cli(['events', '--json'])) as JournalEvent[];
    const registered = events.find((event) => event.type === 'registered' && nodeOf(event) === `${name}-head`);
    if (registered === undefined) throw new Error(`no registered event for ${name}-head`);
    const headRegisteredS = (Date.parse(registered.time) - startedAt) / 1000;
    const status = JSON.parse(await cli(['status', '--json'])) as ClusterStatus;
    const pgid = Number(status.nodes.find((node) => node.role === 'head')?.providerId);
    const env = JSON.parse(await cli(['env', '--json'])) as Record<string, string>;

    const idleStart = groupCpu(pgid);
    // The window is the measurement: nothing touches the cluster for its length.
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idle = minus(groupCpu(pgid), idleStart);

    const workloadStart = groupCpu(pgid);
    const workloadStartedAt = Date.now();
    const driver = await execa(python, [DRIVER], { env: { ...process.env, ...env }, reject: false });
    // Ray forwards its workers' and raylets' log lines to the driver's stdout too: the result is the line that says so.
    if (driver.exitCode !== 0 || !driver.stdout.split('\n').includes('RESULT 1')) throw new Error(`the workload failed on ${name} (exit ${driver.exitCode}): ${driver.stdout.slice(-1000)}\n${driver.stderr.slice(-2000)}`);
    const workloadWallS = (Date.now() - workloadStartedAt) / 1000;
    const workload = minus(groupCpu(pgid), workloadStart);
    if (variant === 'on' && (await bytesOnDisk(store)) === 0) throw new Error(`${name} runs with fault tolerance but has no store at ${store}`);
    return { headRegisteredS, upS, idle, workload, workloadWallS, gcsRssMiB: gcsRssMiB(pgid), storeBytes: await bytesOnDisk(store), storeGone: false };
  } finally {
    await cli(['down']);
  }
}

const python = (await ensureRuntime({ rayVersion: DEFAULT_RAY_VERSION, onProgress: (line) => process.stderr.write(`${line}\n`) })).python;
const dir = await mkdtemp(path.join(os.tmpdir(), 'rf-bench-ft-'));
// Clusters of this bench only, removed at the end.
const home = path.join(dir, 'home');
const samples: Record<Variant, Sample[]> = { off: [], on: [] };
try {
  for (let round = 1; round <= ROUNDS; round += 1) {
    // Alternating which goes first, so a machine that warms up or slows down during the run weighs on both alike.
    const order: Variant[] = round % 2 === 1 ? ['off', 'on'] : ['on', 'off'];
    for (const variant of order) {
      const sample = await measure(dir, home, python, variant, round);
      sample.storeGone = (await bytesOnDisk(path.join(home, 'clusters', `bft-${variant}-${round}`, 'gcs-store'))) === 0;
      samples[variant].push(sample);
      process.stderr.write(`round ${round} ${variant}: ${JSON.stringify(sample)}\n`);
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const metrics: Array<[string, (sample: Sample) => number, number]> = [
  ['up: head registered (s)', (sample) => sample.headRegisteredS, 2],
  ['up: whole cluster (s)', (sample) => sample.upS, 2],
  [`idle ${IDLE_MS / 1000} s: head CPU s, all`, (sample) => total(sample.idle), 2],
  ['  gcs_server', (sample) => sample.idle.gcs, 2],
  ['  raylet', (sample) => sample.idle.raylet, 2],
  ['  the rest', (sample) => sample.idle.rest, 2],
  ['workload: head CPU s, all', (sample) => total(sample.workload), 2],
  ['  gcs_server', (sample) => sample.workload.gcs, 2],
  ['  raylet', (sample) => sample.workload.raylet, 2],
  ['  the rest', (sample) => sample.workload.rest, 2],
  ['workload: wall s', (sample) => sample.workloadWallS, 2],
  ['gcs_server resident at the end (MiB)', (sample) => sample.gcsRssMiB, 0],
  ['store on disk at the end (KiB)', (sample) => sample.storeBytes / 1024, 0],
];
const rows = metrics.map(([label, of, digits]) => {
  const off = median(samples.off.map(of));
  const on = median(samples.on.map(of));
  return [label, off.toFixed(digits), on.toFixed(digits), off === 0 ? '-' : (on / off).toFixed(2)];
});
console.log(`median of ${ROUNDS} round(s) on ${os.cpus().length} cores, Ray ${DEFAULT_RAY_VERSION}; head + 2 one-CPU workers, local`);
console.log(formatTable(['', 'without', 'with faultTolerance', 'with / without'], rows));
console.log(`store removed by down: ${samples.on.every((sample) => sample.storeGone) ? 'every round' : 'NOT in every round'}`);
