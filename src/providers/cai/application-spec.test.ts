import { describe, expect, it } from 'vitest';
import type { LaunchRequest } from '../node-provider.js';
import { applicationRequest, subdomainFor, type ApplicationContext } from './application-spec.js';
import { WATCHER_NODE_FLAGS } from '../../watcher/watcher-node-flags.js';

const context: ApplicationContext = {
  cluster: 'ray',
  projectId: 'a1b2-c3d4-e5f6-g7h8',
  runtimeIdentifier: 'docker.repository.cloudera.com/cloudera/cdsw/ml-runtime-pbj-jupyterlab-python3.11-standard:2025.09.1-b5',
  head: { gcsPort: 6379, dashboardPort: 8265, clientPort: 10001, servePort: 8000 },
  watcherNodeFlags: WATCHER_NODE_FLAGS,
};

function request(overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  return {
    name: 'ray-worker-1',
    role: 'worker',
    group: 'worker',
    index: 1,
    resources: { cpus: 2, gpus: 0, objectStoreMemoryBytes: 2 ** 30, custom: {} },
    env: { RAY_CLOUD_INSTANCE_ID: 'ray-worker-1', RAY_NODE_TYPE_NAME: 'worker', RAY_AUTH_MODE: 'token', RAY_AUTH_TOKEN_PATH: '/home/me/.local/share/rayfleet/clusters/ray/auth_token' },
    ...overrides,
  };
}

describe('subdomainFor', () => {
  it('is a DNS label of lowercase words joined by single dashes, unique per project', () => {
    const subdomain = subdomainFor('Ray_Worker--1', context.projectId);
    expect(subdomain).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    expect(subdomain.startsWith('ray-worker-1-')).toBe(true);
    expect(subdomainFor('ray-worker-1', 'other-project')).not.toBe(subdomainFor('ray-worker-1', context.projectId));
    expect(subdomainFor('x'.repeat(80), context.projectId).length).toBeLessThanOrEqual(63);
  });
});

describe('applicationRequest', () => {
  it('runs the launcher as the node, with the head address, its identity and resources in the environment', () => {
    const body = applicationRequest(request(), { ...context, headAddress: '10.254.1.7:6379' });
    expect(body).toMatchObject({ name: 'ray-worker-1', script: '.rayfleet/ray_launcher.py', cpu: 2, memory: 3, nvidia_gpu: 0, runtime_identifier: context.runtimeIdentifier });
    expect(body.environment).toMatchObject({
      RAY_HEAD_ADDRESS: '10.254.1.7:6379',
      RAY_CLOUD_INSTANCE_ID: 'ray-worker-1',
      RAY_NODE_TYPE_NAME: 'worker',
      RAYFLEET_ROLE: 'worker',
      RAYFLEET_CLUSTER: 'ray',
      RAYFLEET_NODE: 'ray-worker-1',
      // The project's copy of the token, relative to $HOME: the host's path means nothing in the pod.
      RAY_AUTH_TOKEN_PATH: '.rayfleet/home/clusters/ray/auth_token',
    });
    expect(JSON.parse(body.environment?.RAYFLEET_RAY_ARGS ?? '[]')).toEqual(['--num-cpus=2', '--num-gpus=0', `--object-store-memory=${2 ** 30}`]);
    expect(body.environment?.RAYFLEET_WATCHER).toBeUndefined();
    expect(body.environment?.RAYFLEET_WATCHER_NODE_FLAGS).toBeUndefined();
  });

  it('gives the head its ports and the watcher, a CPU even when it schedules none, and GPUs as nvidia_gpu', () => {
    const head = applicationRequest(request({ name: 'ray-head', role: 'head', group: 'head', index: 0, resources: { cpus: 0, gpus: 0, custom: {} } }), { ...context, venv: '/home/cdsw/.venv-ray' });
    expect(head.cpu).toBe(1);
    expect(head.environment).toMatchObject({ RAYFLEET_ROLE: 'head', RAYFLEET_WATCHER: '1', RAYFLEET_VENV: '/home/cdsw/.venv-ray', RAYFLEET_WATCHER_NODE_FLAGS: WATCHER_NODE_FLAGS.join(' ') });
    expect(JSON.parse(head.environment?.RAYFLEET_HEAD_PORTS ?? '{}')).toEqual({ gcsPort: 6379, dashboardPort: 8265, clientPort: 10001, servePort: 8000 });
    expect(head.environment?.RAY_HEAD_ADDRESS).toBeUndefined();
    const gpu = applicationRequest(request({ resources: { cpus: 4, gpus: 1, memoryBytes: 8 * 2 ** 30, custom: {} } }), context);
    expect(gpu).toMatchObject({ cpu: 4, memory: 8, nvidia_gpu: 1 });
  });

  it('keeps every application behind CML\'s login but a head the user made public', () => {
    const head = request({ name: 'ray-head', role: 'head', group: 'head', index: 0 });
    expect(applicationRequest(head, context).bypass_authentication).toBe(false);
    expect(applicationRequest(request(), context).bypass_authentication).toBe(false);
    expect(applicationRequest(request(), { ...context, publicHead: true }).bypass_authentication).toBe(false);
    expect(applicationRequest(head, { ...context, publicHead: true }).bypass_authentication).toBe(true);
  });
});
