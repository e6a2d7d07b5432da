// What a spec says of an SSH pool: its hosts, how to log in to them, and which Python runs Ray there.
import type { ProviderSpec, SshHostSpec } from '../../spec/schema.js';

export type SshProviderSettings = Omit<Extract<ProviderSpec, { type: 'ssh' }>, 'type'>;
export type SshHostSettings = SshHostSpec;

/** The host the head runs on: `headHost`, else the first (the schema checks that headHost is one of the hosts). */
export function headHostOf(settings: SshProviderSettings): SshHostSettings {
  const named = settings.headHost === undefined ? settings.hosts[0] : settings.hosts.find((host) => host.address === settings.headHost);
  if (named === undefined) throw new Error(`provider.headHost ${settings.headHost ?? ''} is not one of provider.hosts`);
  return named;
}
