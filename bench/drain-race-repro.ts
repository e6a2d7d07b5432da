// Tries to reproduce the GCS abort seen once in CI (issue 24: `pure virtual method called` in gcs_server right after
// drains of workers that were exiting): rounds of 4 idle workers, each drained with IDLE_TERMINATION in parallel and then
// drained again every 20 ms while its raylet exits, until Ray lists it DEAD (3 s at most). Bounded by REPRO_ROUNDS (default 12) and
// REPRO_MINUTES (default 6). After each round: is the head's GCS alive? The GCS log is copied out of the session in the end.
// Run it under the machine's Ray lock: `flock /tmp/rayfleet-ray.lock npx tsx bench/drain-race-repro.ts`.
import { cp, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Fleet } from '../src/fleet/fleet.js';
import { clusterPaths } from '../src/fleet/state-dir.js';
import { findFreePorts } from '../src/net/ports.js';
import { GcsClient } from '../src/ray/gcs-client.js';
import { loadSpec } from '../src/spec/load-spec.js';

const ROUNDS = Number(process.env.REPRO_ROUNDS ?? 12);
const MINUTES = Number(process.env.REPRO_MINUTES ?? 6);
const WORKERS = 4;

const dir = await mkdtemp(path.join(os.tmpdir(), 'rf-repro-'));
process.env.RAYFLEET_HOME = path.join(dir, 'home');
const [gcsPort, dashboardPort, clientPort] = await findFreePorts(3);
const file = path.join(dir, 'repro.yaml');
await writeFile(
  file,
  [
    'name: repro',
    `head: { cpus: 0, objectStoreMemory: 100MB, gcsPort: ${gcsPort}, dashboardPort: ${dashboardPort}, clientPort: ${clientPort} }`,
    'workerGroups:',
    `  - { name: worker, cpus: 1, objectStoreMemory: 100MB, min: 0, max: ${WORKERS} }`,
    'watcher: { enabled: false }',
    'dashboard: { enabled: false }',
  ].join('\n'),
);
const fleet = await Fleet.open({ spec: (await loadSpec({ configPath: file, env: {} })).spec });
await fleet.up();
const gcs = new GcsClient({ address: `127.0.0.1:${gcsPort}`, authToken: await fleet.authToken() });
const endAtMs = Date.now() + MINUTES * 60_000;
let crashed = false;
let rounds = 0;
let drainCalls = 0;
try {
  for (; rounds < ROUNDS && Date.now() < endAtMs && !crashed; rounds += 1) {
    await fleet.addWorkers({ count: WORKERS });
    const targets = (await gcs.getClusterResourceState()).nodeStates.filter((node) => node.status !== 'DEAD' && node.instanceId !== 'repro-head');
    // The old way: every drain at once; then again and again while each raylet exits after accepting.
    await Promise.all(
      targets.map(async (node) => {
        // Until Ray lists it DEAD (a node it stops listing while it exits is drained on), at most 3 s.
        for (let attempt = 0; attempt < 150; attempt += 1) {
          drainCalls += 1;
          await gcs.drainNode(node.nodeId, 'IDLE_TERMINATION', `repro round ${rounds}`).catch(() => undefined);
          const now = (await gcs.getClusterResourceState().catch(() => undefined))?.nodeStates.find((candidate) => candidate.nodeId === node.nodeId);
          if (now?.status === 'DEAD') return;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }),
    );
    crashed = await gcs.getClusterResourceState({ deadlineMs: 3_000 }).then(() => false, () => true);
    const workers = (await fleet.status()).nodes.filter((node) => node.role === 'worker');
    await Promise.all(workers.map((node) => fleet.removeWorker(node.name, { force: true }).catch(() => undefined)));
    console.error(`round ${rounds + 1}: ${targets.length} drained, ${drainCalls} drain calls so far, GCS ${crashed ? 'GONE' : 'alive'}`);
  }
} finally {
  gcs.close();
  const sessions = clusterPaths(path.join(process.env.RAYFLEET_HOME, 'clusters', 'repro')).rayTempDir;
  const kept = path.join(dir, 'gcs-logs');
  for (const node of await readdir(sessions).catch(() => [])) {
    await cp(path.join(sessions, node, 'session_latest', 'logs'), path.join(kept, node), { recursive: true }).catch(() => undefined);
  }
  await fleet.down().catch(() => undefined);
  fleet.close();
  const logs = await readdir(kept, { recursive: true }).catch(() => []);
  let skipLines = 0;
  let aborts = 0;
  for (const log of logs.filter((name) => /gcs_server\.(out|err)$/.test(name))) {
    const text = await readFile(path.join(kept, log), 'utf8');
    skipLines += text.split('\n').filter((line) => line.includes('Skip setting node to be draining')).length;
    aborts += text.split('\n').filter((line) => /pure virtual|SIGABRT|Aborted|\*\*\* SIG/.test(line)).length;
  }
  console.log(`rounds ${rounds}, drain calls ${drainCalls}, GCS crashed: ${crashed}; in the GCS log: ${skipLines} "Skip setting node to be draining", ${aborts} abort lines; logs kept in ${kept}`);
}
