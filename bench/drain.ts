// Benchmark: idle → stopped on real Ray. N idle workers picked by the watcher in one tick: from its first drain call to
// the last worker gone from the provider, and to the last `terminate` journaled. BENCH_DRAIN_SIZES (default "4,8"),
// BENCH_ROUNDS (default 2). Run it under the machine's Ray lock: `flock /tmp/rayfleet-ray.lock npx tsx bench/drain.ts`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { formatTable } from '../src/cli/format-table.js';
import { Fleet } from '../src/fleet/fleet.js';
import { findFreePorts } from '../src/net/ports.js';
import { loadSpec } from '../src/spec/load-spec.js';
import { pollUntil } from '../src/wait/poll-until.js';

const SIZES = (process.env.BENCH_DRAIN_SIZES ?? '4,8').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

async function openFleet(dir: string, name: string, workers: number): Promise<Fleet> {
  const [gcsPort, dashboardPort, clientPort] = await findFreePorts(3);
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(
    file,
    [
      `name: ${name}`,
      `head: { cpus: 0, objectStoreMemory: 100MB, gcsPort: ${gcsPort}, dashboardPort: ${dashboardPort}, clientPort: ${clientPort} }`,
      'workerGroups:',
      `  - { name: worker, cpus: 1, objectStoreMemory: 100MB, min: 0, max: ${workers} }`,
      // The watcher runs in this process (below), not in the background.
      'watcher: { enabled: false, interval: 250ms, idleTimeout: 1s }',
      'dashboard: { enabled: false }',
    ].join('\n'),
  );
  const { spec } = await loadSpec({ configPath: file, env: {} });
  return Fleet.open({ spec });
}

interface Timing {
  toGoneS: number;
  toLastTerminateS: number;
  drainSpreadS: number;
}

async function measure(dir: string, workers: number, round: number): Promise<Timing> {
  const fleet = await openFleet(dir, `bd${workers}r${round}`, workers);
  await fleet.up();
  try {
    await fleet.addWorkers({ count: workers });
    const stop = new AbortController();
    const watching = fleet.watcher.run(stop.signal);
    const gone = await pollUntil(async () => ((await fleet.status()).nodes.some((node) => node.role === 'worker') ? undefined : Date.now()), {
      timeoutMs: 180_000,
      intervalMs: 100,
      describe: () => `${workers} idle workers to be stopped`,
    });
    stop.abort();
    await watching;
    const { events } = await fleet.events();
    const times = (type: string) => events.filter((event) => event.type === type).map((event) => Date.parse(event.time));
    const drains = times('drain');
    const terminates = times('terminate');
    if (drains.length !== workers) throw new Error(`expected ${workers} drains, saw ${drains.length}`);
    const first = Math.min(...drains);
    return { toGoneS: (gone - first) / 1000, toLastTerminateS: (Math.max(...terminates) - first) / 1000, drainSpreadS: (Math.max(...drains) - first) / 1000 };
  } finally {
    await fleet.down();
    fleet.close();
  }
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'rf-bench-drain-'));
// Clusters of this bench only, removed at the end.
process.env.RAYFLEET_HOME = path.join(dir, 'home');
try {
  const rows: string[][] = [];
  for (const workers of SIZES) {
    for (let round = 1; round <= ROUNDS; round += 1) {
      const timing = await measure(dir, workers, round);
      rows.push([String(workers), String(round), timing.drainSpreadS.toFixed(2), timing.toLastTerminateS.toFixed(2), timing.toGoneS.toFixed(2)]);
      console.error(rows.at(-1)?.join(' '));
    }
  }
  console.log(formatTable(['idle workers', 'round', 'drain calls spread (s)', 'first drain → last terminate (s)', 'first drain → none listed (s)'], rows));
} finally {
  await rm(dir, { recursive: true, force: true });
}
