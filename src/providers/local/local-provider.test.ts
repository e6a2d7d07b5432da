import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rayfleetErrorOf } from '../../../test/support/caught.js';
import { fakeRayCommand, localProvider, workerRequest } from '../../../test/support/local-nodes.js';
import { isRunning, killGroup, killScripts, processesWithEnv, processesWithEnvPrefix, runScript, startForeignGroup, waitUntilGone } from '../../../test/support/processes.js';
import { currentBootId } from '../../process/proc-stat.js';
import { currentIdentity } from '../../process/process-identity.js';
import { pollUntil } from '../../wait/poll-until.js';
import { PartialListError } from '../partial-list-error.js';
import { nodeEnvironment } from './local-provider.js';

describe('LocalProvider', () => {
  let root: string;
  let ray: string;
  let count = 0;
  const cleanups: (() => void)[] = [];

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'rf-local-'));
    ray = await fakeRayCommand(root);
  });
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    killScripts();
  });
  afterAll(async () => {
    for (const pid of processesWithEnvPrefix('RAYFLEET_NODE_RECORD', root)) killGroup(pid);
    await rm(root, { recursive: true, force: true });
  });

  function stateDir(): string {
    count += 1;
    return path.join(root, `cluster-${count}`);
  }

  /** The processes of a node: every one carries the marker with its record's path. */
  function nodeProcesses(dir: string, name: string): number[] {
    return processesWithEnv('RAYFLEET_NODE_RECORD', path.join(dir, 'nodes', `${name}.json`));
  }

  async function writeRecord(dir: string, name: string, fields: Record<string, unknown>): Promise<void> {
    await mkdir(path.join(dir, 'nodes'), { recursive: true });
    const record = { name, role: 'worker', group: 'worker', index: 1, pid: 0, createdAt: new Date().toISOString(), address: '127.0.0.1', resources: { cpus: 1, gpus: 0, custom: {} }, ...fields };
    await writeFile(path.join(dir, 'nodes', `${name}.json`), JSON.stringify(record));
  }

  async function foreign(): ReturnType<typeof startForeignGroup> {
    const group = await startForeignGroup({ withChild: true });
    cleanups.push(group.kill);
    return group;
  }

  it('launches a node whose record holds its pid, lists it running, and stops all of its processes', async () => {
    const dir = stateDir();
    const provider = localProvider(dir, ray);
    const instance = await provider.launch(workerRequest('ray-worker-1'));
    const record = JSON.parse(await readFile(path.join(dir, 'nodes', 'ray-worker-1.json'), 'utf8')) as { pid: number; startTicks: number; bootId: string };
    expect(record).toMatchObject({ pid: Number(instance.providerId), startTicks: currentIdentity(record.pid)?.startTicks, bootId: currentBootId() });
    await pollUntil(async () => (nodeProcesses(dir, 'ray-worker-1').length === 2 ? true : undefined), { timeoutMs: 5000, describe: () => 'the node and its child' });
    expect((await provider.list()).map((node) => [node.name, node.state])).toEqual([['ray-worker-1', 'running']]);
    // Launching the name again is the same node.
    expect((await provider.launch(workerRequest('ray-worker-1'))).providerId).toBe(instance.providerId);
    const pids = nodeProcesses(dir, 'ray-worker-1');
    await provider.terminate('ray-worker-1');
    await waitUntilGone(pids);
    expect(await provider.list()).toEqual([]);
  });

  it("runs nodes with the runtime's bin/ first on PATH and VIRTUAL_ENV set", async () => {
    const dir = stateDir();
    const provider = localProvider(dir, ray);
    await provider.launch(workerRequest('ray-worker-7', 7));
    const envFile = path.join(root, 'env', 'ray-worker-7.env');
    const env = await pollUntil(async () => readFile(envFile, 'utf8').catch(() => undefined), { timeoutMs: 5000, describe: () => envFile });
    const venv = path.join(root, 'venv');
    expect(env).toContain(`\nPATH=${path.join(venv, 'bin')}:`);
    expect(env).toContain(`\nVIRTUAL_ENV=${venv}\n`);
    await provider.terminate('ray-worker-7');
    // An interpreter outside a venv has no VIRTUAL_ENV to give, and an inherited one is dropped.
    expect(nodeEnvironment('/usr/bin/ray', {}).VIRTUAL_ENV).toBeUndefined();
    expect(nodeEnvironment('/usr/bin/ray', {}).PATH?.split(':')[0]).toBe('/usr/bin');
  });

  it('a record whose pid now belongs to a foreign process: the node is stopped, and the foreign process is never signalled', async () => {
    const dir = stateDir();
    const provider = localProvider(dir, ray);
    const group = await foreign();
    const { startTicks } = currentIdentity(group.pid)!;
    await writeRecord(dir, 'ray-worker-1', { pid: group.pid, startTicks: startTicks - 1, bootId: currentBootId(), marker: { name: 'RAYFLEET_NODE_RECORD', value: 'x' } });
    expect((await provider.list()).map((node) => node.state)).toEqual(['stopped']);
    await provider.terminate('ray-worker-1');
    expect(isRunning(group.pid)).toBe(true);
    expect(await provider.list()).toEqual([]);
  });

  it('a record from before a reboot: the node is stopped, whatever has its pid and start time now is never signalled', async () => {
    const dir = stateDir();
    const provider = localProvider(dir, ray);
    const group = await foreign();
    await writeRecord(dir, 'ray-worker-2', { ...currentIdentity(group.pid), bootId: 'boot-before-the-reboot' });
    expect((await provider.list()).map((node) => node.state)).toEqual(['stopped']);
    await provider.terminate('ray-worker-2');
    expect(isRunning(group.pid)).toBe(true);
  });

  it('a record written before boot ids were kept (pid and start time) still names its node, so down stops it', async () => {
    const dir = stateDir();
    const provider = localProvider(dir, ray);
    const old = await foreign();
    const { pid, startTicks } = currentIdentity(old.pid)!;
    await writeRecord(dir, 'ray-worker-3', { pid, startTicks });
    expect((await provider.list()).map((node) => node.state)).toEqual(['running']);
    await provider.terminate('ray-worker-3');
    await waitUntilGone([pid]);
  });

  it('reports an unreadable record by name while the other nodes are listed and stoppable', async () => {
    const dir = stateDir();
    const provider = localProvider(dir, ray);
    await provider.launch(workerRequest('ray-worker-1'));
    await writeFile(path.join(dir, 'nodes', 'ray-worker-2.json'), '{"name": "ray-wor');
    const error = await rayfleetErrorOf(() => provider.list());
    expect(error).toBeInstanceOf(PartialListError);
    expect(error.code).toBe('NODE_RECORD_UNREADABLE');
    expect(error.message).toContain('ray-worker-2');
    const partial = error as PartialListError;
    expect(partial.instances.map((node) => [node.name, node.state])).toEqual([['ray-worker-1', 'running']]);
    expect(partial.unreadable.map((node) => node.name)).toEqual(['ray-worker-2']);
    await provider.terminate('ray-worker-1');
    expect(nodeProcesses(dir, 'ray-worker-1')).toEqual([]);
    expect((await rayfleetErrorOf(() => provider.terminate('ray-worker-2'))).code).toBe('NODE_RECORD_UNREADABLE');
  });

  it('an abort before the node is let go leaves no record and no process', async () => {
    const dir = stateDir();
    const controller = new AbortController();
    const provider = localProvider(dir, async () => {
      controller.abort();
      return ray;
    });
    await expect(provider.launch(workerRequest('ray-worker-1'), controller.signal)).rejects.toThrow();
    expect(await readdir(path.join(dir, 'nodes'))).toEqual([]);
    expect(nodeProcesses(dir, 'ray-worker-1')).toEqual([]);
  });

  it('terminate during a launch waits for it, so nothing is left running', async () => {
    const dir = stateDir();
    let proceed: () => void = () => undefined;
    const provider = localProvider(dir, () => new Promise((resolve) => (proceed = () => resolve(ray))));
    const launching = provider.launch(workerRequest('ray-worker-1'));
    await pollUntil(async () => ((await provider.list()).length === 1 ? true : undefined), { timeoutMs: 5000, describe: () => 'the claim' });
    expect((await provider.list())[0]?.state).toBe('starting');
    const terminating = provider.terminate('ray-worker-1');
    setTimeout(() => proceed(), 300);
    await launching;
    await terminating;
    expect(await provider.list()).toEqual([]);
    expect(nodeProcesses(dir, 'ray-worker-1')).toEqual([]);
  });

  describe('a launcher killed at a failpoint', () => {
    for (const point of ['local.after-claim', 'local.after-spawn', 'local.after-record']) {
      it(`at ${point}: leaves no process, the name shows a failed or ended launch and is launched again`, async () => {
        const dir = stateDir();
        const killed = await runScript('local-provider-child.ts', [dir, ray, 'ray-worker-1', 'launch'], { RAYFLEET_FAILPOINTS: point });
        expect(killed.signal).toBe('SIGKILL');
        // Held at its gate, the node's process sees its launcher's end of the pipe close and exits without starting.
        await pollUntil(async () => (nodeProcesses(dir, 'ray-worker-1').length === 0 ? true : undefined), { timeoutMs: 5000, describe: () => 'no process' });
        await expect(readFile(path.join(root, 'env', 'ray-worker-1.env'), 'utf8').then((env) => env.includes(dir))).resolves.toBe(false);
        const provider = localProvider(dir, ray);
        expect((await provider.list()).map((node) => node.state)).toEqual([point === 'local.after-record' ? 'stopped' : 'failed']);
        await provider.launch(workerRequest('ray-worker-1'));
        expect((await provider.list()).map((node) => node.state)).toEqual(['running']);
        await provider.terminate('ray-worker-1');
        expect(nodeProcesses(dir, 'ray-worker-1')).toEqual([]);
      }, 60_000);
    }

    it("restarts a head whose leader died without waiting out the stop grace for what is left of it (a raylet waiting for its dead GCS)", async () => {
      const dir = stateDir();
      const head = { ...workerRequest('ray-head'), role: 'head' as const, group: 'head', index: 0, env: { RAY_CLOUD_INSTANCE_ID: 'ray-head', RAY_NODE_TYPE_NAME: 'head' } };
      // A grace far longer than this test may take: only the short grace for a dead head's remnants lets it pass.
      const provider = localProvider(dir, ray, { stopGraceMs: 600_000 });
      process.env.FAKE_RAY_IGNORE_TERM = '1';
      try {
        await provider.launch(head);
      } finally {
        delete process.env.FAKE_RAY_IGNORE_TERM;
      }
      await pollUntil(async () => (nodeProcesses(dir, 'ray-head').length === 2 ? true : undefined), { timeoutMs: 5000, describe: () => 'the head' });
      const { pid } = JSON.parse(await readFile(path.join(dir, 'nodes', 'ray-head.json'), 'utf8')) as { pid: number };
      expect(await provider.restartHead(head)).toBeUndefined();
      process.kill(pid, 'SIGKILL');
      await pollUntil(async () => ((await provider.list())[0]?.state === 'failed' ? true : undefined), { timeoutMs: 5000, describe: () => 'the head failed' });
      const remnants = nodeProcesses(dir, 'ray-head');
      expect(remnants).toHaveLength(1);
      const restarted = await provider.restartHead(head);
      expect(restarted?.name).toBe('ray-head');
      expect(remnants.filter(isRunning)).toEqual([]);
      expect((await provider.list()).map((node) => node.state)).toEqual(['running']);
      await provider.terminate('ray-head');
    }, 15_000);

    it('terminates a node whose leader died without waiting out the stop grace for what is left of it (agents of a dead head)', async () => {
      const dir = stateDir();
      // A grace far longer than this test may take: only the short grace for a dead node's remnants lets it pass.
      const provider = localProvider(dir, ray, { stopGraceMs: 600_000 });
      process.env.FAKE_RAY_IGNORE_TERM = '1';
      try {
        await provider.launch(workerRequest('ray-worker-1'));
      } finally {
        delete process.env.FAKE_RAY_IGNORE_TERM;
      }
      await pollUntil(async () => (nodeProcesses(dir, 'ray-worker-1').length === 2 ? true : undefined), { timeoutMs: 5000, describe: () => 'the node' });
      const { pid } = JSON.parse(await readFile(path.join(dir, 'nodes', 'ray-worker-1.json'), 'utf8')) as { pid: number };
      process.kill(pid, 'SIGKILL');
      await pollUntil(async () => ((await provider.list())[0]?.state === 'failed' ? true : undefined), { timeoutMs: 5000, describe: () => 'the node failed' });
      const remnants = nodeProcesses(dir, 'ray-worker-1');
      expect(remnants).toHaveLength(1);
      await provider.terminate('ray-worker-1');
      expect(remnants.filter(isRunning)).toEqual([]);
      expect(await provider.list()).toEqual([]);
    }, 15_000);

    it('mid-terminate (SIGTERM sent, record kept): a later terminate finishes the stop', async () => {
      const dir = stateDir();
      process.env.FAKE_RAY_IGNORE_TERM = '1';
      const provider = localProvider(dir, ray);
      try {
        await provider.launch(workerRequest('ray-worker-1'));
      } finally {
        delete process.env.FAKE_RAY_IGNORE_TERM;
      }
      await pollUntil(async () => (nodeProcesses(dir, 'ray-worker-1').length === 2 ? true : undefined), { timeoutMs: 5000, describe: () => 'the node' });
      const killed = await runScript('local-provider-child.ts', [dir, ray, 'ray-worker-1', 'terminate'], { RAYFLEET_FAILPOINTS: 'terminate.after-sigterm' });
      expect(killed.signal).toBe('SIGKILL');
      expect((await provider.list()).map((node) => node.state)).toEqual(['running']);
      const pids = nodeProcesses(dir, 'ray-worker-1');
      await provider.terminate('ray-worker-1');
      await waitUntilGone(pids);
      expect(await provider.list()).toEqual([]);
    }, 60_000);
  });
});
