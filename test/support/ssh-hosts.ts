// SSH hosts for the end-to-end tests: containers of the test image on a Docker network of their own, each running sshd
// with host keys it made at start, reached with a key pair, known-hosts file and ssh config made for the test.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { pollUntil } from '../../src/wait/poll-until.js';
import { docker, ensureTestRayImage } from './docker.js';

export interface SshHosts {
  /** Each host's address on the network, the way the spec lists it. */
  addresses: string[];
  /** The ssh config (`provider.sshConfig`): the key, the known-hosts file, root. */
  configFile: string;
  /** Runs a command on a host over ssh, as rayfleet reaches it. */
  ssh(index: number, command: string): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** `docker kill`: the host and every process on it gone at once. */
  kill(index: number): Promise<void>;
  /** Starts a killed host again, on its address, and waits for its sshd. */
  start(index: number): Promise<void>;
  /** The containers' names, to look behind rayfleet's back. */
  containers: string[];
  remove(): Promise<void>;
}

/**
 * Each container makes its own host keys (`ssh-keygen -A`: the image has none) and its own /run/sshd, has a shm of its
 * own, and takes RAY_* variables from the client (sshd AcceptEnv), so a test can shorten Ray's health checks on every
 * node through the ssh config's SetEnv. Static addresses, so a host started again is the same host.
 */
export async function startSshHosts(prefix: string, count: number, rayEnv: Record<string, string> = {}): Promise<SshHosts> {
  const image = await ensureTestRayImage();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-ssh-'));
  const key = path.join(dir, 'id_ed25519');
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'rayfleet-test', '-f', key]);
  const network = `${prefix}-net`;
  const subnet = await createNetwork(network);
  const addresses = Array.from({ length: count }, (_, index) => `${subnet}.${10 + index}`);
  const containers = addresses.map((_, index) => `${prefix}-h${index + 1}`);
  const configFile = path.join(dir, 'ssh_config');
  const setEnv = Object.entries(rayEnv).map(([name, value]) => `${name}=${value}`).join(' ');
  await writeFile(
    configFile,
    [
      'Host *',
      '  User root',
      `  IdentityFile ${key}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${path.join(dir, 'known_hosts')}`,
      '  StrictHostKeyChecking accept-new',
      '  LogLevel ERROR',
      ...(setEnv === '' ? [] : [`  SetEnv ${setEnv}`]),
      '',
    ].join('\n'),
  );
  const sshdCommand = "ssh-keygen -A >/dev/null && mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -o AcceptEnv='RAY_*'";
  const ssh = async (index: number, command: string) => {
    const result = await execa('ssh', ['-F', configFile, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', addresses[index] as string, command], { reject: false, timeout: 60_000 });
    return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
  };
  const waitForSshd = (index: number) =>
    pollUntil(async () => ((await ssh(index, 'true')).exitCode === 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 200, describe: () => `sshd on ${addresses[index]}` });
  for (const [index, name] of containers.entries()) {
    await docker(
      'run', '-d', '--name', name, '--hostname', `host${index + 1}`, '--label', 'rayfleet.test-ssh-host=true',
      '--network', network, '--ip', addresses[index] as string, '--shm-size', '512m',
      '-v', `${key}.pub:/root/.ssh/authorized_keys:ro`,
      image, 'sh', '-c', sshdCommand,
    );
  }
  await Promise.all(containers.map((_, index) => waitForSshd(index)));
  return {
    addresses,
    configFile,
    ssh,
    containers,
    kill: async (index) => {
      await docker('kill', containers[index] as string);
    },
    start: async (index) => {
      await docker('start', containers[index] as string);
      await waitForSshd(index);
    },
    remove: async () => {
      await docker('rm', '-f', ...containers).catch(() => undefined);
      await docker('network', 'rm', network).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A network on a /24 no other network here has: tried in turn from a random start. */
async function createNetwork(name: string): Promise<string> {
  const start = 100 + Math.floor(Math.random() * 100);
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const subnet = `172.29.${(start + attempt) % 250}`;
    const result = await execa('docker', ['network', 'create', '--label', 'rayfleet.test-ssh-host=true', '--subnet', `${subnet}.0/24`, name], { reject: false });
    if (result.exitCode === 0) return subnet;
    if (!/overlap|already exists/i.test(result.stderr)) throw new Error(`docker network create ${name}: ${result.stderr}`);
  }
  throw new Error(`no free /24 under 172.29.0.0/16 for ${name}`);
}
