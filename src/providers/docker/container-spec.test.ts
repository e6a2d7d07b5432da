import { describe, expect, it } from 'vitest';
import type { LaunchRequest } from '../node-provider.js';
import { CONTAINER_TOKEN_PATH, containerSpec, headPortBindings, type ContainerContext } from './container-spec.js';

const context: ContainerContext = {
  cluster: 'ray',
  image: 'rayproject/ray:2.60.0',
  network: 'ray-cluster',
  head: { gcsPort: 6379, dashboardPort: 8265, clientPort: 10001, servePort: 8000 },
  portOffset: 0,
};

function request(overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  return {
    name: 'ray-worker-1',
    role: 'worker',
    group: 'worker',
    index: 1,
    resources: { cpus: 2, gpus: 0, objectStoreMemoryBytes: 2 ** 30, custom: {} },
    env: { RAY_CLOUD_INSTANCE_ID: 'ray-worker-1', RAY_AUTH_MODE: 'token', RAY_AUTH_TOKEN_PATH: '/state/ray/auth_token' },
    ...overrides,
  };
}

describe('containerSpec', () => {
  it('runs ray start under init on the cluster network, joining the head by its container name', () => {
    const body = containerSpec(request(), context);
    expect(body.Image).toBe('rayproject/ray:2.60.0');
    expect(body.Cmd.slice(0, 3)).toEqual(['ray', 'start', '--block']);
    expect(body.Cmd).toContain('--address=ray-head:6379');
    expect(body.HostConfig).toMatchObject({ Init: true, NetworkMode: 'ray-cluster' });
    expect(body.NetworkingConfig.EndpointsConfig['ray-cluster']).toEqual({ Aliases: ['ray-worker-1'] });
    expect(body.Labels).toMatchObject({ 'rayfleet.cluster': 'ray', 'rayfleet.group': 'worker', 'rayfleet.index': '1', 'rayfleet.role': 'worker' });
    expect(JSON.parse(body.Labels['rayfleet.resources'] ?? '')).toEqual(request().resources);
    expect(body.HostConfig.PortBindings).toBeUndefined();
  });

  it('sizes shared memory, CPU and memory limits and GPU requests from the node resources', () => {
    const body = containerSpec(request({ resources: { cpus: 1.5, gpus: 1, memoryBytes: 4 * 2 ** 30, objectStoreMemoryBytes: 2 ** 30, custom: {} } }), context);
    expect(body.HostConfig.ShmSize).toBe(2 ** 30 + 256 * 2 ** 20);
    expect(body.HostConfig.NanoCpus).toBe(1_500_000_000);
    expect(body.HostConfig.Memory).toBe(5 * 2 ** 30);
    expect(body.HostConfig.DeviceRequests).toEqual([{ Driver: 'nvidia', Count: 1, Capabilities: [['gpu']] }]);
    const small = containerSpec(request({ resources: { cpus: 0, gpus: 0, custom: {} } }), context);
    expect(small.HostConfig.NanoCpus).toBeUndefined();
    expect(small.HostConfig.Memory).toBeUndefined();
    expect(small.HostConfig.DeviceRequests).toBeUndefined();
  });

  it('mounts the auth token file read-only and points Ray at the mount, never putting the token in the env', () => {
    const body = containerSpec(request(), context);
    expect(body.HostConfig.Binds).toEqual([`/state/ray/auth_token:${CONTAINER_TOKEN_PATH}:ro`]);
    expect(body.Env).toContain(`RAY_AUTH_TOKEN_PATH=${CONTAINER_TOKEN_PATH}`);
    expect(body.Env.some((entry) => entry.startsWith('RAY_AUTH_TOKEN='))).toBe(false);
  });

  it('mounts the workspace at /workspace as the working directory, and each node logs into its own directory', () => {
    const body = containerSpec(request(), { ...context, workspace: '/home/me/project', rayLogsDir: '/home/me/project/logs' });
    expect(body.WorkingDir).toBe('/workspace');
    expect(body.HostConfig.Binds).toEqual(expect.arrayContaining(['/home/me/project:/workspace', '/home/me/project/logs/ray-worker-1:/tmp/ray']));
  });

  it('publishes the head dashboard, client and Serve ports, and its GCS on loopback only, shifted by the offset', () => {
    const head = containerSpec(request({ name: 'ray-head', role: 'head', group: 'head', index: 0 }), { ...context, portOffset: 100 });
    expect(head.Cmd).toEqual(expect.arrayContaining(['--head', '--port=6379', '--dashboard-host=0.0.0.0', '--dashboard-port=8265']));
    expect(head.HostConfig.PortBindings).toEqual({
      '6379/tcp': [{ HostIp: '127.0.0.1', HostPort: '6479' }],
      '8265/tcp': [{ HostIp: '0.0.0.0', HostPort: '8365' }],
      '10001/tcp': [{ HostIp: '0.0.0.0', HostPort: '10101' }],
      '8000/tcp': [{ HostIp: '0.0.0.0', HostPort: '8100' }],
    });
    expect(Object.keys(head.ExposedPorts ?? {})).toEqual(Object.keys(headPortBindings({ head: context.head, portOffset: 100 })));
  });

  it('pins the head, and only the head, to the address the network keeps for it', () => {
    const head = containerSpec(request({ name: 'ray-head', role: 'head', group: 'head', index: 0 }), context, '172.18.0.2');
    expect(head.NetworkingConfig.EndpointsConfig['ray-cluster']).toEqual({ Aliases: ['ray-head'], IPAMConfig: { IPv4Address: '172.18.0.2' } });
    expect(containerSpec(request(), context, '172.18.0.2').NetworkingConfig.EndpointsConfig['ray-cluster']).toEqual({ Aliases: ['ray-worker-1'] });
  });
});
