import { describe, expect, it } from 'vitest';
import type { LaunchRequest } from './node-provider.js';
import { rayStartArgs, type RayStartContext } from './ray-start-args.js';

const context: RayStartContext = {
  headHost: '127.0.0.1',
  head: { gcsPort: 6379, dashboardPort: 8265, clientPort: 10001 },
  dashboardHost: '127.0.0.1',
  sharedHost: { tempDir: '/tmp/rayfleet-abc', dashboardAgentPort: 40123 },
};

/** A node alone in its container: reaches the head by name, keeps Ray's own defaults for the rest. */
const ownHost: RayStartContext = { headHost: 'ray-head', head: context.head, dashboardHost: '0.0.0.0' };

function request(overrides: Partial<LaunchRequest>): LaunchRequest {
  return {
    name: 'ray-worker-1',
    role: 'worker',
    group: 'worker',
    index: 1,
    resources: { cpus: 1, gpus: 0, custom: {} },
    env: {},
    ...overrides,
  };
}

describe('rayStartArgs', () => {
  it('starts a head with its fixed ports and blocks', () => {
    const args = rayStartArgs(request({ name: 'ray-head', role: 'head', group: 'head', index: 0 }), context);
    expect(args).toEqual(
      expect.arrayContaining(['start', '--block', '--head', '--port=6379', '--dashboard-port=8265', '--ray-client-server-port=10001', '--temp-dir=/tmp/rayfleet-abc']),
    );
    expect(args.some((arg) => arg.startsWith('--address'))).toBe(false);
  });

  it('joins a worker to the head and gives it its own agent port', () => {
    const args = rayStartArgs(request({}), context);
    expect(args).toContain('--address=127.0.0.1:6379');
    expect(args).toContain('--dashboard-agent-listen-port=40123');
    expect(args).toContain('--include-log-monitor=false');
    expect(args).not.toContain('--head');
    expect(args.some((arg) => arg.startsWith('--dashboard-port'))).toBe(false);
  });

  it('passes resources, sizes in whole bytes and custom resources as JSON', () => {
    const args = rayStartArgs(
      request({ resources: { cpus: 4, gpus: 1, memoryBytes: 2 ** 31, objectStoreMemoryBytes: 1e9, custom: { TPU: 2 } } }),
      context,
    );
    expect(args).toEqual(
      expect.arrayContaining(['--num-cpus=4', '--num-gpus=1', '--memory=2147483648', '--object-store-memory=1000000000', '--resources={"TPU":2}']),
    );
  });

  it('leaves temp dir, agent and worker ports at their defaults on a node with a host of its own', () => {
    const worker = rayStartArgs(request({}), ownHost);
    expect(worker).toContain('--address=ray-head:6379');
    expect(worker.filter((arg) => /^--(temp-dir|dashboard-agent-listen-port|min-worker-port|max-worker-port|include-log-monitor)/.test(arg))).toEqual([]);
    const head = rayStartArgs(request({ name: 'ray-head', role: 'head', group: 'head', index: 0 }), ownHost);
    expect(head).toContain('--dashboard-host=0.0.0.0');
  });
});
