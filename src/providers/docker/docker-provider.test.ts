import { describe, expect, it } from 'vitest';
import { rayfleetErrorOf } from '../../../test/support/caught.js';
import { DockerEngine } from './docker-engine.js';
import { DockerProvider, stateOf } from './docker-provider.js';

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
