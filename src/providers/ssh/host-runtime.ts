// Ray on each SSH host: the host's own (`python:`), checked against the head's, or rayfleet's managed runtime, installed from wheels sent over SSH.
import { spawn } from 'node:child_process';
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { RayfleetError, messageOf } from '../../errors.js';
import { RAY_EXTRAS, defaultCacheDir, rayRequirement } from '../../ray/runtime.js';
import type { HostAgent, HostFacts } from './host-agent.js';
import { shellQuote } from './ssh-command.js';
import { sshExec } from './ssh-exec.js';
import type { HostRuntime } from './ssh-provider.js';
import { headHostOf, type SshHostSettings, type SshProviderSettings } from './ssh-settings.js';

export interface HostRuntimesOptions {
  settings: SshProviderSettings;
  rayVersion: string;
  agentFor: (host: SshHostSettings) => HostAgent;
  hostKeyChecking: (host: SshHostSettings) => Promise<string>;
  onProgress: (line: string) => void;
  /** Where the wheels are downloaded here (default: the rayfleet cache's `wheels/`). */
  cacheDir?: string;
}

interface Checked {
  runtime: HostRuntime;
  python: string;
}

/** Where the managed runtime lives on a host, relative to the login's home: one per Ray version, extras and Python minor. */
function managedKey(rayVersion: string, pythonMinor: string): string {
  return `ray-${rayVersion}-${RAY_EXTRAS.join('-')}-py${pythonMinor}`;
}

export class HostRuntimes {
  private readonly checked = new Map<string, Promise<Checked>>();

  constructor(private readonly options: HostRuntimesOptions) {}

  /**
   * Ray on `host`, the same Ray and Python as the head's host (Ray refuses a driver or node whose Python patch version
   * differs from the cluster's): asked once per host and session.
   */
  async prepare(host: SshHostSettings, agent: HostAgent, facts: HostFacts, signal?: AbortSignal): Promise<HostRuntime> {
    const head = headHostOf(this.options.settings);
    const mine = this.once(host, () => this.check(host, agent, facts, signal));
    if (host.address !== head.address) {
      const headAgent = this.options.agentFor(head);
      const headChecked = await this.once(head, async () => this.check(head, headAgent, await headAgent.hello(signal), signal));
      const { python } = await mine;
      if (python !== headChecked.python) {
        throw new RayfleetError('RUNTIME_MISMATCH', `host ${host.address} runs Python ${python}, the head's host ${head.address} Python ${headChecked.python}`, {
          details: "Ray refuses nodes whose Python patch version differs from the head's: install the same Python on every host, or point provider.python at one that is.",
        });
      }
    }
    return (await mine).runtime;
  }

  /** Forgets what was checked of a host (its session ended, or it was restarted). */
  forget(host: SshHostSettings): void {
    this.checked.delete(host.address);
  }

  private once(host: SshHostSettings, check: () => Promise<Checked>): Promise<Checked> {
    let checked = this.checked.get(host.address);
    if (checked === undefined) {
      checked = check();
      this.checked.set(host.address, checked);
      checked.catch(() => this.checked.delete(host.address));
    }
    return checked;
  }

  private async check(host: SshHostSettings, agent: HostAgent, facts: HostFacts, signal: AbortSignal | undefined): Promise<Checked> {
    const { python: given } = this.options.settings;
    const python = given ?? `${facts.home}/.rayfleet/runtimes/${managedKey(this.options.rayVersion, minorOf(facts.python))}/bin/python`;
    let info = await agent.pythonInfo(python, signal).catch((error: unknown) => {
      if (given !== undefined) throw error;
      return undefined;
    });
    if (info?.ray !== this.options.rayVersion && given === undefined) {
      await this.install(host, facts, signal);
      info = await agent.pythonInfo(python, signal);
    }
    if (info?.ray !== this.options.rayVersion) {
      throw new RayfleetError('RUNTIME_MISMATCH', `${python} on host ${host.address} has Ray ${info?.ray ?? '(none)'}, the cluster runs Ray ${this.options.rayVersion}`, {
        details: 'Install that Ray there, point provider.python at an interpreter that has it, or leave provider.python unset to let rayfleet install its runtime on each host.',
      });
    }
    return { runtime: { rayCommand: path.posix.join(path.posix.dirname(python), 'ray') }, python: info.python };
  }

  /**
   * The managed runtime on a host without internet: wheels downloaded here for its Python, copied over SSH, and
   * installed with `pip --no-index` into a venv of the host's python3 (which needs venv, nothing else).
   */
  private async install(host: SshHostSettings, facts: HostFacts, signal: AbortSignal | undefined): Promise<void> {
    const progress = (line: string): void => this.options.onProgress(`[${host.address}] ${line}`);
    const minor = minorOf(facts.python);
    const key = managedKey(this.options.rayVersion, minor);
    const wheels = await this.downloadWheels(minor, progress, signal);
    const hostKey = await this.options.hostKeyChecking(host);
    const { settings } = this.options;
    const remoteWheels = `.rayfleet/wheels/${key}`;
    const remoteVenv = `.rayfleet/runtimes/${key}`;
    progress(`copying ${await sizeOf(wheels)} of wheels to ${remoteWheels}`);
    const tar = spawn('tar', ['-c', '-C', wheels, '.'], { stdio: ['ignore', 'pipe', 'ignore'], signal });
    await sshExec(host, settings, hostKey, `mkdir -p ${remoteWheels} && tar -x -C ${remoteWheels}`, { stdin: tar.stdout, signal, failureCode: 'RUNTIME_INSTALL_FAILED', what: `copying wheels to ${host.address}` });
    progress(`installing ${rayRequirement(this.options.rayVersion)} into ~/${remoteVenv}`);
    // A venv left half-built by an install that was killed is not trusted: built again, then marked ready.
    const install = [
      `rm -rf ${remoteVenv}`,
      `python3 -m venv ${remoteVenv}`,
      `${remoteVenv}/bin/pip install --quiet --disable-pip-version-check --no-index --find-links ${remoteWheels} ${shellQuote(rayRequirement(this.options.rayVersion))}`,
    ].join(' && ');
    await sshExec(host, settings, hostKey, install, { signal, failureCode: 'RUNTIME_INSTALL_FAILED', what: `installing Ray on ${host.address}` });
    progress('ray runtime ready');
  }

  /** The wheels of Ray and everything it needs for one Python minor, downloaded here once and kept. */
  private async downloadWheels(minor: string, progress: (line: string) => void, signal: AbortSignal | undefined): Promise<string> {
    const dir = path.join(this.options.cacheDir ?? path.join(defaultCacheDir(), 'wheels'), `ray-${this.options.rayVersion}-${RAY_EXTRAS.join('-')}-py${minor}`);
    await mkdir(dir, { recursive: true });
    progress(`downloading the wheels of ${rayRequirement(this.options.rayVersion)} for Python ${minor} into ${dir}`);
    try {
      await execa('python3', ['-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--only-binary=:all:', '--python-version', minor, '-d', dir, rayRequirement(this.options.rayVersion)], { cancelSignal: signal });
    } catch (error) {
      throw new RayfleetError('RUNTIME_INSTALL_FAILED', `cannot download the wheels of ${rayRequirement(this.options.rayVersion)} here: ${messageOf(error).split('\n').at(-1) ?? ''}`, {
        cause: error,
        details: 'The hosts need no internet, but this machine must reach PyPI once; or set provider.python to an interpreter with Ray on every host.',
      });
    }
    return dir;
  }
}

function minorOf(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

async function sizeOf(dir: string): Promise<string> {
  let bytes = 0;
  for (const file of await readdir(dir)) bytes += (await stat(path.join(dir, file))).size;
  return `${(bytes / 2 ** 20).toFixed(0)} MB`;
}
