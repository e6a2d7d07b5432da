// The SSH provider over the real host agent (launchers/host_agent.py) on this machine: `ssh` stood in by a shell that runs
// the remote command here in a home of the test's own, and `ray` by a script that does what the agent can see of Ray.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProcStat } from '../../process/proc-stat.js';
import { pollUntil } from '../../wait/poll-until.js';
import type { LaunchRequest } from '../node-provider.js';
import { SshHostAgent } from './host-agent.js';
import { SshProvider } from './ssh-provider.js';
import type { SshHostSettings } from './ssh-settings.js';

const REMOTE_STATE_DIR = '~/.rayfleet/clusters/t-x';

/** ssh as far as the agent's session goes: its last argument run by a shell here, as the remote login shell would. */
const FAKE_SSH = (home: string) => `#!/bin/sh
for last; do :; done
export HOME=${home}
exec sh -c "$last"
`;

/**
 * \`ray start --block\`: it notes whether its temp dir still names a last start (as Ray's ray_current_cluster does) and
 * the store it was given, names its own start there, leaves a child behind in its group (a raylet waiting for a dead
 * GCS) and blocks.
 */
const FAKE_RAY = `#!/bin/sh
temp=""
for arg; do case "$arg" in --temp-dir=*) temp="\${arg#--temp-dir=}";; esac; done
mkdir -p "$temp"
if [ -e "$temp/ray_current_cluster" ]; then echo named >> "$HOME/starts"; else echo fresh >> "$HOME/starts"; fi
echo "$RAY_gcs_storage_path" >> "$HOME/stores"
echo 127.0.0.1:6379 > "$temp/ray_current_cluster"
sleep 600 &
echo $! > "$HOME/left-behind"
exec sleep 600
`;

describe('SshProvider over the real host agent (ssh stood in by a shell)', () => {
  let dir: string;
  let home: string;
  let savedPath: string | undefined;
  let agent: SshHostAgent;
  let provider: SshProvider;
  let head: LaunchRequest;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-ssh-agent-'));
    home = path.join(dir, 'home');
    const bin = path.join(dir, 'bin');
    await mkdir(home);
    await mkdir(bin);
    await writeFile(path.join(bin, 'ssh'), FAKE_SSH(home));
    await writeFile(path.join(bin, 'ray'), FAKE_RAY);
    await chmod(path.join(bin, 'ssh'), 0o755);
    await chmod(path.join(bin, 'ray'), 0o755);
    savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath ?? ''}`;
    const host: SshHostSettings = { address: 'localhost', cpus: 2, gpus: 0 };
    const settings = { hosts: [host] };
    agent = new SshHostAgent({ host, settings, stateDir: REMOTE_STATE_DIR, tempDir: path.join(dir, 'rf'), hostKeyChecking: async () => 'accept-new' });
    provider = new SshProvider({
      cluster: 't',
      settings,
      head: { gcsPort: 6379, dashboardPort: 8265, clientPort: 10001, servePort: 8000 },
      stateDir: path.join(dir, 'state'),
      remoteStateDir: REMOTE_STATE_DIR,
      remoteTempDir: path.join(dir, 'rf'),
      agentFor: () => agent,
      prepareRuntime: async () => ({ rayCommand: path.join(bin, 'ray') }),
      stopGraceMs: 2_000,
    });
    head = {
      name: 't-head',
      role: 'head',
      group: 'head',
      index: 0,
      resources: { cpus: 1, gpus: 0, custom: {} },
      env: { RAY_gcs_storage: 'rocksdb', RAY_gcs_storage_path: provider.gcsStore().path },
    };
  });

  afterAll(async () => {
    await provider?.terminate('t-head').catch(() => undefined);
    provider?.close();
    process.env.PATH = savedPath;
    await rm(dir, { recursive: true, force: true });
  });

  const lines = async (file: string) => (await readFile(path.join(home, file), 'utf8').catch(() => '')).split('\n').filter((line) => line !== '');
  const alive = (pid: number) => {
    const stat = readProcStat(pid);
    return stat !== undefined && stat.state !== 'Z';
  };

  it('clears the store on the host, and gives the head its path as the host sees it (~ resolved there)', async () => {
    const store = path.join(home, '.rayfleet/clusters/t-x/gcs-store');
    await mkdir(store, { recursive: true });
    await writeFile(path.join(store, 'session_name'), 'session_of_a_previous_cluster');
    await provider.gcsStore().clear();
    expect(existsSync(store)).toBe(false);
    await provider.launch(head);
    expect(await pollUntil(async () => (await lines('stores')).at(0), { timeoutMs: 10_000, describe: () => 'the head to start' })).toBe(store);
  });

  it('refuses to remove anything outside the cluster\'s directory and its temp dir', async () => {
    const outside = path.join(dir, 'outside');
    await writeFile(outside, 'not the cluster\'s');
    await expect(agent.remove(outside)).rejects.toMatchObject({ code: 'USAGE' });
    await expect(agent.remove(`${REMOTE_STATE_DIR}/../../../../outside`)).rejects.toMatchObject({ code: 'USAGE' });
    await expect(agent.remove(REMOTE_STATE_DIR)).rejects.toMatchObject({ code: 'USAGE' });
    expect(existsSync(outside)).toBe(true);
  });

  it('restarts the head only once its process is gone: what it left is stopped, its last start forgotten, the same store given', async () => {
    expect(await provider.restartHead(head)).toBeUndefined();
    expect(await lines('starts')).toEqual(['fresh']);
    const [running] = await provider.list();
    const leader = Number(running?.providerId.split(':')[1]);
    const [leftBehind] = (await lines('left-behind')).map(Number);
    expect(alive(leader) && alive(leftBehind ?? 0)).toBe(true);
    process.kill(leader, 'SIGKILL');
    // Its group lives on in the child it left: not running, and not yet gone.
    await pollUntil(async () => ((await provider.list())[0]?.state === 'failed' ? true : undefined), { timeoutMs: 10_000, describe: () => 'the head listed failed' });
    const restarted = await provider.restartHead(head);
    expect(restarted).toMatchObject({ name: 't-head', state: 'running', address: 'localhost:6379' });
    expect(restarted?.providerId).not.toBe(running?.providerId);
    expect(alive(leftBehind ?? 0)).toBe(false);
    expect(await pollUntil(async () => ((await lines('starts')).length === 2 ? lines('starts') : undefined), { timeoutMs: 10_000, describe: () => 'the head started again' })).toEqual(['fresh', 'fresh']);
    const stores = await lines('stores');
    expect(stores[1]).toBe(stores[0]);
  });
});
