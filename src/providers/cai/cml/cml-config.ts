// Where the CML API is and which key to use, from the environment: ours from outside CML, CML's own inside a workload.
import { RayfleetError } from '../../../errors.js';
import { readEnv } from '../../../environment.js';

export interface CmlConfig {
  /** e.g. `https://ml-1234.example.cloudera.site`, without a trailing slash or `/api/v2`. */
  host: string;
  apiKey: string;
  /** The project to work in, when the environment names one. */
  projectId: string | undefined;
}

/**
 * Key: `CML_API_KEY`, else `CDSW_APIV2_KEY` (set by CML inside workloads).
 * Host: `CML_HOST`, else `CDSW_API_URL` without its `/api/v1` (set by CML inside workloads, and it carries the
 * scheme), else `https://$CDSW_DOMAIN`.
 * Project: `CML_PROJECT_ID`, else `CDSW_PROJECT_ID`.
 * `specHost` (provider.host in rayfleet.yaml) is taken before all of those.
 */
export function resolveCmlConfig(env: NodeJS.ProcessEnv = process.env, specHost?: string): CmlConfig {
  const apiKey = readEnv('CML_API_KEY', env) ?? readEnv('CDSW_APIV2_KEY', env);
  if (apiKey === undefined) {
    throw new RayfleetError('USAGE', 'no CML API key: set CML_API_KEY (or CDSW_APIV2_KEY, which CML sets inside its workloads)', {
      details: 'Create a key in Cloudera AI under User Settings → API Keys, and export it as CML_API_KEY. Never pass it on the command line.',
    });
  }
  // A host the spec names wins over the environment's; the key never comes from the spec.
  const host = specHost === undefined ? hostFrom(env) : normalizeHost(specHost);
  if (host === undefined) {
    throw new RayfleetError('USAGE', 'no CML host: set CML_HOST (e.g. https://ml-1234.example.cloudera.site), or CDSW_DOMAIN inside a CML workload');
  }
  return { host, apiKey, projectId: readEnv('CML_PROJECT_ID', env) ?? readEnv('CDSW_PROJECT_ID', env) };
}

function hostFrom(env: NodeJS.ProcessEnv): string | undefined {
  const explicit = readEnv('CML_HOST', env);
  if (explicit !== undefined) return normalizeHost(explicit);
  const apiUrl = readEnv('CDSW_API_URL', env);
  if (apiUrl !== undefined) return normalizeHost(apiUrl.replace(/\/api\/v1\/?$/, ''));
  const domain = readEnv('CDSW_DOMAIN', env);
  return domain === undefined ? undefined : normalizeHost(domain);
}

/** A host as people write it (`ml-1.site`, `https://ml-1.site/`, `…/api/v2`) as the base URL of the API. */
export function normalizeHost(host: string): string {
  const withScheme = /^https?:\/\//.test(host) ? host : `https://${host}`;
  return withScheme.replace(/\/+$/, '').replace(/\/api\/v2$/, '');
}
