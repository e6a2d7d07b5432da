// The SSH backend: a pool of machines reached with the system `ssh`, one agent per host, the head on the first host.
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Backend } from '../backend.js';
import { SshHostAgent } from './host-agent.js';
import { resolveHostKeyChecking } from './host-key-checking.js';
import { HostRuntimes } from './host-runtime.js';
import { SshProvider } from './ssh-provider.js';
import type { SshHostSettings, SshProviderSettings } from './ssh-settings.js';

/** An assumption: a local node's times (measured) plus an SSH round trip to the host's agent. */
const SIMULATION = {
  launch: { kind: 'lognormal', medianMs: 17_500, p95Ms: 25_000 },
  terminate: { kind: 'lognormal', medianMs: 16_500, p95Ms: 17_500 },
  startsInProvider: false,
  quotaCode: 'HOSTS_FULL',
  source: "an assumption: a local node's times plus an SSH round trip",
} as const;

export function sshBackend(settings: SshProviderSettings): Backend {
  return {
    // Each host is a machine of its own: the head's ports are the defaults there, unless the spec sets them.
    portPolicy: { kind: 'head-machine-own' },
    stateDir: undefined,
    runsRayHere: false,
    driverConnection: 'ray-client',
    // The head's host binds every interface, so this machine and the other hosts reach the proxy.
    serveHost: '0.0.0.0',
    unreachableHeadAdvice: undefined,
    simulation: SIMULATION,
    createProvider: ({ spec, head, stateDir, onProgress }) => {
      const { remoteStateDir, remoteTempDir } = hostDirectories(spec.name, stateDir);
      const hostKeys = new Map<string, Promise<string>>();
      const hostKeyChecking = (host: SshHostSettings): Promise<string> => {
        let checking = hostKeys.get(host.address);
        if (checking === undefined) {
          checking = resolveHostKeyChecking(host, settings);
          hostKeys.set(host.address, checking);
        }
        return checking;
      };
      const agents = new Map<string, SshHostAgent>();
      const agentFor = (host: SshHostSettings): SshHostAgent => {
        let agent = agents.get(host.address);
        if (agent === undefined) {
          agent = new SshHostAgent({ host, settings, stateDir: remoteStateDir, tempDir: remoteTempDir, hostKeyChecking: () => hostKeyChecking(host) });
          agents.set(host.address, agent);
        }
        return agent;
      };
      const runtimes = new HostRuntimes({ settings, rayVersion: spec.ray.version, agentFor, hostKeyChecking, onProgress });
      return new SshProvider({
        cluster: spec.name,
        settings,
        head,
        stateDir,
        remoteStateDir,
        remoteTempDir,
        agentFor,
        prepareRuntime: (host, agent, facts, signal) => runtimes.prepare(host, agent, facts, signal),
        onHostDown: (host) => runtimes.forget(host),
      });
    },
  };
}

/**
 * Where a cluster lives on each host: its directory under the login's home (records, logs, its token, the head's GCS
 * store) and its nodes' Ray sessions under /tmp (short: unix socket paths are capped at 107 bytes). Two rayfleet homes
 * (or machines) may run a cluster of one name on the same host: the digest of this machine and state directory keeps
 * theirs apart.
 */
export function hostDirectories(cluster: string, stateDir: string): { remoteStateDir: string; remoteTempDir: string } {
  const digest = createHash('sha256').update(`${os.hostname()}:${path.resolve(stateDir)}`).digest('hex').slice(0, 8);
  return { remoteStateDir: `~/.rayfleet/clusters/${cluster}-${digest}`, remoteTempDir: `/tmp/rf-${digest}` };
}
