// Benchmark: `up` with 2 and 4 workers against one plain `ray start` of one worker, measured in the same run.
// Workers start in parallel, so their phase of `up` should cost about one worker start, not N.
// Docker rows: `up` of the same clusters as containers, against the same on local processes (needs a Docker Engine;
// the image is BENCH_DOCKER_IMAGE, else the test image, built locally when missing).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { Fleet } from '../src/fleet/fleet.js';
import { DockerEngine } from '../src/providers/docker/docker-engine.js';
import { ensureTestRayImage } from '../test/support/docker.js';
import { formatTable } from '../src/cli/format-table.js';
import { findFreePort } from '../src/net/ports.js';
import { stopProcessGroup } from '../src/process/process-group.js';
import { ensureRuntime } from '../src/ray/runtime.js';
import { loadSpec } from '../src/spec/load-spec.js';
import { DEFAULT_RAY_VERSION } from '../src/spec/schema.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

/** The Docker image of the Docker rows; unset = no Docker rows. */
let dockerImage: string | undefined;

async function specFile(dir: string, name: string, workers: number, provider = 'local'): Promise<string> {
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(
    file,
    [
      `name: ${name}`,
      provider === 'docker' ? `provider: { type: docker, image: ${dockerImage} }` : 'provider: { type: local }',
      `head: { cpus: 0, objectStoreMemory: 100MB, gcsPort: ${await findFreePort()}, dashboardPort: ${await findFreePort()}, clientPort: ${await findFreePort()}, servePort: ${await findFreePort()} }`,
      'workerGroups:',
      `  - { name: worker, cpus: 1, objectStoreMemory: 100MB, min: ${workers}, max: ${Math.max(workers, 1)} }`,
      'watcher: { enabled: false }',
    ].join('\n'),
  );
  return file;
}

async function openFleet(dir: string, name: string, workers: number, provider = 'local'): Promise<Fleet> {
  const { spec } = await loadSpec({ configPath: await specFile(dir, name, workers, provider), env: {} });
  return Fleet.open({ spec });
}

/** Seconds `up` takes for head + N workers. */
async function timeUp(dir: string, name: string, workers: number, provider = 'local'): Promise<number> {
  const fleet = await openFleet(dir, name, workers, provider);
  const started = performance.now();
  await fleet.up();
  const seconds = (performance.now() - started) / 1000;
  await fleet.down();
  fleet.close();
  return seconds;
}

/** Seconds one plain `ray start` (without --block, which returns once the raylet registered) takes to join a running head. */
async function timeRayStart(dir: string, name: string): Promise<number> {
  const fleet = await openFleet(dir, name, 0);
  await fleet.up();
  const env = { ...process.env, ...(await fleet.connectionEnv()), RAY_CLOUD_INSTANCE_ID: `${name}-plain`, RAY_NODE_TYPE_NAME: 'worker' };
  const runtime = await ensureRuntime({ rayVersion: DEFAULT_RAY_VERSION });
  const started = performance.now();
  const child = execa(
    runtime.ray,
    ['start', `--address=${(await fleet.endpoints()).gcsAddress}`, '--node-ip-address=127.0.0.1', '--num-cpus=1', '--object-store-memory=100000000', `--dashboard-agent-listen-port=${await findFreePort()}`, '--min-worker-port=0', '--max-worker-port=0', '--disable-usage-stats'],
    { env, detached: true, stdio: 'ignore' },
  );
  await child;
  const seconds = (performance.now() - started) / 1000;
  // Its daemons stay in the group of the `ray start` that made them: stop exactly those.
  await stopProcessGroup({ pid: child.pid ?? 0, startTicks: undefined }, 30_000);
  await fleet.down();
  fleet.close();
  return seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

async function main(): Promise<void> {
  await ensureRuntime({ rayVersion: DEFAULT_RAY_VERSION, onProgress: (line) => process.stderr.write(`${line}\n`) });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rf-bench-'));
  process.env.RAYFLEET_HOME = path.join(dir, 'home');
  dockerImage = await dockerImageForBench();
  const samples = { rayStart: [] as number[], head: [] as number[], two: [] as number[], four: [] as number[], dockerHead: [] as number[], dockerTwo: [] as number[] };
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      process.stderr.write(`round ${round + 1}/${ROUNDS}\n`);
      samples.rayStart.push(await timeRayStart(dir, `bplain${round}`));
      samples.head.push(await timeUp(dir, `bhead${round}`, 0));
      samples.two.push(await timeUp(dir, `btwo${round}`, 2));
      samples.four.push(await timeUp(dir, `bfour${round}`, 4));
      if (dockerImage !== undefined) {
        samples.dockerHead.push(await timeUp(dir, `bdhead${round}`, 0, 'docker'));
        samples.dockerTwo.push(await timeUp(dir, `bdtwo${round}`, 2, 'docker'));
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const one = median(samples.rayStart);
  const head = median(samples.head);
  const row = (label: string, seconds: number, workers: number): string[] => [
    label,
    seconds.toFixed(2),
    workers === 0 ? '-' : (seconds - head).toFixed(2),
    workers === 0 ? '-' : ((seconds - head) / one).toFixed(2),
  ];
  process.stdout.write(`median of ${ROUNDS} round(s) on ${os.cpus().length} cores\n`);
  process.stdout.write(
    `${formatTable(
      ['case', 'seconds', 'worker phase s', 'worker phase / one ray start'],
      [['one plain `ray start` of a worker', one.toFixed(2), '-', '1.00'], row('rayfleet up: head only', head, 0), row('rayfleet up: head + 2', median(samples.two), 2), row('rayfleet up: head + 4', median(samples.four), 4)],
    )}\n`,
  );
  if (dockerImage === undefined) {
    process.stdout.write('\nno Docker rows: no Docker Engine answered (start one, see README)\n');
    return;
  }
  const local = { head, two: median(samples.two) };
  const docker = { head: median(samples.dockerHead), two: median(samples.dockerTwo) };
  process.stdout.write(`\nDocker (${dockerImage}) against local processes, same run\n`);
  process.stdout.write(
    `${formatTable(
      ['case', 'local s', 'docker s', 'docker / local'],
      [
        ['rayfleet up: head only', local.head.toFixed(2), docker.head.toFixed(2), (docker.head / local.head).toFixed(2)],
        ['rayfleet up: head + 2', local.two.toFixed(2), docker.two.toFixed(2), (docker.two / local.two).toFixed(2)],
      ],
    )}\n`,
  );
}

/** The image for the Docker rows, built if needed; undefined when there is no engine to run it. */
async function dockerImageForBench(): Promise<string | undefined> {
  try {
    await new DockerEngine().apiVersion();
  } catch {
    return undefined;
  }
  if (process.env.BENCH_DOCKER_IMAGE !== undefined) return process.env.BENCH_DOCKER_IMAGE;
  return ensureTestRayImage();
}

await main();
