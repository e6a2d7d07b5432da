// Spike (issue 24): a local head with Ray 2.60's embedded GCS store (RAY_gcs_storage=rocksdb, the store in the cluster's
// state), two workers told to ride out a GCS restart (RAY_gcs_rpc_server_reconnect_timeout_s), the head SIGKILLed and
// started again on the same ports: do the workers keep their raylets and their Ray node ids? Also what the store costs a
// head (start time, disk). Run it under the machine's Ray lock: `flock /tmp/rayfleet-ray.lock npx tsx bench/head-restart-spike.ts`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { findFreePorts } from '../src/net/ports.js';
import { rayStartArgs } from '../src/providers/ray-start-args.js';
import { GcsClient, type RayNodeState } from '../src/ray/gcs-client.js';
import { ensureRuntime } from '../src/ray/runtime.js';
import { DEFAULT_RAY_VERSION } from '../src/spec/schema.js';
import { pollUntil } from '../src/wait/poll-until.js';

const RECONNECT_S = Number(process.env.SPIKE_RECONNECT_S ?? 120);
const WITH_STORE = process.env.SPIKE_STORE !== '0';
/** SPIKE_KILL=0: only what the store costs a head (start, the GCS's CPU and memory with two workers), no kill. */
const KILL = process.env.SPIKE_KILL !== '0';

const ray = (await ensureRuntime({ rayVersion: DEFAULT_RAY_VERSION })).ray;
const dir = await mkdtemp(path.join('/tmp', 'rfs-'));
const store = path.join(dir, 'gcs-store');
const [gcsPort, dashboardPort, clientPort, ...agentPorts] = (await findFreePorts(6)) as [number, number, number, ...number[]];
const agentPortOf: Record<string, number> = { head: agentPorts[0] ?? 0, w1: agentPorts[1] ?? 0, w2: agentPorts[2] ?? 0 };
const head = { gcsPort, dashboardPort, clientPort };
const nodes: ChildProcess[] = [];

function start(name: string, role: 'head' | 'worker', env: Record<string, string>): ChildProcess {
  const args = rayStartArgs(
    { name, role, group: role, index: 0, resources: { cpus: role === 'head' ? 0 : 1, gpus: 0, objectStoreMemoryBytes: 100 * 2 ** 20, custom: {} }, env: {} },
    { headHost: '127.0.0.1', head, dashboardHost: '127.0.0.1', sharedHost: { tempDir: path.join(dir, name), dashboardAgentPort: agentPortOf[name] ?? 0 } },
  );
  const log = createWriteStream(path.join(dir, `${name}.log`), { flags: 'a' });
  const child = spawn(ray, args, { detached: true, env: { ...process.env, ...env, RAY_AUTH_MODE: 'disabled', RAY_CLOUD_INSTANCE_ID: name, PATH: `${path.dirname(ray)}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  nodes.push(child);
  return child;
}

const headEnv: Record<string, string> = WITH_STORE ? { RAY_gcs_storage: 'rocksdb', RAY_gcs_storage_path: store } : {};
const workerEnv = { RAY_gcs_rpc_server_reconnect_timeout_s: String(RECONNECT_S) };
const gcs = new GcsClient({ address: `127.0.0.1:${gcsPort}` });

async function aliveNodes(): Promise<RayNodeState[]> {
  return (await gcs.getClusterResourceState({ deadlineMs: 2_000 })).nodeStates.filter((node) => node.status !== 'DEAD');
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> {
  return pollUntil(check, { timeoutMs, intervalMs: 250, describe: () => what });
}

function byName(states: RayNodeState[]): Record<string, string> {
  return Object.fromEntries(states.map((node) => [node.instanceId, node.nodeId.slice(0, 12)]));
}

/** The end of a run that measures only the cost. */
class Done extends Error {}

function gcsUsage(): string {
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'gcs_server' || !readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`${gcsPort}`)) continue;
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      const cpuS = (Number(fields[11]) + Number(fields[12])) / 100;
      const rssMiB = (Number(fields[21]) * 4096) / 2 ** 20;
      return `${cpuS.toFixed(2)} CPU s, ${rssMiB.toFixed(0)} MiB resident`;
    } catch {
      continue;
    }
  }
  return 'gcs_server not found';
}

try {
  let started = performance.now();
  let headProcess = start('head', 'head', headEnv);
  await waitFor('the head in Ray', async () => ((await aliveNodes().catch(() => [])).length === 1 ? true : undefined));
  console.log(`head up (store ${WITH_STORE ? 'rocksdb' : 'memory'}): ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const workers = [start('w1', 'worker', workerEnv), start('w2', 'worker', workerEnv)];
  const before = await waitFor('two workers in Ray', async () => {
    const alive = await aliveNodes().catch(() => []);
    return alive.length === 3 ? alive : undefined;
  });
  console.log('before:', byName(before));
  // What the GCS has used so far (the store's cost beside the same run without it): CPU seconds and resident memory.
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  console.log(`GCS after 10 s idle with two workers: ${gcsUsage()}`);
  if (!KILL) throw new Done();
  process.kill(-(headProcess.pid ?? 0), 'SIGKILL');
  const killedAt = performance.now();
  await new Promise((resolve) => headProcess.once('exit', resolve));
  // Ray's GCS children of the head get SIGKILL with their group; wait for the port to be free.
  await waitFor('the GCS port to be free', async () => ((await aliveNodes().then(() => false).catch(() => true)) ? true : undefined), 30_000);
  started = performance.now();
  headProcess = start('head', 'head', headEnv);
  const after = await waitFor('the restarted head and both workers alive in Ray', async () => {
    const alive = await aliveNodes().catch(() => []);
    return alive.length === 3 ? alive : undefined;
  }, RECONNECT_S * 1000 + 60_000);
  console.log(`head back with both workers: ${((performance.now() - started) / 1000).toFixed(1)} s after the restart, ${((performance.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
  console.log('after:', byName(after));
  const kept = ['w1', 'w2'].every((name) => byName(before)[name] === byName(after)[name]);
  console.log(`workers kept their node ids: ${kept}; worker processes alive: ${workers.map((worker) => worker.exitCode === null && worker.signalCode === null).join(', ')}`);
  if (WITH_STORE) {
    const files = await readdir(store, { recursive: true });
    let bytes = 0;
    for (const file of files) bytes += (await stat(path.join(store, file)).catch(() => undefined))?.size ?? 0;
    console.log(`store: ${files.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB`);
  }
} catch (error) {
  if (!(error instanceof Done)) throw error;
} finally {
  gcs.close();
  for (const node of nodes.reverse()) {
    try {
      process.kill(-(node.pid ?? 0), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  console.log(`logs and store kept in ${dir}`);
}
