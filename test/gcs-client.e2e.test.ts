// Our proto subset and GCS client against the pinned Ray: node states, demand, gangs, auth, and draining.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRayfleetError } from '../src/errors.js';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import { GcsClient, type ClusterResourceState } from '../src/ray/gcs-client.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { createSandbox, writeTestSpec, type Sandbox } from './support/run-cli.js';

describe('the GCS client against a real Ray', () => {
  let sandbox: Sandbox;
  let spec: string;
  let gcs: GcsClient;
  let env: Record<string, string>;
  const drivers: ResultPromise[] = [];
  const cli = (args: string[]): string[] => [...args, '--config', spec];

  /** A Ray driver left running in the background, so its demand stays pending while the test looks. */
  async function startDriver(name: string, body: string[]): Promise<void> {
    const script = path.join(sandbox.dir, `${name}.py`);
    await writeFile(script, ['import ray, time', 'ray.init()', ...body, 'time.sleep(600)'].join('\n'));
    drivers.push(execa(process.env.RAYFLEET_TEST_PYTHON ?? 'python3', [script], { env, reject: false }));
  }

  async function stateWhere(check: (state: ClusterResourceState) => boolean, what: string): Promise<ClusterResourceState> {
    return pollUntil(
      async () => {
        const state = await gcs.getClusterResourceState();
        return check(state) ? state : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, describe: () => what },
    );
  }

  beforeAll(async () => {
    sandbox = await createSandbox();
    spec = await writeTestSpec(sandbox, 'gcs.yaml', { name: 'rfgcs', workers: 2 });
    const up = await sandbox.run(cli(['up']));
    if (up.exitCode !== 0) throw new Error(`up failed: ${up.stderr}`);
    env = await sandbox.json<Record<string, string>>(cli(['env']));
    const token = (await readFile(env.RAY_AUTH_TOKEN_PATH ?? '', 'utf8')).trim();
    gcs = new GcsClient({ address: env.RAY_ADDRESS ?? '', authToken: token });
  });

  afterAll(async () => {
    for (const driver of drivers) driver.kill('SIGKILL');
    gcs?.close();
    await sandbox.run(cli(['down']));
  });

  it('decodes node states with the instance id and node type rayfleet set', async () => {
    const state = await gcs.getClusterResourceState();
    expect(state.version).toBeGreaterThan(0);
    const alive = state.nodeStates.filter((node) => node.status !== 'DEAD');
    expect(alive.map((node) => node.instanceId).sort()).toEqual(['rfgcs-head', 'rfgcs-worker-1', 'rfgcs-worker-2']);
    const worker = alive.find((node) => node.instanceId === 'rfgcs-worker-1');
    expect(worker).toMatchObject({ nodeTypeName: 'worker', totalResources: expect.objectContaining({ CPU: 1 }) });
    expect(worker?.nodeId).toMatch(/^[0-9a-f]{56}$/);
    expect(alive.find((node) => node.instanceId === 'rfgcs-head')?.nodeTypeName).toBe('head');
  });

  it('refuses a call without the token, saying so', async () => {
    const anonymous = new GcsClient({ address: env.RAY_ADDRESS ?? '' });
    try {
      await expect(anonymous.getClusterResourceState()).rejects.toSatisfy(
        (error: unknown) => isRayfleetError(error, 'RAY_REQUEST_FAILED') && /auth token is missing or wrong/.test(error.message),
      );
    } finally {
      anonymous.close();
    }
  });

  it('says RAY_UNREACHABLE when nothing listens', async () => {
    const nowhere = new GcsClient({ address: '127.0.0.1:1' });
    try {
      await expect(nowhere.getClusterResourceState({ deadlineMs: 2000 })).rejects.toSatisfy((error: unknown) => isRayfleetError(error, 'RAY_UNREACHABLE'));
    } finally {
      nowhere.close();
    }
  });

  it('shows tasks waiting for a shape no node has as pending demand', async () => {
    await startDriver('big', ['@ray.remote(num_cpus=2)', 'def big(): return 1', 'refs = [big.remote() for _ in range(3)]']);
    const state = await stateWhere((candidate) => candidate.pendingRequests.some((request) => request.shape.CPU === 2), 'a pending {CPU: 2} request');
    const request = state.pendingRequests.find((candidate) => candidate.shape.CPU === 2);
    expect(request?.count).toBeGreaterThanOrEqual(1);
  });

  it('shows an unplaceable STRICT_SPREAD placement group as a gang with anti-affinity', async () => {
    await startDriver('spread', [
      'from ray.util.placement_group import placement_group',
      'pg = placement_group([{"CPU": 1}] * 3, strategy="STRICT_SPREAD")',
    ]);
    const state = await stateWhere((candidate) => candidate.pendingGangs.length > 0, 'a pending gang');
    const gang = state.pendingGangs[0];
    expect(gang?.bundles.length).toBe(3);
    expect(gang?.bundles.every((bundle) => bundle.shape.CPU === 1)).toBe(true);
    expect(gang?.bundles[0]?.constraints.some((constraint) => constraint.antiAffinity?.label.startsWith('_PG_'))).toBe(true);
  });

  it('has a busy worker refuse an idle drain, and an idle one accept it and leave', async () => {
    for (const driver of drivers.splice(0)) driver.kill('SIGKILL');
    await startDriver('busy', ['@ray.remote(num_cpus=1)', 'def hold(): time.sleep(600)', 'ref = hold.remote()']);
    const busyState = await stateWhere(
      (state) => state.nodeStates.some((node) => node.status !== 'DEAD' && node.instanceId.startsWith('rfgcs-worker') && (node.availableResources.CPU ?? 0) === 0),
      'a worker running the held task',
    );
    const busy = busyState.nodeStates.find((node) => node.status !== 'DEAD' && node.instanceId.startsWith('rfgcs-worker') && (node.availableResources.CPU ?? 0) === 0);
    const rejected = await gcs.drainNode(busy?.nodeId ?? '', 'IDLE_TERMINATION', 'test: busy');
    expect(rejected.accepted).toBe(false);
    expect(rejected.rejectionReason).not.toBe('');

    const refused = await sandbox.run(cli(['remove-worker', busy?.instanceId ?? '']));
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('NODE_BUSY');

    const idleName = busy?.instanceId === 'rfgcs-worker-1' ? 'rfgcs-worker-2' : 'rfgcs-worker-1';
    const idle = (await stateWhere((state) => state.nodeStates.some((node) => node.instanceId === idleName && node.status === 'IDLE'), `${idleName} idle`)).nodeStates.find(
      (node) => node.instanceId === idleName && node.status !== 'DEAD',
    );
    const accepted = await gcs.drainNode(idle?.nodeId ?? '', 'IDLE_TERMINATION', 'test: idle');
    expect(accepted).toEqual({ accepted: true, rejectionReason: '' });
    await stateWhere((state) => state.nodeStates.some((node) => node.nodeId === idle?.nodeId && node.status === 'DEAD'), `${idleName} dead after its drain`);

    const forced = await sandbox.run(cli(['remove-worker', busy?.instanceId ?? '', '--force']));
    expect(forced.exitCode, forced.stderr).toBe(0);
    const status = await sandbox.json<ClusterStatus>(cli(['status']));
    expect(status.nodes.map((node) => node.name)).not.toContain(busy?.instanceId);
  });
});
