// The one way rayfleet makes its CML API client: the key from the environment only, host and project from the spec first.
import { CmlClient } from './cml-client.js';
import { resolveCmlConfig } from './cml-config.js';

export interface CmlConnection {
  client: CmlClient;
  /** provider.projectId, else the environment's (CML_PROJECT_ID, CDSW_PROJECT_ID); undefined when neither names one. */
  projectId: string | undefined;
  /** The workspace's URL (provider.host, else CML_HOST / CDSW_API_URL's). */
  workspaceUrl: string;
  /** For the ingress in front of an application, where it takes the key (provider.frontDoor: api-key). */
  apiKey: string;
}

export function connectToCml(env: NodeJS.ProcessEnv, provider: { host?: string | undefined; projectId?: string | undefined } = {}): CmlConnection {
  const config = resolveCmlConfig(env, provider.host);
  return { client: new CmlClient({ host: config.host, apiKey: config.apiKey, traceFile: env.RAYFLEET_HTTP_TRACE }), projectId: provider.projectId ?? config.projectId, workspaceUrl: config.host, apiKey: config.apiKey };
}
