// The head application as a user reaches it from outside: its URL on the workspace's ingress, and its dashboard's token.
import { RayfleetError } from '../../errors.js';
import { headName } from '../node-names.js';
import { subdomainFor } from './application-spec.js';
import { connectToCml } from './cml-connection.js';
import { resolveCmlConfig } from './cml-config.js';
import { headDashboardTokenFile } from './project-layout.js';

export interface CaiProviderSettings {
  host?: string | undefined;
  projectId?: string | undefined;
}

/** https://<subdomain>.<workspace domain>, where CML serves the head's CDSW_APP_PORT; undefined when no project is named. */
export function headApplicationUrl(cluster: string, provider: CaiProviderSettings, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const config = resolveCmlConfig(env, provider.host);
  const projectId = provider.projectId ?? config.projectId;
  if (projectId === undefined) return undefined;
  const workspace = new URL(config.host);
  return `${workspace.protocol}//${subdomainFor(headName(cluster), projectId)}.${workspace.host}`;
}

/** The token of the dashboard in the head, read from the project through the API (the head writes it there, 0600). */
export async function readHeadDashboardToken(cluster: string, provider: CaiProviderSettings, env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<string> {
  const { client, projectId } = connectToCml(env, provider);
  if (projectId === undefined) throw new RayfleetError('USAGE', 'no CML project: set provider.projectId in rayfleet.yaml, or CML_PROJECT_ID');
  const path = headDashboardTokenFile(cluster);
  const token = (await client.readTextFile(projectId, path, signal))?.trim();
  if (token === undefined || token === '') {
    throw new RayfleetError('CAI_NOT_FOUND', `no dashboard token in project ${projectId} at ${path}`, {
      details: `The head application of cluster ${cluster} writes it once its dashboard has started: is the cluster up (\`rayfleet status -c ${cluster}\`)?`,
    });
  }
  return token;
}
