import { describe, expect, it } from 'vitest';
import { rayfleetErrorOf } from '../../../test/support/caught.js';
import { DockerEngineStandIn } from '../../../test/support/docker-engine-stand-in.js';
import type { LaunchRequest } from '../node-provider.js';
import { DockerEngine } from './docker-engine.js';
import { CONTAINER_GCS_STORE_PATH, DockerProvider, stateOf } from './docker-provider.js';

const now = Date.now() / 1000;

describe('stateOf', () => {
  it.each([
    ['running', 'Up 3 seconds', now, 'running'],
    ['created', 'Created', now, 'starting'],
    ['created', 'Created', now - 3600, 'failed'],
    ['restarting', 'Restarting', now, 'starting'],
    ['removing', 'Removal In Progress', now, 'stopping'],
    ['exited', 'Exited (0) 2 seconds ago', now, 'stopped'],
    ['exited', 'Exited (137) 2 seconds ago', now, 'failed'],
    ['dead', 'Dead', now, 'failed'],
  ] as const)('%s (%s) is %s', (State, Status, Created, expected) => {
    expect(stateOf({ State, Status, Created })).toBe(expected);
  });
});

describe('DockerProvider.logs', () => {
  it('refuses a name no node of the cluster can have before asking the engine anything', async () => {
    // An engine nobody listens on: any request would fail DOCKER_UNREACHABLE, so NODE_NOT_FOUND proves none was made.
    const engine = new DockerEngine({ kind: 'unix', socketPath: '/nonexistent/docker.sock' });
    const head = { gcsPort: 6379, dashboardPort: 8265, clientPort: 10001, servePort: 8000 };
    const provider = new DockerProvider({ engine, cluster: 'ray', network: 'ray-cluster', image: 'ray:test', head, portOffset: 0 });
    for (const name of ['../../../../x', 'ray-worker-1/../../x', 'other-worker-1']) {
      const error = await rayfleetErrorOf(async () => {
        for await (const _line of provider.logs(name)) expect.unreachable();
      });
      expect(error.code).toBe('NODE_NOT_FOUND');
    }
    expect((await rayfleetErrorOf(async () => {
      for await (const _line of provider.logs('ray-worker-1')) expect.unreachable();
    })).code).toBe('DOCKER_UNREACHABLE');
  });
});

const HEAD_PORTS = { gcsPort: 6379, dashboardPort: 8265, clientPort: 10001, servePort: 8000 };
const HEAD_REQUEST: LaunchRequest = { name: 'ray-head', role: 'head', group: 'head', index: 0, resources: { cpus: 0, gpus: 0, custom: {} }, env: {} };

function providerOn(engine: DockerEngineStandIn, options: { headFaultTolerance?: boolean } = {}): DockerProvider {
  return new DockerProvider({ engine, cluster: 'ray', network: 'ray-cluster', image: 'ray:test', head: HEAD_PORTS, portOffset: 0, ...options });
}

describe('DockerProvider.restartHead', () => {
  it('starts the same container again once it is not running, whether it ended or was killed', async () => {
    for (const [status, exitCode] of [['exited', 137], ['exited', 1], ['exited', 0]] as const) {
      const engine = new DockerEngineStandIn();
      engine.addContainer('ray-head', { status, exitCode });
      const instance = await providerOn(engine).restartHead(HEAD_REQUEST);
      expect(instance?.state).toBe('running');
      // In place: neither removed nor made again, so its disk (the store) and its pinned address stay.
      expect(engine.calls).toEqual(['start ray-head-id']);
    }
  });

  it('leaves a head container that runs (its GCS may hang) or is starting, and resolves undefined', async () => {
    for (const status of ['running', 'paused', 'restarting']) {
      const engine = new DockerEngineStandIn();
      engine.addContainer('ray-head', { status });
      expect(await providerOn(engine).restartHead(HEAD_REQUEST)).toBeUndefined();
      expect(engine.calls).toEqual([]);
    }
    const launching = new DockerEngineStandIn();
    launching.addContainer('ray-head', { status: 'created', ageSeconds: 1 });
    expect(await providerOn(launching).restartHead(HEAD_REQUEST)).toBeUndefined();
  });

  it('keeps the container when the start fails, for the next attempt, and names a taken port', async () => {
    const engine = new DockerEngineStandIn();
    engine.addContainer('ray-head', { status: 'exited', exitCode: 137 });
    engine.startFailure = new Error('driver failed programming external connectivity: Bind for 0.0.0.0:8265 failed: port is already allocated');
    expect((await rayfleetErrorOf(() => providerOn(engine).restartHead(HEAD_REQUEST))).code).toBe('PORT_IN_USE');
    expect(engine.calls).toEqual(['start ray-head-id']);
    expect(engine.containers.has('ray-head')).toBe(true);
  });

  it("refuses another cluster's container of the head's name, and launches a head whose container is gone on its kept address", async () => {
    const engine = new DockerEngineStandIn();
    engine.addContainer('ray-head', { status: 'exited', exitCode: 137, cluster: 'other' });
    expect((await rayfleetErrorOf(() => providerOn(engine).restartHead(HEAD_REQUEST))).code).toBe('DOCKER_FAILED');
    expect(engine.calls).toEqual([]);

    const gone = new DockerEngineStandIn();
    gone.addNetwork('ray-cluster', { 'rayfleet.cluster': 'ray', 'rayfleet.head-address': '172.18.0.2' });
    const instance = await providerOn(gone).restartHead(HEAD_REQUEST);
    expect(gone.calls).toEqual(['create ray-head', 'start ray-head-id']);
    expect(instance?.address).toBe('172.18.0.2');
  });
});

describe('DockerProvider.gcsStore', () => {
  it("keeps the store in the head container's own disk, outside the Ray temp dir that logsDir mounts from the host", () => {
    const { path } = providerOn(new DockerEngineStandIn()).gcsStore();
    expect(path).toBe(CONTAINER_GCS_STORE_PATH);
    expect(path.startsWith('/tmp/ray/')).toBe(false);
  });

  it("clears by removing this cluster's head container that no longer runs; a running head, another cluster's, or none is left", async () => {
    const ended = new DockerEngineStandIn();
    ended.addContainer('ray-head', { status: 'exited', exitCode: 137 });
    await providerOn(ended).gcsStore().clear();
    expect(ended.calls).toEqual(['remove ray-head-id']);

    for (const container of [{ status: 'running' }, { status: 'exited', exitCode: 137, cluster: 'other' }] as const) {
      const engine = new DockerEngineStandIn();
      engine.addContainer('ray-head', container);
      await providerOn(engine).gcsStore().clear();
      expect(engine.calls).toEqual([]);
    }
    const none = new DockerEngineStandIn();
    await providerOn(none).gcsStore().clear();
    expect(none.calls).toEqual([]);
  });
});

describe('DockerProvider.launch of the head', () => {
  it('pins the head to the address its network keeps', async () => {
    const engine = new DockerEngineStandIn();
    const instance = await providerOn(engine, { headFaultTolerance: true }).launch(HEAD_REQUEST);
    expect(instance.address).toBe('172.18.0.2');
  });

  it("refuses fault tolerance on a network that keeps no address for the head, before it makes a container", async () => {
    const engine = new DockerEngineStandIn();
    engine.addNetwork('ray-cluster', {});
    const error = await rayfleetErrorOf(() => providerOn(engine, { headFaultTolerance: true }).launch(HEAD_REQUEST));
    expect(error.code).toBe('USAGE');
    expect(error.message).toContain('ray-cluster');
    expect(engine.calls).toEqual([]);
    // Without fault tolerance the head runs there, its address the engine's to choose.
    expect((await providerOn(engine).launch(HEAD_REQUEST)).state).toBe('running');
  });
});
