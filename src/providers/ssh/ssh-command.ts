// The `ssh` command line rayfleet runs: the system client (the user's config, agent and ProxyJump honoured), never a prompt.
import type { SshHostSettings, SshProviderSettings } from './ssh-settings.js';

/** Quotes one word for the remote shell, which `ssh` hands its command line to. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The arguments of `ssh` that reach a host and run `remoteCommand` there. BatchMode: a host that asks for a password or
 * a passphrase fails at once instead of waiting on a terminal nobody watches. Keep-alives: a host that vanished ends the
 * session within about 15 s, so its nodes become unknown instead of the watcher waiting on a dead connection. Host keys:
 * `accept-new` at most, unless the user's own config is stricter (`ssh -G` tells, see hostKeyOption); any key only
 * with `insecureHostKeys`, for throwaway test hosts.
 */
export function sshArgs(host: SshHostSettings, settings: SshProviderSettings, hostKeyChecking: string, remoteCommand: string): string[] {
  const args = ['-T', '-o', 'BatchMode=yes', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3', '-o', 'ConnectTimeout=10'];
  if (settings.sshConfig !== undefined) args.push('-F', settings.sshConfig);
  if (settings.identityFile !== undefined) args.push('-i', settings.identityFile, '-o', 'IdentitiesOnly=yes');
  const user = host.user ?? settings.user;
  if (user !== undefined) args.push('-l', user);
  if (host.port !== undefined) args.push('-p', String(host.port));
  if (settings.insecureHostKeys === true) args.push('-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR');
  else args.push('-o', `StrictHostKeyChecking=${hostKeyChecking}`);
  args.push('--', host.address, remoteCommand);
  return args;
}

/**
 * What StrictHostKeyChecking rayfleet passes, given what the user's config resolves to (`ssh -G`): `yes` stays `yes`;
 * anything looser (`ask`, which cannot be answered without a terminal, or `no`) becomes `accept-new`.
 */
export function hostKeyOption(resolved: string | undefined): string {
  return resolved === 'true' || resolved === 'yes' ? 'yes' : 'accept-new';
}
