// CaiProvider against the CML API emulator under faults: creates that failed after taking effect, applications slow
// to start (on a virtual clock), lists without environments, and the token it leaves in the project.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rayfleetErrorOf } from '../../../test/support/caught.js';
import { PYTHON_RUNTIME, emulatedWorkspace, type EmulatedWorkspace } from '../../../test/cml-emulator/workspace-fixture.js';
import { VirtualClock } from '../../time/virtual-clock.js';
import type { LaunchRequest } from '../node-provider.js';
import { PartialListError } from '../partial-list-error.js';
import { CaiProvider } from './cai-provider.js';
import { LAUNCHER_SCRIPT, headAddressFile, projectRecordFile, projectTokenFile } from './project-layout.js';

const CLUSTER = 'cp';
/** A launcher that never serves CDSW_APP_PORT: its application stays STARTING. */
const NEVER_SERVES = 'import time\ntime.sleep(600)\n';

let workspace: EmulatedWorkspace;
let clock: VirtualClock;
let provider: CaiProvider;
let scratch: string;
let projectDirectory: string;

function request(name: string, overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  const index = Number(/-(\d+)$/.exec(name)?.[1] ?? 0);
  return {
    name,
    role: index === 0 ? 'head' : 'worker',
    group: index === 0 ? 'head' : 'worker',
    index,
    resources: { cpus: 1, gpus: 0, custom: {} },
    env: { RAY_CLOUD_INSTANCE_ID: name, RAY_NODE_TYPE_NAME: index === 0 ? 'head' : 'worker' },
    ...overrides,
  };
}

function stored(name: string): Array<{ id: string; status: string }> {
  return [...workspace.emulator.store.applications.values()].filter((application) => application.name === name).map(({ id, status }) => ({ id, status }));
}

function requestsTo(method: string, path: RegExp): number {
  return workspace.emulator.requests.filter((seen) => seen.method === method && path.test(seen.path)).length;
}

beforeAll(async () => {
  clock = new VirtualClock({ startMs: Date.UTC(2026, 5, 1) });
  workspace = await emulatedWorkspace({ clock });
  const client = workspace.client();
  await client.uploadFile(workspace.projectId, LAUNCHER_SCRIPT, NEVER_SERVES);
  projectDirectory = workspace.emulator.store.projects.get(workspace.projectId)?.directory ?? '';
  scratch = mkdtempSync(join(tmpdir(), 'cai-provider-test-'));
  provider = new CaiProvider(providerOptions());
});

afterAll(async () => {
  await workspace.close();
  rmSync(scratch, { recursive: true, force: true });
});

beforeEach(() => {
  workspace.emulator.setFaults({});
  workspace.emulator.requests.length = 0;
});

// Each case starts from a project without nodes.
afterEach(async () => {
  workspace.emulator.setFaults({});
  for (const instance of await provider.list()) await provider.terminate(instance.name);
});

describe('CaiProvider under faults', () => {
  it('makes one application when the create answered 500 after it took effect', async () => {
    workspace.emulator.setFaults({ rules: [{ kind: 'status', status: 500, afterEffect: true, method: 'POST', path: /\/applications$/ }] });
    const launched = await provider.launch(request(`${CLUSTER}-worker-1`));
    expect(workspace.emulator.requests.find((seen) => seen.method === 'POST' && seen.path.endsWith('/applications'))?.fault).toBe('status 500 after effect');
    expect(stored(`${CLUSTER}-worker-1`).map((application) => application.id)).toEqual([launched.providerId]);
    expect(requestsTo('POST', /\/applications$/)).toBe(1);
    expect((await provider.list()).map((instance) => instance.name)).toEqual([`${CLUSTER}-worker-1`]);
  });

  it('keeps an application STARTING for 5 minutes: listed as starting, its age from CML, not deleted, not made again', async () => {
    const name = `${CLUSTER}-worker-2`;
    const launched = await provider.launch(request(name));
    const launchedAt = clock.now();
    await clock.advance(5 * 60_000);
    const [listed] = await provider.list();
    expect(listed).toMatchObject({ name, state: 'starting', providerId: launched.providerId });
    // The age the watcher measures against its launch timeout is CML's own: 5 minutes, well inside cai's 15.
    expect(clock.now() - (listed?.createdAt.getTime() ?? 0)).toBe(5 * 60_000);
    expect(listed?.createdAt.getTime()).toBe(launchedAt);
    expect(provider.defaultLaunchTimeoutMs).toBe(15 * 60_000);
    // A launch of the same name (a restarted watcher, a second `up`) finds it and leaves it starting.
    expect((await provider.launch(request(name))).providerId).toBe(launched.providerId);
    expect(stored(name)).toEqual([{ id: launched.providerId, status: 'APPLICATION_STARTING' }]);
    expect(requestsTo('DELETE', /./)).toBe(0);
    expect(requestsTo('POST', /\/applications$/)).toBe(1);
  });

  it('fails the list, naming them, and launches nothing, when applications come without their environment', async () => {
    const name = `${CLUSTER}-worker-3`;
    await provider.launch(request(name));
    workspace.emulator.setFaults({ rules: [{ kind: 'omit-fields', fields: ['environment'], method: 'GET', path: /\/applications$/, times: Infinity }] });
    const error = await rayfleetErrorOf(() => provider.list());
    expect(error).toBeInstanceOf(PartialListError);
    expect(error.code).toBe('NODE_RECORD_UNREADABLE');
    expect((error as PartialListError).instances).toEqual([]);
    expect((error as PartialListError).unreadable.map((node) => node.name)).toEqual([name]);
    expect(error.details).toContain(`cannot tell whether it is a node of cluster ${CLUSTER}`);
    // Launching the name again must not take it for free: it would make a second node.
    expect((await rayfleetErrorOf(() => provider.launch(request(name)))).code).toBe('NODE_RECORD_UNREADABLE');
    expect(stored(name)).toHaveLength(1);
    workspace.emulator.setFaults({});
    expect((await provider.list()).map((instance) => instance.name)).toEqual([name]);

    // Someone else's application under a node's name, with no environment: named, while the cluster's own are listed.
    const stranger = await workspace.client().createApplication(workspace.projectId, { name: `${CLUSTER}-worker-9`, subdomain: 'stranger', script: LAUNCHER_SCRIPT, runtime_identifier: PYTHON_RUNTIME });
    const partial = (await rayfleetErrorOf(() => provider.list())) as PartialListError;
    expect(partial.instances.map((instance) => instance.name)).toEqual([name]);
    expect(partial.unreadable.map((node) => node.name)).toEqual([`${CLUSTER}-worker-9`]);
    await workspace.client().deleteApplication(workspace.projectId, stranger.id);
  });

  it("uploads the cluster's token with the head and removes it, the record and the head's address on cleanup", async () => {
    const token = join(scratch, 'auth_token');
    const record = join(scratch, 'cluster.json');
    writeFileSync(token, 'ray-token-1f2e3d\n');
    writeFileSync(record, '{}');
    const head = new CaiProvider({ ...providerOptions(), clusterRecordPath: record });
    await head.launch(request(`${CLUSTER}-head`, { env: { RAY_AUTH_TOKEN_PATH: token } }));
    const inProject = (path: string): boolean => existsSync(join(projectDirectory, path));
    expect(inProject(projectTokenFile(CLUSTER))).toBe(true);
    expect(inProject(projectRecordFile(CLUSTER))).toBe(true);
    mkdirSync(dirname(join(projectDirectory, headAddressFile(CLUSTER))), { recursive: true });
    writeFileSync(join(projectDirectory, headAddressFile(CLUSTER)), '127.0.0.1:6379');

    // A delete that fails is the command's failure, so `down` is run again rather than the token left behind unsaid.
    workspace.emulator.setFaults({ rules: [{ kind: 'status', status: 503, method: 'DELETE', times: Infinity }] });
    const failed = await rayfleetErrorOf(() => head.cleanup());
    expect(failed.message).toContain(`could not remove ${projectTokenFile(CLUSTER)}`);
    expect(inProject(projectTokenFile(CLUSTER))).toBe(true);
    workspace.emulator.setFaults({});
    await head.cleanup();
    expect([projectTokenFile(CLUSTER), projectRecordFile(CLUSTER), headAddressFile(CLUSTER)].filter(inProject)).toEqual([]);
    // Once more, with every file gone already: nothing left to do is not a failure.
    await head.cleanup();
  });
});

function providerOptions(): ConstructorParameters<typeof CaiProvider>[0] {
  return {
    client: workspace.client(),
    projectId: workspace.projectId,
    cluster: CLUSTER,
    runtimeIdentifier: PYTHON_RUNTIME,
    groupRuntimes: {},
    head: { gcsPort: 6379, dashboardPort: 8265, clientPort: 10001, servePort: 8000 },
    watcherNodeFlags: undefined,
    workspaceUrl: 'https://ml.example.com',
    deleteTimeoutMs: 10_000,
  };
}
