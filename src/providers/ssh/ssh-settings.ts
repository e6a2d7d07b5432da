// What a spec says of an SSH pool: its hosts, how to log in to them, and which Python runs Ray there.

/** One machine of the pool, as the spec lists it. */
export interface SshHostSettings {
  /** A name or address this machine's `ssh` reaches, and the other hosts reach it by (Ray's nodes talk to each other). */
  address: string;
  user?: string | undefined;
  port?: number | undefined;
  /** What the host offers rayfleet's nodes; unset, asked of the host (nproc, MemTotal, nvidia-smi). */
  cpus?: number | undefined;
  gpus?: number | undefined;
  memoryBytes?: number | undefined;
}

export interface SshProviderSettings {
  hosts: SshHostSettings[];
  /** The login of every host that names none; else the current user or ~/.ssh/config's. */
  user?: string | undefined;
  identityFile?: string | undefined;
  /** An ssh_config of its own (ssh -F), instead of ~/.ssh/config. */
  sshConfig?: string | undefined;
  /** An interpreter with Ray on every host; unset, rayfleet installs its managed runtime on each. */
  python?: string | undefined;
  /** The address of the host the head runs on; unset, the first host's. */
  headHost?: string | undefined;
  /** Accept any host key, and remember none: for throwaway test hosts only. */
  insecureHostKeys?: boolean | undefined;
}

/** The host the head runs on: `headHost`, else the first. */
export function headHostOf(settings: SshProviderSettings): SshHostSettings {
  const named = settings.headHost === undefined ? settings.hosts[0] : settings.hosts.find((host) => host.address === settings.headHost);
  if (named === undefined) throw new Error(`provider.headHost ${settings.headHost ?? ''} is not one of provider.hosts`);
  return named;
}
