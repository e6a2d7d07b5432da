// The one place a spec's provider type picks its backend: everything that differs by backend is read from what this returns.
import type { ProviderSpec } from '../spec/schema.js';
import { PROVIDER_TYPES } from '../spec/schema.js';
import type { Backend } from './backend.js';
import { caiBackend } from './cai/cai-backend.js';
import { dockerBackend } from './docker/docker-backend.js';
import { localBackend } from './local/local-backend.js';
import { sshBackend } from './ssh/ssh-backend.js';

export function backendOf(provider: ProviderSpec): Backend {
  switch (provider.type) {
    case 'local':
      return localBackend(provider);
    case 'docker':
      return dockerBackend(provider);
    case 'cai':
      return caiBackend(provider);
    case 'ssh':
      return sshBackend(provider);
  }
}

/** Every backend with its defaults as a spec naming only its type has them: for help texts that list them all. */
export function everyBackend(): { type: ProviderSpec['type']; backend: Backend }[] {
  return PROVIDER_TYPES.map((type) => ({ type, backend: backendOf(type === 'ssh' ? { type, hosts: [] } : { type }) }));
}
