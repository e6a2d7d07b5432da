// Our proto subset, GCS client and dashboard client against the pinned Ray, started here with `ray start` itself:
// node states, demand, constraints, autoscaling reports, token auth, and drains.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRayfleetError } from '../src/errors.js';
import { findFreePorts } from '../src/net/ports.js';
import { isLeaderAlive, startProcessGroup, stopProcessGroup, type ProcessHandle } from '../src/process/process-group.js';
import { rayAuthEnv, readOrCreateAuthToken } from '../src/ray/auth-token.js';
import { DashboardClient } from '../src/ray/dashboard-client.js';
import { GcsClient, type ClusterResourceState, type RayNodeState } from '../src/ray/gcs-client.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { driverFile } from './support/drivers.js';

const PYTHON = process.env.RAYFLEET_TEST_PYTHON ?? '/root/.cache/rayfleet-probe/venv/bin/python';
const RAY = path.join(path.dirname(PYTHON), 'ray');
const HEAD = 'rfgcs-head';
const WORKER = 'rfgcs-worker-1';
/** Long enough for a cold `ray start` on a loaded 2-core machine (a head takes 12-15 s there). */
const START_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 10_000;

describe('the GCS and dashboard clients against a real Ray', () => {
  let dir: string;
  let tokenPath: string;
  let token: string;
  let gcsAddress: string;
  let dashboardUrl: string;
  let gcs: GcsClient;
  let head: ProcessHandle | undefined;
  let worker: ProcessHandle | undefined;
  const drivers: ProcessHandle[] = [];

  function logTail(name: string): string {
    const file = path.join(dir, `${name}.log`);
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') : '(no log)';
  }

  async function startNode(name: string, nodeType: string, args: string[]): Promise<ProcessHandle> {
    return startProcessGroup({
      command: RAY,
      args: [
        'start',
        '--block',
        '--disable-usage-stats',
        `--temp-dir=${path.join(dir, name)}`,
        // 0: each node's agent takes a free port; the fixed default would collide between nodes on one host.
        '--dashboard-agent-listen-port=0',
        '--min-worker-port=0',
        '--max-worker-port=0',
        '--object-store-memory=100000000',
        ...args,
      ],
      env: { ...process.env, ...rayAuthEnv(tokenPath), RAY_CLOUD_INSTANCE_ID: name, RAY_NODE_TYPE_NAME: nodeType },
      logPath: path.join(dir, `${name}.log`),
    });
  }

  /** A Ray driver left running in the background, so its tasks hold resources and its demand stays pending. */
  async function startDriver(name: string): Promise<ProcessHandle> {
    const driver = await startProcessGroup({ command: PYTHON, args: [driverFile(`${name}.py`), gcsAddress], env: { ...process.env, ...rayAuthEnv(tokenPath) }, logPath: path.join(dir, `${name}.log`) });
    drivers.push(driver);
    return driver;
  }

  /** `what` may be a function, so a log tail in it is read when the wait fails, not when it starts. */
  async function stateWhere(check: (state: ClusterResourceState) => boolean, what: string | (() => string), timeoutMs = 60_000): Promise<ClusterResourceState> {
    return pollUntil(
      async () => {
        const state = await gcs.getClusterResourceState();
        return check(state) ? state : undefined;
      },
      { timeoutMs, intervalMs: 300, describe: typeof what === 'string' ? () => what : what },
    );
  }

  function alive(state: ClusterResourceState, instanceId: string): RayNodeState | undefined {
    return state.nodeStates.find((node) => node.instanceId === instanceId && node.status !== 'DEAD');
  }

  beforeAll(async () => {
    dir = await mkdtemp('/tmp/rfgcs-');
    tokenPath = path.join(dir, 'auth_token');
    token = await readOrCreateAuthToken(tokenPath);
    const [gcsPort, dashboardPort, clientPort] = await findFreePorts(3);
    gcsAddress = `127.0.0.1:${gcsPort}`;
    dashboardUrl = `http://127.0.0.1:${dashboardPort}`;
    gcs = new GcsClient({ address: gcsAddress, authToken: token });

    head = await startNode(HEAD, 'head', ['--head', `--port=${gcsPort}`, `--dashboard-port=${dashboardPort}`, `--ray-client-server-port=${clientPort}`, '--num-cpus=0']);
    await pollUntil(async () => (alive(await gcs.getClusterResourceState(), HEAD) === undefined ? undefined : true), {
      timeoutMs: START_TIMEOUT_MS,
      intervalMs: 500,
      describe: () => `the head to register in the GCS; its log ends:\n${logTail(HEAD)}`,
    });
    worker = await startNode(WORKER, 'worker', [`--address=${gcsAddress}`, '--num-cpus=1', '--include-log-monitor=false']);
    await stateWhere((state) => alive(state, WORKER) !== undefined, () => `${WORKER} to register in the GCS; its log ends:\n${logTail(WORKER)}`, START_TIMEOUT_MS);
  });

  afterAll(async () => {
    // Workers before the head: a node whose GCS is gone spends its whole shutdown drain (30 s) trying to reach it.
    for (const handle of [...drivers, worker, head]) {
      if (handle !== undefined) await stopProcessGroup(handle, STOP_GRACE_MS).catch(() => undefined);
    }
    gcs?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('decodes node states with the instance id and node type from the environment', async () => {
    const state = await gcs.getClusterResourceState();
    expect(state.version).toBeGreaterThan(0);
    expect(state.sessionName).toMatch(/^session_/);
    const workerNode = alive(state, WORKER);
    expect(workerNode).toMatchObject({ nodeTypeName: 'worker', totalResources: expect.objectContaining({ CPU: 1 }) });
    expect(workerNode?.nodeId).toMatch(/^[0-9a-f]{56}$/);
    expect(workerNode?.ipAddress).not.toBe('');
    expect(['IDLE', 'RUNNING']).toContain(workerNode?.status);
    expect(workerNode?.labels['ray.io/node-id']).toBe(workerNode?.nodeId);
    const headNode = alive(state, HEAD);
    expect(headNode?.nodeTypeName).toBe('head');
    expect(headNode?.totalResources.CPU ?? 0).toBe(0);
  });

  it('is refused without the token or with a wrong one, saying so', async () => {
    for (const authToken of [undefined, 'not-the-token']) {
      const stranger = new GcsClient({ address: gcsAddress, authToken });
      try {
        const error = await stranger.getClusterResourceState().catch((caught: unknown) => caught);
        expect(isRayfleetError(error, 'RAY_REQUEST_FAILED') && error.message).toMatch(/auth token is missing or wrong/);
        expect((error as Error).message).not.toContain(token);
      } finally {
        stranger.close();
      }
    }
  });

  it('reads the dashboard with the token, and is refused without it', async () => {
    const dashboard = new DashboardClient({ baseUrl: dashboardUrl, authToken: token });
    expect((await dashboard.waitUntilUp(START_TIMEOUT_MS)).ray_version).toBe('2.60.0');
    // Its fields stay null until Ray's monitor first writes them, so only the envelope is certain here.
    const status = (await dashboard.clusterStatus()) as { result: boolean; data: Record<string, unknown> };
    expect(status.result).toBe(true);
    expect(Object.keys(status.data)).toEqual(expect.arrayContaining(['autoscalingStatus', 'autoscalingError', 'clusterStatus']));
    expect(await dashboard.nodes()).toMatchObject({ result: true, data: { summary: expect.any(Array) } });
    await expect(new DashboardClient({ baseUrl: dashboardUrl }).version()).rejects.toThrow(/answered 401 .*auth token is missing/);
  });

  it('sets and clears a resource constraint, as request_resources() does', async () => {
    await gcs.requestClusterResourceConstraint([{ shape: { CPU: 4 }, count: 2 }]);
    const state = await stateWhere((candidate) => candidate.constraints.length > 0, 'the constraint to show');
    expect(state.constraints).toEqual([[{ shape: { CPU: 4 }, constraints: [], count: 2 }]]);
    await gcs.requestClusterResourceConstraint([]);
    await stateWhere((candidate) => candidate.constraints.every((constraint) => constraint.length === 0), 'the constraint to clear');
  });

  it('shows demand no node can hold: tasks by shape, a placement group as a gang', async () => {
    await startDriver('pending-demand');
    const state = await stateWhere(
      (candidate) => candidate.pendingRequests.some((request) => request.shape.CPU === 2) && candidate.pendingGangs.length > 0,
      () => `pending {CPU: 2} demand and a pending gang; the driver's log ends:\n${logTail('pending-demand')}`,
    );
    expect(state.pendingRequests.find((request) => request.shape.CPU === 2)?.count).toBeGreaterThanOrEqual(1);
    const gang = state.pendingGangs[0];
    expect(gang?.bundles.map((bundle) => bundle.shape)).toEqual([{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }]);
    // STRICT_SPREAD: every bundle keeps away from the group's own label.
    expect(gang?.bundles.every((bundle) => bundle.constraints.some((constraint) => constraint.antiAffinity?.label.startsWith('_PG_')))).toBe(true);
  });

  it('has a busy worker refuse an idle drain', async () => {
    const state = await stateWhere((candidate) => (alive(candidate, WORKER)?.availableResources.CPU ?? 0) === 0, `${WORKER} running the held task`);
    const busy = alive(state, WORKER);
    expect(busy?.status).toBe('RUNNING');
    expect(busy?.activity.length).toBeGreaterThan(0);
    const refused = await gcs.drainNode(busy?.nodeId ?? '', 'IDLE_TERMINATION', 'rayfleet e2e: busy');
    expect(refused.accepted).toBe(false);
    expect(refused.rejectionReason).not.toBe('');
  });

  it('has an idle worker accept the drain and die, leaving its ray start process to be stopped', async () => {
    for (const driver of drivers.splice(0)) await stopProcessGroup(driver, 0);
    const state = await stateWhere((candidate) => alive(candidate, WORKER)?.status === 'IDLE', `${WORKER} idle once the driver is gone`);
    const idle = alive(state, WORKER);
    expect(await gcs.drainNode(idle?.nodeId ?? '', 'IDLE_TERMINATION', 'rayfleet e2e: idle')).toEqual({ accepted: true, rejectionReason: '' });
    await stateWhere((candidate) => candidate.nodeStates.some((node) => node.nodeId === idle?.nodeId && node.status === 'DEAD'), `${WORKER} dead after its drain`, 30_000);
    // Ray 2.60: the raylet exits 0 after the drain, which `ray start --block` does not count as a failure, so it keeps waiting.
    expect(worker !== undefined && isLeaderAlive(worker)).toBe(true);
    if (worker !== undefined) await stopProcessGroup(worker, STOP_GRACE_MS);
    worker = undefined;
  });
});
