// How strictly host keys are checked for a host: what the user's ssh config resolves to, never looser than accept-new.
import { execa } from 'execa';
import { hostKeyOption } from './ssh-command.js';
import type { SshHostSettings, SshProviderSettings } from './ssh-settings.js';

/** Asks `ssh -G` (which reads the config and opens no connection) what StrictHostKeyChecking the host gets. */
export async function resolveHostKeyChecking(host: SshHostSettings, settings: SshProviderSettings): Promise<string> {
  if (settings.insecureHostKeys === true) return 'no';
  const args = ['-G'];
  if (settings.sshConfig !== undefined) args.push('-F', settings.sshConfig);
  const user = host.user ?? settings.user;
  if (user !== undefined) args.push('-l', user);
  if (host.port !== undefined) args.push('-p', String(host.port));
  args.push('--', host.address);
  const result = await execa('ssh', args, { reject: false, timeout: 10_000 });
  const line = result.stdout.split('\n').find((entry) => entry.startsWith('stricthostkeychecking '));
  return hostKeyOption(line?.split(' ')[1]);
}
