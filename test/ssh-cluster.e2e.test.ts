// A Ray cluster across three SSH hosts (containers with sshd and Ray, each its own address): rayfleet here, the head on
// host 1 (fault tolerant: its GCS store on host 1), workers placed across the hosts by room, a host killed and back, the
// watcher killed mid-launch, the head's GCS killed and the head restarted by the watcher, and `down`.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostDirectories } from '../src/providers/ssh/ssh-backend.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { uniqueClusterName } from './support/docker.js';
import { driverFile } from './support/drivers.js';
import { startSshHosts, type SshHosts } from './support/ssh-hosts.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

interface StatusNode {
  name: string;
  role: 'head' | 'worker';
  state: string;
  address: string | null;
  ray: { status: string; nodeId?: string } | null;
}
interface Status {
  nodes: StatusNode[];
  address: string;
  ports: Record<string, unknown>;
  rayError?: string;
}

/** Ray marks a node whose host vanished DEAD within seconds, not the 30 s of its defaults. */
const RAY_HEALTH_CHECKS = { RAY_health_check_period_ms: '1000', RAY_health_check_timeout_ms: '1000', RAY_health_check_failure_threshold: '3' };

describe('a cluster across SSH hosts', () => {
  let hosts: SshHosts;
  let cluster: TestCluster;
  const name = uniqueClusterName('rfs');

  const status = () => cluster.json<Status>(['status']);
  const alive = (nodes: StatusNode[]) => nodes.filter((node) => node.ray !== null && node.ray.status !== 'DEAD');
  const aliveWorkers = async () => alive((await status()).nodes).filter((node) => node.role === 'worker');
  const waitFor = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000) => pollUntil(check, { timeoutMs, intervalMs: 500, describe: () => what });
  /** The `ray start` leaders on a host, each with the node record it carries: what rayfleet started there, by its own marker. */
  const rayLeaders = async (index: number): Promise<string[]> => {
    const out = await hosts.ssh(index, "for p in $(pgrep -f '[r]ay start --block'); do tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | sed -n 's/^RAYFLEET_NODE_RECORD=//p'; done");
    return out.stdout.split('\n').filter((line) => line !== '').map((line) => path.basename(line, '.json')).sort();
  };
  /** The processes named `comm` on a host by the node whose record they carry: `{ 'rfs-…-worker-1': 1234 }`. */
  const rayProcesses = async (index: number, comm: string): Promise<Record<string, number>> => {
    const out = await hosts.ssh(index, `for p in $(pgrep -x ${comm}); do echo "$p $(tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | sed -n 's/^RAYFLEET_NODE_RECORD=//p')"; done`);
    return Object.fromEntries(out.stdout.split('\n').filter((line) => line.includes(' /')).map((line) => [path.basename(line.split(' ')[1] as string, '.json'), Number(line.split(' ')[0])]));
  };
  /** The head's GCS store on host 1, where rayfleet puts it (the cluster's directory there; root's home). */
  const storeDir = () => `${hostDirectories(name, path.join(cluster.sandbox.env.RAYFLEET_HOME ?? '', 'clusters', name)).remoteStateDir.replace(/^~/, '/root')}/gcs-store`;

  beforeAll(async () => {
    hosts = await startSshHosts(name, 3, RAY_HEALTH_CHECKS);
    const provider = `{ type: ssh, hosts: [${hosts.addresses.map((address) => `{ address: ${address}, cpus: 2 }`).join(', ')}], sshConfig: ${hosts.configFile}, python: /opt/ray/bin/python }`;
    cluster = await createTestCluster({ name, provider, ports: 'unset', headCpus: 1, workers: 2, max: 8, headFaultTolerance: true, watcher: '{ interval: 1s, idleTimeout: 6s }' });
  });

  afterAll(async () => {
    await cluster?.down();
    await hosts?.remove();
  });

  it('up with min 2: the head and two workers alive in Ray, each on a host of its own; a job sees the workers\' hosts', async () => {
    // A previous cluster's store where this one's goes: a fresh `up` starts from none (Ray would take its session).
    const stale = 'session_2000-01-01_00-00-00_000000_1';
    expect((await hosts.ssh(0, `mkdir -p ${storeDir()} && printf ${stale} > ${storeDir()}/session_name && echo planted`)).stdout).toContain('planted');
    await cluster.up();
    const nodes = await waitFor('the head and 2 workers alive in Ray', async () => {
      const seen = alive((await status()).nodes);
      return seen.length === 3 ? seen : undefined;
    });
    const hostsOf = nodes.map((node) => (node.address ?? '').split(':')[0]);
    expect(new Set(hostsOf).size).toBe(3);
    expect(nodes.find((node) => node.role === 'head')?.address).toBe(`${hosts.addresses[0]}:6379`);
    const job = await cluster.run(['job', 'submit', '--working-dir', path.dirname(driverFile('hosts-of-tasks.py')), '--', 'python', 'hosts-of-tasks.py', '3', '4']);
    expect(job.exitCode, job.stderr).toBe(0);
    // Three one-CPU tasks held side by side on three one-CPU places: the head's host and each worker's.
    expect(job.stdout).toMatch(/HOSTS host1 host2 host3/);
    const session = (await hosts.ssh(0, `cat ${storeDir()}/session_name`)).stdout;
    expect(session).toMatch(/^session_/);
    expect(session).not.toBe(stale);
  });

  it('a burst: the watcher launches across the hosts up to their room and no further, then drains back to min', async () => {
    // 6 CPUs in the pool, 1 of them the head's: room for 5 one-CPU workers, whatever max (8) and the burst (12) ask.
    const burst = cluster.run(['job', 'submit', '--working-dir', path.dirname(driverFile('burst-job.py')), '--', 'python', 'burst-job.py', '12', '25']);
    let most = 0;
    await waitFor('5 workers alive in Ray', async () => {
      const count = (await aliveWorkers()).length;
      most = Math.max(most, count);
      return count === 5 ? true : undefined;
    });
    const events = await cluster.run(['events', '--since', '10m']);
    expect(events.stdout).toContain('the hosts have no room for more of its nodes');
    const job = await burst;
    expect(job.exitCode, job.stderr).toBe(0);
    expect(job.stdout).toContain('RESULT 12');
    await waitFor('back at min: 2 workers', async () => {
      const count = (await aliveWorkers()).length;
      most = Math.max(most, count);
      return count === 2 ? true : undefined;
    });
    expect(most).toBe(5);
  });

  it('a worker\'s host killed: its node is unknown, never gone; the group is brought back to min elsewhere; back, the host is cleaned and no name is made twice', async () => {
    const before = await status();
    // A worker's host that is not the head's: which ones are left after the scale-down is the watcher's choice.
    const victim = hosts.addresses.findIndex((address, index) => index > 0 && before.nodes.some((node) => node.role === 'worker' && node.address === address));
    expect(victim).toBeGreaterThan(0);
    const victimAddress = hosts.addresses[victim] as string;
    const onVictim = before.nodes.find((node) => node.role === 'worker' && node.address === victimAddress);
    await hosts.kill(victim);
    const unknownSeen = await waitFor('the killed host\'s node listed unknown', async () => (await status()).nodes.find((node) => node.name === onVictim?.name && node.state === 'unknown'));
    expect(unknownSeen.name).toBe(onVictim?.name);
    // Ray marks it dead, and the watcher brings the group back to 2 on the hosts that answer, under a new name.
    const replaced = await waitFor('2 workers alive again', async () => {
      const workers = await aliveWorkers();
      return workers.length === 2 && workers.every((node) => node.name !== onVictim?.name) ? workers : undefined;
    });
    expect(replaced.every((node) => node.address !== victimAddress)).toBe(true);
    const down = await cluster.run(['status']);
    expect(down.stdout + down.stderr).toContain(`host ${victimAddress} does not answer`);
    await hosts.start(victim);
    // Back, its old node is found ended (its processes died with the container) and cleaned up: its name is free, not run twice.
    await waitFor('the old node cleaned up', async () => ((await status()).nodes.some((node) => node.name === onVictim?.name) ? undefined : true));
    expect(await rayLeaders(victim)).toEqual([]);
    const names = (await status()).nodes.map((node) => node.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('the watcher SIGKILLed mid-launch and started again: no node twice, none orphaned on any host', async () => {
    const burst = cluster.run(['job', 'submit', '--working-dir', path.dirname(driverFile('burst-job.py')), '--', 'python', 'burst-job.py', '6', '15']);
    // Launched, not alive in Ray yet (a name used before may still have its dead node in Ray).
    const onItsWay = (node: StatusNode) => node.role === 'worker' && (node.state === 'running' || node.state === 'starting') && (node.ray === null || node.ray.status === 'DEAD');
    await waitFor('a launch on its way', async () => ((await status()).nodes.some(onItsWay) ? true : undefined));
    const watcher = await cluster.json<{ pid?: number }>(['watcher', 'status']);
    expect(watcher.pid).toBeGreaterThan(0);
    process.kill(watcher.pid as number, 'SIGKILL');
    expect((await cluster.run(['watcher', 'start'])).exitCode).toBe(0);
    expect((await burst).exitCode).toBe(0);
    await waitFor('back at min: 2 workers', async () => ((await aliveWorkers()).length === 2 ? true : undefined));
    const listed = (await status()).nodes;
    const names = listed.map((node) => node.name);
    expect(new Set(names).size).toBe(names.length);
    // Every Ray leader on the hosts is a node the cluster lists: none started twice, none left without its record.
    const leaders = (await Promise.all([0, 1, 2].map((index) => rayLeaders(index)))).flat().sort();
    expect(leaders).toEqual(listed.filter((node) => node.state === 'running').map((node) => node.name).sort());
  });

  it('the head\'s GCS killed on its host: the watcher restarts the head on its address and ports, the workers keep their node ids and raylets', async () => {
    const before = await status();
    const workers = alive(before.nodes).filter((node) => node.role === 'worker');
    expect(workers).toHaveLength(2);
    const hostOf = (node: StatusNode) => hosts.addresses.indexOf(node.address ?? '');
    const raylets = async () => Object.fromEntries(await Promise.all(workers.map(async (node) => [node.name, (await rayProcesses(hostOf(node), 'raylet'))[node.name]])));
    const rayletsBefore = await raylets();
    expect(Object.values(rayletsBefore).every((pid) => typeof pid === 'number' && pid > 0)).toBe(true);
    const headBefore = before.nodes.find((node) => node.role === 'head');
    const gcs = (await rayProcesses(0, 'gcs_server'))[`${name}-head`];
    expect(gcs).toBeGreaterThan(0);
    const killedAt = Date.now();
    expect((await hosts.ssh(0, `kill -9 ${gcs}`)).exitCode).toBe(0);
    // Back once Ray has a new head (a restarted head is a new node) and both workers alive beside it.
    const after = await waitFor('the head restarted and both workers alive in Ray', async () => {
      const now = await status().catch(() => undefined);
      const head = now?.nodes.find((node) => node.role === 'head');
      if (now === undefined || now.rayError !== undefined || head === undefined || alive([head]).length === 0 || head.ray?.nodeId === headBefore?.ray?.nodeId) return undefined;
      return alive(now.nodes).length === 3 ? now : undefined;
    }, 150_000);
    console.log(`head GCS killed: back with both workers in ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
    expect(after.address).toBe(before.address);
    expect(after.address).toBe(`${hosts.addresses[0]}:6379`);
    expect(after.ports).toEqual(before.ports);
    expect(Object.fromEntries(alive(after.nodes).filter((node) => node.role === 'worker').map((node) => [node.name, node.ray?.nodeId]))).toEqual(Object.fromEntries(workers.map((node) => [node.name, node.ray?.nodeId])));
    expect(await raylets()).toEqual(rayletsBefore);
    // Ray's word that they are alive comes from the restored store: a task held on each node (one CPU each) shows the
    // workers work under the node ids they had, once the new head's dashboard (which takes jobs) answers too.
    await waitFor('the head\'s dashboard answering', async () => ((await cluster.run(['job', 'list'])).exitCode === 0 ? true : undefined), 60_000);
    const job = await cluster.run(['job', 'submit', '--working-dir', path.dirname(driverFile('nodes-of-tasks.py')), '--', 'python', 'nodes-of-tasks.py', '3', '4']);
    expect(job.exitCode, job.stderr).toBe(0);
    expect(job.stdout).toContain(`NODES ${alive(after.nodes).map((node) => node.ray?.nodeId).sort().join(' ')}`);
    const events = await cluster.json<Array<{ type: string; awayMs?: number }>>(['events', '--since', '10m']);
    expect(events.filter((event) => event.type === 'head-died')).toHaveLength(1);
    const restarted = events.filter((event) => event.type === 'head-restarted');
    expect(restarted).toHaveLength(1);
    console.log(`head-restarted after ${restarted[0]?.awayMs ?? '?'} ms away`);
  });

  it('down: no Ray process, no record, no agent on any host, no ssh session here; another cluster\'s process on a host is left alone', async () => {
    const foreign = await hosts.ssh(0, "mkdir -p /root/.rayfleet/clusters/other/nodes && (RAYFLEET_NODE_RECORD=/root/.rayfleet/clusters/other/nodes/" + name + "-worker-1.json setsid sleep 600 >/dev/null 2>&1 < /dev/null &) && echo started");
    expect(foreign.stdout).toContain('started');
    const down = await cluster.run(['down']);
    expect(down.exitCode, down.stderr).toBe(0);
    for (const index of [0, 1, 2]) {
      const left = await hosts.ssh(index, `pgrep -f '[r]aylet|[g]cs_server|[r]ay start|[h]ost_agent' || true; ls /root/.rayfleet/clusters | grep '^${name}-' || true`);
      expect(left.stdout.trim(), `host ${index + 1}`).toBe('');
    }
    // The brackets keep pgrep from finding the shell that runs it, whose command line holds the pattern too.
    expect((await hosts.ssh(0, "pgrep -f '[s]leep 600'")).stdout.trim()).not.toBe('');
    expect(cluster.leftOver()).toEqual([]);
    const sshHere = await import('execa').then(({ execa }) => execa('pgrep', ['-f', hosts.configFile], { reject: false }));
    expect(sshHere.stdout.trim()).toBe('');
  });
});
