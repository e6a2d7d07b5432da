import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RayfleetError } from '../../errors.js';
import { PartialListError } from '../partial-list-error.js';
import type { LaunchRequest } from '../node-provider.js';
import type { HostAgent, HostFacts, HostNode, HostNodeSpec } from './host-agent.js';
import { SshProvider } from './ssh-provider.js';
import type { SshHostSettings } from './ssh-settings.js';

/** A host's agent in memory: nodes as records, a switch to stop answering as a vanished host does. */
class InMemoryHost implements HostAgent {
  readonly nodes = new Map<string, HostNode>();
  answering = true;
  launches = 0;
  secrets = new Map<string, string>();
  argvs: string[][] = [];
  envs: Record<string, string>[] = [];
  /** What was asked of the host that changes it, in order. */
  ops: string[] = [];

  constructor(private readonly address: string) {}

  private check(): void {
    if (!this.answering) throw new RayfleetError('HOST_UNREACHABLE', `host ${this.address} does not answer: ssh ended (exit 255)`);
  }

  async hello(): Promise<HostFacts> {
    this.check();
    return { bootId: 'boot', hostname: this.address, python: '3.11.2', cpus: 2, memoryBytes: 8 * 2 ** 30, gpus: 0, home: '/root', stateDir: '~/x' };
  }

  lists = 0;

  async list(): Promise<{ nodes: HostNode[]; unreadable: { name: string; reason: string }[] }> {
    this.lists += 1;
    this.check();
    return { nodes: [...this.nodes.values()], unreadable: [] };
  }

  async launch(node: HostNodeSpec, argv: string[], env: Record<string, string>): Promise<HostNode> {
    this.check();
    this.launches += 1;
    this.argvs.push(argv);
    this.envs.push(env);
    this.ops.push(`launch ${node.name}`);
    const running: HostNode = { ...node, pid: 1000 + this.launches, state: 'running' };
    this.nodes.set(node.name, running);
    return running;
  }

  graces: number[] = [];

  async terminate(name: string, graceMs: number): Promise<void> {
    this.check();
    this.ops.push(`terminate ${name}`);
    this.graces.push(graceMs);
    this.nodes.delete(name);
  }

  async readLog(): Promise<{ lines: string[]; offset: number }> {
    this.check();
    return { lines: [], offset: 0 };
  }

  async writeSecret(file: string, content: string): Promise<string> {
    this.check();
    this.secrets.set(file, content);
    return `/root/x/${file}`;
  }

  async freePort(): Promise<number> {
    this.check();
    return 40000;
  }

  async pythonInfo(): Promise<{ python: string; ray: string | null }> {
    return { python: '3.11.2', ray: '2.60.0' };
  }

  removed = 0;

  async removeState(): Promise<void> {
    this.check();
    this.removed += 1;
  }

  async remove(hostPath: string): Promise<void> {
    this.check();
    this.ops.push(`remove ${hostPath}`);
  }

  close(): void {}
}

const HOSTS: SshHostSettings[] = [{ address: 'h1', cpus: 2 }, { address: 'h2', cpus: 2 }, { address: 'h3', cpus: 2 }];

const HEAD: LaunchRequest = {
  name: 'ray-head',
  role: 'head',
  group: 'head',
  index: 0,
  resources: { cpus: 1, gpus: 0, custom: {} },
  env: { RAY_gcs_storage: 'rocksdb', RAY_gcs_storage_path: '~/.rayfleet/clusters/ray-x/gcs-store' },
};

function worker(index: number, cpus = 1): LaunchRequest {
  return { name: `ray-worker-${index}`, role: 'worker', group: 'worker', index, resources: { cpus, gpus: 0, custom: {} }, env: {} };
}

describe('SshProvider (hosts in memory)', () => {
  let dir: string;
  let hosts: Map<string, InMemoryHost>;
  let provider: SshProvider;
  let nowMs: number;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-ssh-provider-'));
    hosts = new Map(HOSTS.map((host) => [host.address, new InMemoryHost(host.address)]));
    nowMs = 1_000_000;
    provider = new SshProvider({
      cluster: 'ray',
      settings: { hosts: HOSTS },
      head: { gcsPort: 6379, dashboardPort: 8265, clientPort: 10001, servePort: 8000 },
      stateDir: dir,
      remoteStateDir: '~/.rayfleet/clusters/ray-x',
      remoteTempDir: '/tmp/rf-x',
      agentFor: (host) => hosts.get(host.address) as InMemoryHost,
      prepareRuntime: async () => ({ rayCommand: '/opt/ray/bin/ray' }),
      now: () => nowMs,
    });
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('puts the head on the first host and spreads workers by room, never past what the hosts hold', async () => {
    await provider.launch({ name: 'ray-head', role: 'head', group: 'head', index: 0, resources: { cpus: 1, gpus: 0, custom: {} }, env: {} });
    const placed = [];
    for (let index = 1; index <= 5; index += 1) placed.push(await provider.launch(worker(index)));
    expect(placed.map((instance) => instance.address)).toEqual(['h2', 'h3', 'h1', 'h2', 'h3']);
    expect(await provider.roomFor({ cpus: 1, gpus: 0, custom: {} }, 10)).toBe(0);
    await expect(provider.launch(worker(6))).rejects.toMatchObject({ code: 'HOSTS_FULL' });
    // The head joins on its host at the GCS port; a worker finds it there, and the first node on a host runs the log monitor.
    expect(hosts.get('h1')?.argvs[0]).toContain('--head');
    expect(hosts.get('h2')?.argvs[0]).toContain('--address=h1:6379');
    expect(hosts.get('h2')?.argvs[0]).not.toContain('--include-log-monitor=false');
    expect(hosts.get('h2')?.argvs[1]).toContain('--include-log-monitor=false');
  });

  it('places launches made at once one after another: two never take the same room', async () => {
    const placed = await Promise.all([1, 2, 3, 4, 5, 6].map((index) => provider.launch(worker(index))));
    expect(placed.map((instance) => instance.address).sort()).toEqual(['h1', 'h1', 'h2', 'h2', 'h3', 'h3']);
  });

  it('launching a name that runs returns it, on its host, without a second launch', async () => {
    const first = await provider.launch(worker(1));
    const again = await provider.launch(worker(1));
    expect(again).toMatchObject({ name: first.name, address: first.address, state: 'running' });
    expect([...hosts.values()].reduce((total, host) => total + host.launches, 0)).toBe(1);
  });

  it('sends the token to each host through the agent, as a file there, never as a value in the environment', async () => {
    const token = path.join(dir, 'auth_token');
    await writeFile(token, 'secret-token');
    await provider.launch({ ...worker(1), env: { RAY_AUTH_MODE: 'token', RAY_AUTH_TOKEN_PATH: token, RAY_AUTH_TOKEN: '' } });
    const host = [...hosts.values()].find((candidate) => candidate.launches === 1) as InMemoryHost;
    expect(host.secrets.get('auth_token')).toBe('secret-token');
    expect(host.argvs[0]?.join(' ')).not.toContain('secret-token');
  });

  it('down removes the cluster\'s directory from the hosts its agents ran on, and asks no host it never reached', async () => {
    hosts.get('h3')!.answering = false;
    await provider.launch(worker(1));
    await provider.terminate('ray-worker-1');
    await provider.cleanup();
    // h1 and h2 answered (the launch asked every host what it offers); h3 never did.
    expect([...hosts.values()].map((host) => host.removed)).toEqual([1, 1, 0]);
  });

  describe('the head that survives (head.faultTolerance)', () => {
    const STORE = '~/.rayfleet/clusters/ray-x/gcs-store';
    /** The head's Ray session directory on its host, as its `ray start` names it. */
    const headTempDir = (host: InMemoryHost) => (host.argvs[0]?.find((arg) => arg.startsWith('--temp-dir=')) ?? '').slice('--temp-dir='.length);

    it('keeps the GCS store in the cluster\'s directory on the head\'s host and clears it there, through its agent', async () => {
      expect(provider.gcsStore().path).toBe(STORE);
      await provider.gcsStore().clear();
      expect([...hosts.values()].map((host) => host.ops)).toEqual([[`remove ${STORE}`], [], []]);
    });

    it('a store whose host was silent at clear is cleared before the head is launched, and the head is not launched until it is', async () => {
      const h1 = hosts.get('h1')!;
      h1.answering = false;
      // `down --force` goes on past a head's host gone for good (its cluster directory, store and all, is named left there).
      await provider.gcsStore().clear();
      await expect(provider.launch(HEAD)).rejects.toMatchObject({ code: 'HOST_UNREACHABLE' });
      expect(await provider.list()).toEqual([]);
      h1.answering = true;
      await provider.launch(HEAD);
      expect(h1.ops).toEqual([`remove ${STORE}`, 'launch ray-head']);
      await provider.launch(worker(1));
      await provider.terminate('ray-head');
      await provider.launch(HEAD);
      // Cleared once: a head launched again by the same provider keeps the store it has (the restart's recovery).
      expect(h1.ops.filter((op) => op.startsWith('remove'))).toHaveLength(1);
    });

    it('restarts nothing while the head\'s recorded process runs, or a launch of it is on its way', async () => {
      await provider.launch(HEAD);
      expect(await provider.restartHead(HEAD)).toBeUndefined();
      const h1 = hosts.get('h1')!;
      h1.nodes.delete('ray-head');
      // The claim here, made by this live process, and no record there yet: a launch in progress.
      expect(await provider.restartHead(HEAD)).toBeUndefined();
      expect(h1.ops).toEqual(['launch ray-head']);
    });

    it('once the head\'s process is gone: what is left of it is stopped, its last start forgotten, and it runs again on its host, ports and store', async () => {
      await provider.launch(HEAD);
      await provider.launch(worker(1));
      const h1 = hosts.get('h1')!;
      h1.nodes.set('ray-head', { ...(h1.nodes.get('ray-head') as HostNode), state: 'failed' });
      const restarted = await provider.restartHead(HEAD);
      expect(restarted).toMatchObject({ name: 'ray-head', address: 'h1:6379', state: 'running' });
      expect(h1.ops).toEqual(['launch ray-head', 'terminate ray-head', `remove ${headTempDir(h1)}/ray_current_cluster`, 'launch ray-head']);
      // Its remnants have nothing to shut down in order (a raylet told to stop waits for the dead GCS): no 30 s grace.
      expect(h1.graces).toEqual([2_000]);
      expect(headTempDir(h1)).toMatch(/^\/tmp\/rf-x\/[0-9a-f]{6}$/);
      expect(h1.argvs[1]).toEqual(h1.argvs[0]);
      expect(h1.envs[1]).toMatchObject({ RAY_gcs_storage_path: STORE });
      // The workers are left as they are, waiting to reconnect.
      expect([...hosts.values()].flatMap((host) => host.ops).filter((op) => op.includes('worker'))).toEqual(['launch ray-worker-1']);
      expect((await provider.list()).map((instance) => [instance.name, instance.state])).toEqual([['ray-head', 'running'], ['ray-worker-1', 'running']]);
    });

    it('restarts nothing while the head\'s host does not answer: its head is not proven gone', async () => {
      await provider.launch(HEAD);
      const h1 = hosts.get('h1')!;
      h1.nodes.set('ray-head', { ...(h1.nodes.get('ray-head') as HostNode), state: 'stopped' });
      h1.answering = false;
      expect(await provider.restartHead(HEAD)).toBeUndefined();
      h1.answering = true;
      expect(h1.ops).toEqual(['launch ray-head']);
    });
  });

  describe('a host that does not answer', () => {
    it('lists its nodes unknown in a PartialListError naming the host, never fewer nodes', async () => {
      await provider.launch(worker(1));
      await provider.launch(worker(2));
      const lost = [...hosts.values()].find((host) => host.nodes.has('ray-worker-1')) as InMemoryHost;
      lost.answering = false;
      const error = await provider.list().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(PartialListError);
      const partial = error as PartialListError;
      expect(partial.instances.map((instance) => [instance.name, instance.state])).toEqual([
        ['ray-worker-1', 'unknown'],
        ['ray-worker-2', 'running'],
      ]);
      expect(partial.unreadable).toEqual([{ name: 'ray-worker-1', reason: expect.stringContaining(`host ${lost === hosts.get('h1') ? 'h1' : 'h2'} does not answer`) }]);
      expect(partial.unreadable[0]?.reason).toMatch(/its node is unknown, not gone$/);
    });

    it('is not dialled by every list while it is silent (each try is a new ssh), but again after a while', async () => {
      await provider.launch(worker(1));
      const host = [...hosts.values()].find((candidate) => candidate.nodes.has('ray-worker-1')) as InMemoryHost;
      host.answering = false;
      for (let tick = 0; tick < 5; tick += 1) {
        await expect(provider.list()).rejects.toBeInstanceOf(PartialListError);
        nowMs += 1000;
      }
      expect(host.lists).toBe(1);
      nowMs += 15_000;
      host.answering = true;
      expect((await provider.list()).map((instance) => instance.state)).toEqual(['running']);
    });

    it('is avoided by launches, with back-off, and used again once it answers and its back-off ran out', async () => {
      hosts.get('h1')!.answering = false;
      await provider.list().catch(() => undefined);
      const placed = [await provider.launch(worker(1)), await provider.launch(worker(2)), await provider.launch(worker(3)), await provider.launch(worker(4))];
      expect(placed.map((instance) => instance.address)).toEqual(['h2', 'h3', 'h2', 'h3']);
      await expect(provider.launch(worker(5))).rejects.toMatchObject({ code: 'HOSTS_FULL', details: expect.stringContaining('h1') });
      hosts.get('h1')!.answering = true;
      await expect(provider.launch(worker(5))).rejects.toMatchObject({ code: 'HOSTS_FULL' });
      nowMs += 60_000;
      expect((await provider.launch(worker(5))).address).toBe('h1');
    });

    it('keeps the name claimed (unknown) when a launch there got no answer: it is never made again elsewhere', async () => {
      const h2 = hosts.get('h2')!;
      const launch = h2.launch.bind(h2);
      h2.launch = async (...args) => {
        await launch(...args);
        h2.answering = false;
        throw new RayfleetError('HOST_UNREACHABLE', 'host h2 does not answer: no answer to launch within 180 s');
      };
      await provider.launch(worker(1)).then((instance) => expect(instance.address).toBe('h1'));
      await expect(provider.launch(worker(2))).rejects.toMatchObject({ code: 'HOST_UNREACHABLE' });
      await expect(provider.launch(worker(2))).rejects.toMatchObject({ code: 'HOST_UNREACHABLE', message: expect.stringContaining('not made again elsewhere') });
      expect(hosts.get('h3')?.launches).toBe(0);
      const partial = (await provider.list().catch((caught: unknown) => caught)) as PartialListError;
      expect(partial.instances.find((instance) => instance.name === 'ray-worker-2')?.state).toBe('unknown');
    });

    it('a launch that failed before it was sent releases the name: nothing can have started there', async () => {
      const h1 = hosts.get('h1')!;
      h1.freePort = async () => {
        throw new RayfleetError('HOST_UNREACHABLE', 'host h1 does not answer: ssh ended (exit 255)');
      };
      await expect(provider.launch(worker(1))).rejects.toMatchObject({ code: 'HOST_UNREACHABLE' });
      expect(await provider.list()).toEqual([]);
    });

    it('a stop there fails and keeps the claim; once the host answers, what ended there is stopped and the name freed', async () => {
      await provider.launch(worker(1));
      const host = [...hosts.values()].find((candidate) => candidate.nodes.has('ray-worker-1')) as InMemoryHost;
      host.answering = false;
      await expect(provider.terminate('ray-worker-1')).rejects.toMatchObject({ code: 'HOST_UNREACHABLE' });
      host.answering = true;
      host.nodes.set('ray-worker-1', { ...(host.nodes.get('ray-worker-1') as HostNode), state: 'stopped' });
      expect((await provider.list()).find((instance) => instance.name === 'ray-worker-1')?.state).toBe('stopped');
      await provider.terminate('ray-worker-1');
      expect(await provider.list()).toEqual([]);
    });

    it('gone for good, its node is forgotten by `down --force`: the name released, nothing on the host touched', async () => {
      await provider.launch(worker(1));
      const host = [...hosts.values()].find((candidate) => candidate.nodes.has('ray-worker-1')) as InMemoryHost;
      host.answering = false;
      await provider.forget('ray-worker-1');
      expect(await provider.list()).toEqual([]);
      expect(host.nodes.has('ray-worker-1')).toBe(true);
    });
  });
});
