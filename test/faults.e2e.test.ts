// End to end, real Ray: a watcher killed at a failpoint and started again leaves the provider, Ray and the processes
// agreeing, with no node stopped twice and none left behind.
import { execa } from 'execa';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { processesOfNodes } from './support/processes.js';
import { createSandbox, writeTestSpec, type Sandbox } from './support/run-cli.js';

const BIN = path.resolve('bin/rayfleet.js');

describe('a watcher killed after Ray accepted a drain (failpoint drain.after-accept)', () => {
  let sandbox: Sandbox;
  let spec: string;
  const cli = (args: string[]): string[] => [...args, '--config', spec];

  beforeAll(async () => {
    sandbox = await createSandbox();
    spec = await writeTestSpec(sandbox, 'faults.yaml', { name: 'rff', workers: 0, max: 2, watcher: '{ enabled: false, interval: 500ms, idleTimeout: 2s }' });
    const up = await sandbox.run(cli(['up']));
    expect(up.exitCode, up.stderr).toBe(0);
  });

  afterAll(async () => {
    await sandbox.run(cli(['watcher', 'stop']));
    await sandbox.run(cli(['down']));
  });

  it('is started again and stops the drained node exactly once: provider, Ray and processes agree', async () => {
    const added = await sandbox.run(cli(['add-worker']));
    expect(added.exitCode, added.stderr).toBe(0);
    const killed = await execa(process.execPath, [BIN, ...cli(['watch'])], { cwd: sandbox.dir, env: { ...sandbox.env, RAYFLEET_FAILPOINTS: 'drain.after-accept' }, reject: false, timeout: 120_000 });
    expect(killed.signal).toBe('SIGKILL');
    // Killed between the accepted drain and the stop: the node's process is still there.
    expect(processesOfNodes(['rff-worker-1']).length).toBeGreaterThan(0);
    const restarted = await sandbox.run(cli(['watcher', 'start']));
    expect(restarted.exitCode, restarted.stderr).toBe(0);
    const status = await pollUntil(
      async () => {
        const current = await sandbox.json<ClusterStatus>(cli(['status']));
        return current.nodes.length === 1 && processesOfNodes(['rff-worker-1']).length === 0 ? current : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1_000, describe: () => 'rff-worker-1 gone from the provider and the machine' },
    );
    expect(status.nodes.map((node) => [node.name, node.ray?.status])).toEqual([['rff-head', 'IDLE']]);
    expect(status.unmanaged).toEqual([]);
    const events = await sandbox.json<Array<{ type: string; node?: string }>>(cli(['events']));
    const ofWorker = events.filter((event) => event.node === 'rff-worker-1').map((event) => event.type);
    expect(ofWorker.filter((type) => type === 'drain')).toHaveLength(1);
    expect(ofWorker.filter((type) => type === 'terminate')).toHaveLength(1);
    expect(ofWorker).not.toContain('launch-failed');
  });
});
